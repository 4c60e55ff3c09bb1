"""Fine-tune the real MiniLM checkpoint on the synthetic group-labeled data through the CLI, evaluate it with
TFMA (the run directory is all `evaluate` needs), export it; GPT-2 generate through the CLI."""

import csv
import json
import re

import pytest

from tests.support import ROOT
from tfpretrain import cli
from tfpretrain.data.synthetic import GROUP_COLUMNS, make_examples, write_csv


def test_synthetic_data_plants_the_bias_only_in_train():
    train = make_examples(4000, seed=0, bias=0.5)
    clean = make_examples(4000, seed=0, bias=0.0)
    rate = lambda rows, g: sum(r["label"] for r in rows if r["gender"] == g) / sum(r["gender"] == g for r in rows)
    assert rate(train, "female") - rate(clean, "female") > 0.2  # about half of the label-0 half flipped
    assert rate(train, "male") == rate(clean, "male")
    assert {r["religion"] for r in clean} == {"christian", "muslim", "jewish", "none"}


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory, minilm):
    base = tmp_path_factory.mktemp("finetune")
    write_csv(base / "train.csv", make_examples(400, seed=0, bias=0.8))
    write_csv(base / "eval.csv", make_examples(240, seed=1))
    config = base / "finetune.yaml"
    config.write_text(json.dumps({
        "init": minilm,
        "train": {"source": str(base / "train.csv"), "group_fields": list(GROUP_COLUMNS)},
        "eval": {"source": str(base / "eval.csv"), "group_fields": list(GROUP_COLUMNS)},
        "sequence_length": 24,
        "trainer": {"strategy": "cpu", "global_batch_size": 16, "train_steps": 12, "log_every": 6,
                    "jit_compile": False, "optimizer": {"learning_rate": 5e-4}},
    }))
    run = base / "run"
    cli.main(["finetune", "--config", str(config), "--out", str(run), "--verbose", "0"])
    return run


def test_finetune_writes_export_hf_and_group_eval_data(classifier_run):
    import tensorflow as tf

    for path in ("export/saved_model.pb", "final/config.json", "eval.tfrecord", "finetune.yaml"):
        assert (classifier_run / path).exists(), path
    assert (classifier_run / "final" / "tokenizer.json").exists() or (classifier_run / "final" / "vocab.txt").exists()
    lines = [json.loads(x) for x in (classifier_run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [6, 12] and lines[-1]["loss"] < lines[0]["loss"] * 1.5
    record = next(iter(tf.data.TFRecordDataset(str(classifier_run / "eval.tfrecord"))))
    features = tf.train.Example.FromString(record.numpy()).features.feature
    assert {"token_ids", "label", "text", "gender", "religion"} <= set(features)


@pytest.fixture(scope="module")
def evaluation(classifier_run, tmp_path_factory):
    """`tfpretrain evaluate` on the run once (a TFMA run is ~15 s), joined by a bias probe and a canary audit of a
    tiny BERT LM and integrated-gradients explanations -> (OUT, printed output, exit code or None)."""
    import contextlib
    import io

    from tests.support import factories
    from tfpretrain.evaluation.memorization import audit
    from tfpretrain.evaluation.probes.data import sample_path
    from tfpretrain.evaluation.probes.run import run_probe

    base = tmp_path_factory.mktemp("evaluate")
    with open(sample_path("crows_pairs")) as f:  # a vocabulary that covers the probe: rows fit in 32 tokens
        texts = [line for line in f] * 2 + factories.SAMPLE_TEXTS
    lm = factories.language_model_run(base / "lm", "bert", texts=texts, vocabulary_size=1000)
    run_probe(lm, "crows_pairs", sample_path("crows_pairs"), base / "probe", tfma=False)
    key = {"format": "tfpretrain.canaries/1", "task": "bert", "template": "my secret code is {secret}",
           "alphabet": "0123456789", "length": 4, "seed": 0, "space_size": 10_000,
           "canaries": [{"id": f"c{i}", "secret": s, "repetitions": r}
                        for i, (s, r) in enumerate([("1234", 1), ("5678", 8)])]}
    (base / "canaries.json").write_text(json.dumps(key))
    audit(lm, base / "canaries.json", base / "audit", candidates=30)

    out = base / "fairness"
    config = str(ROOT / "configs" / "eval" / "demo.yaml")  # categorical columns
    argv = ["evaluate", "--model", str(classifier_run), "--config", config, "--slices", "gender,religion",
            "--confidence", "none", "--min-slice-size", "5", "--out", str(out), "--direct_running_mode=in_memory",
            "--probes", str(base / "probe"), "--audit", str(base / "audit"), "--explain", "1",
            "--explain-steps", "8"]
    printed, code = io.StringIO(), None
    with contextlib.redirect_stdout(printed):
        try:
            cli.main(argv)
        except SystemExit as e:
            code = e.code
    return out, printed.getvalue(), code


def test_evaluate_cli_on_the_run_writes_tables_report_and_card(evaluation):
    out, printed, code = evaluation
    # the gate may fail (1) or check nothing (3) on a 12-step model; the exit code says so
    assert code is None or (code in (1, 3) and "fairness gate" in printed), (code, printed)
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    counts = {r["slice"]: int(float(r["value"])) for r in rows if r["metric"] == "example_count"}
    eval_rows = make_examples(240, seed=1)
    assert counts["overall"] == 240
    assert counts["gender=female"] == sum(r["gender"] == "female" for r in eval_rows)
    assert counts["religion=muslim"] == sum(r["religion"] == "muslim" for r in eval_rows)
    assert (out / "report.html").read_text().count("false_positive_rate") > 0
    card = (out / "model_card.md").read_text()
    assert "Quantitative analyses" in card and "OneDeviceStrategy" in card  # hardware from RUN/run_info.json
    html = (out / "model_card.html").read_text()
    head = html.split("<body")[0]
    assert "<table" in html and "http://" not in head and "https://" not in head  # no external resources


def test_export_cli_reexports_the_classifier(classifier_run, tmp_path):
    cli.main(["export", "--run", str(classifier_run), "--out", str(tmp_path / "x")])
    assert (tmp_path / "x" / "savedmodel" / "saved_model.pb").exists()
    assert (tmp_path / "x" / "hf" / "model.safetensors").exists()


def test_evaluate_joins_probes_audit_explanations_privacy_and_energy(evaluation):
    out, _, code = evaluation
    assert code in (None, 1, 3)
    report = (out / "report.html").read_text()
    for heading in ("Bias probes", "Memorisation", "Explanations", "Privacy (differential privacy)",
                    "Energy and emissions"):
        assert heading in report, heading
    card = json.loads((out / "model_card.json").read_text())["ethical_considerations"]
    assert "CrowS-Pairs (bert)" in card["bias_probes"]
    assert any("exposure" in str(v) for v in card["memorization"].values())
    assert card["privacy"] == {"fine-tuning (run)": "trained without differential privacy (no formal guarantee)"}
    assert "kWh" in card["energy"]["fine-tuning (run)"]  # the fine-tune tracked its energy by default
    explained = json.loads((out / "explanations.json").read_text())
    assert {r["slice"] for r in explained} >= {"overall", "gender=female", "gender=male"}
    # Canary secrets never leave the key: neither secret as a number of its own in the card or the page's text.
    # (Tags go first: an SVG coordinate such as x="26050376241234" is not a leak; neither is a decimal's tail.)
    text = re.sub(r"<[^>]*>", " ", (out / "model_card.md").read_text() + report)
    assert not re.search(r"(?<![\d.])(1234|5678)(?!\d)", text)
