"""The main job (`make demo`), offline on a CPU, through the same code paths as the CLI:

    corpus (pydoc_data.topics prose) -> prepare (Beam: clean, PII scrub, language ID + Gopher filters, exact and
    near-dedup, tokenizer, shards + manifest + data card) with canaries (random secrets planted 1, 8 and 32 times:
    exact repeats for BERT, near-duplicate copies for GPT-2) -> pretrain a tiny BERT (MLM + NSP) and a tiny GPT-2
    with the trainer (energy and CO2 tracked), and a second GPT-2 on the same corpus prepared WITHOUT near-dedup
    -> generate text -> bias probes (CrowS-Pairs and StereoSet layouts, the project's sample files) and canary
    exposure audits of the three (near-dedup's effect on memorisation) -> fine-tune a classifier on a SYNTHETIC labeled
    dataset with demographic group columns and a planted bias -> export a SavedModel -> TFMA + Fairness Indicators
    evaluation, gate, integrated-gradients explanations per slice, HTML report and model card carrying probes,
    exposure and energy -> the same fine-tune under DP-SGD, evaluated too (epsilon in its report and card, and what
    it cost in AUC) -> summary.json

Corpus: the standard library's `pydoc_data.topics` (about 465 KB of English reference prose), so nothing needs the
network. The labeled data is invented (tfpretrain.data.synthetic); it says nothing about real people.
"""

import json
import os
import re
import time
from pathlib import Path

from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import setup_logging
from tfpretrain.commands.evaluate import evaluate
from tfpretrain.commands.generate import generate_text
from tfpretrain.config import CONFIGS_DIR, load_yaml
from tfpretrain.data.prepare import prepare
from tfpretrain.data.prepare_config import load_prepare_config
from tfpretrain.data.synthetic import GROUP_COLUMNS, make_examples, write_csv
from tfpretrain.evaluation.memorization import audit
from tfpretrain.evaluation.probes.data import sample_path
from tfpretrain.evaluation.probes.run import headline, run_probe
from tfpretrain.runs import RunDir
from tfpretrain.training.experiment import load_experiment
from tfpretrain.training.finetune import finetune, load_finetune_experiment
from tfpretrain.training.trainer import pretrain

TWIN = "gpt2_without_near_dedup"  # run and data directory names of the second GPT-2
IN_MEMORY = ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]  # a 0.5 MB corpus: no worker processes
CONFIGS = CONFIGS_DIR
CANARIES = {"count": 3, "repetitions": [1, 8, 32]}  # BERT's: exact repeats, planted after deduplication
# GPT-2's: each copy a near-duplicate (a 70-word carrier, one word varied per copy; ~110 tokens with the demo's
# tokenizer, so a copy fits a 128-token window) planted before near-dedup, which collapses each canary's copies to
# one. A second GPT-2, on the same corpus prepared without near-dedup, measures what that does to exposure.
NEAR_CANARIES = {**CANARIES, "near_duplicates": True, "carrier_words": 70}
# DP-SGD for the second fine-tune: sigma 0.6 over 100 steps of 32 from 4,000 examples: a single-digit epsilon.
DP = {"enabled": True, "l2_norm_clip": 1.0, "noise_multiplier": 0.6}
EVAL_EXAMPLES = 1500  # the synthetic eval split; fine-tuning validates on all of it
# Language ID and Gopher's rules on (they keep 78 and 64 of the 78 topics). C4's line rules off: write_corpus joins
# each topic's prose into ONE line, so a line rule decides the whole document: 28 topics end without terminal
# punctuation (a colon, a code reference), 12 more have under 5 sentences, and C4 would keep 35 of 78, 38% of the text.
QUALITY = {"language": {"enabled": True}, "gopher": {"enabled": True}, "c4": {"enabled": False}}


def write_corpus(directory):
    """pydoc_data.topics -> DIR/topics.txt, one blank-line-separated document per topic (code lines dropped)."""
    from pydoc_data.topics import topics

    documents = []
    for text in topics.values():
        prose = [
            line.strip()
            for line in text.splitlines()
            if line and not line.startswith(("   ", "\t", ">>>")) and not re.search(r"[|+=]{2}|^\s*[|+*]", line)
        ]
        if len(prose) >= 3:
            documents.append(" ".join(prose))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "topics.txt").write_text("\n\n".join(documents) + "\n")
    return str(directory / "*.txt"), len(documents)


def _prepare(family, pattern, out, vocabulary_size, sequence_length, canaries=CANARIES, near_dedup=True):
    config = load_prepare_config(data={
        "family": family,
        "sources": [{"type": "text", "path": pattern, "split_by": "blank_line"}],
        "output": str(out),
        "sequence_length": sequence_length,
        "num_shards": 4,
        "validation_fraction": 0.05,
        "documents_per_bucket": 200,
        "tokenizer": {"vocabulary_size": vocabulary_size},
        "canaries": canaries,
        "quality": QUALITY,
        "near_dedup": {"enabled": near_dedup},
    })
    return prepare(config, IN_MEMORY)


def _pretrain(family, data_dir, run_dir, steps, sequence_length, learning_rate):
    experiment = load_experiment(data={
        "model": {"preset": f"{family}_tiny", "vocabulary_size": "data", "max_sequence_length": sequence_length},
        "data": {"train": str(data_dir), "max_predictions_per_seq": 10},
        "trainer": {
            "strategy": "cpu",
            "global_batch_size": 32,
            "train_steps": steps,
            "log_every": max(steps // 6, 1),
            "checkpoint_every": steps,
            "validation_every": steps,
            "validation_steps": 5,
            "optimizer": {"learning_rate": learning_rate, "warmup_steps": steps // 10, "weight_decay": 0.01},
        },
    })
    pretrain(experiment, str(run_dir), verbose=2)
    lines = [json.loads(line) for line in Path(RunDir(run_dir).metrics).read_text().splitlines()]
    return lines


def _probes(out, stamp):
    """Bias probes of both pretrained models on the project's sample files -> {name: output directory}."""
    jobs = {"bert crows_pairs": ("bert", "crows_pairs", "crows_pairs"),
            "bert stereoset": ("bert", "stereoset", "stereoset"),
            "gpt2 crows_pairs": ("gpt2", "crows_pairs", "crows_pairs")}
    done = {}
    for name, (model, probe, data) in jobs.items():
        directory = out / "probes" / name.replace(" ", "_")
        summary = run_probe(str(out / model), probe, sample_path(data), str(directory))
        print(f"{stamp()} probe {name}: " + "; ".join(headline(summary)), flush=True)
        done[name] = str(directory)
    return done


def _audits(out, stamp, runs=("bert", "gpt2")):
    """Canary exposure of pretrained models (OUT/<run>, key OUT/data/<run>/canaries.json) -> {name: directory}."""
    done = {}
    for model in runs:
        directory = out / "audit" / model
        summary = audit(str(out / model), str(out / "data" / model / "canaries.json"), str(directory),
                        candidates=500)
        levels = ", ".join(f"{r['repetitions']}x {r['mean_exposure']:.1f}" for r in summary["by_repetitions"])
        print(f"{stamp()} canary exposure {model} (bits, bound {summary['exposure_bound']:.1f}): {levels}", flush=True)
        done[model] = str(directory)
    return done


def near_dedup_exposure(out, with_near_dedup, without_near_dedup):
    """The measured link between near-dedup and memorisation: for the GPT-2 corpora prepared with and without
    near-dedup (the same near-duplicate canaries planted in both), the canary copies that survived deduplication
    and the mean exposure per repetition level of the model trained on each. -> {"with": ..., "without": ...}."""
    link = {}
    for name, run in (("with", with_near_dedup), ("without", without_near_dedup)):
        manifest = json.loads((out / "data" / run / "manifest.json").read_text())
        exposure = json.loads((out / "audit" / run / "exposure.json").read_text())
        link[name] = {"run": run, "canary_copies_kept": manifest["stages"].get("canary_copies_kept"),
                      "near_duplicates_removed": manifest["stages"]["near_duplicates_removed"],
                      "mean_exposure": {r["repetitions"]: r["mean_exposure"] for r in exposure["by_repetitions"]}}
    return link


def _finetune(run_dir, out, labeled, steps, dp=None, recipe=None):
    """Fine-tune a classifier from the demo's BERT on the synthetic data -> its metrics.jsonl lines. `recipe`: a
    fine-tuning config (e.g. configs/finetune/dp_demo.yaml) whose trainer section replaces the demo's settings."""
    trainer = {"strategy": "cpu", "global_batch_size": 32, "train_steps": steps, "log_every": max(steps // 3, 1),
               "validation_every": steps, "validation_steps": -(-EVAL_EXAMPLES // 32),  # the whole eval split
               "optimizer": {"learning_rate": 1e-3, "warmup_steps": steps // 10}}
    if dp:
        trainer["dp"] = dp
    if recipe:
        trainer = {**trainer, **(load_yaml(recipe).get("trainer") or {})}
        trainer.update(validation_every=trainer["train_steps"],  # the whole eval split at the end
                       validation_steps=-(-EVAL_EXAMPLES // trainer["global_batch_size"]))
    experiment = load_finetune_experiment(data={
        "init": str(out / "bert"),
        "train": {"source": str(labeled / "train.csv"), "group_fields": list(GROUP_COLUMNS)},
        "eval": {"source": str(labeled / "eval.csv"), "group_fields": list(GROUP_COLUMNS)},
        "num_classes": 1,
        "sequence_length": 32,
        "trainer": trainer,
    })
    finetune(experiment, str(run_dir), verbose=2)
    return [json.loads(x) for x in Path(RunDir(run_dir).metrics).read_text().splitlines()]


def run_demo(out_dir="runs/demo", bert_steps=300, gpt2_steps=300, finetune_steps=150, seed=0, bias=0.7,
             dp_recipe=None):
    """The whole product on a CPU in a few minutes; returns the summary dict (also OUT/summary.json). `dp_recipe`:
    a fine-tuning config whose trainer section (with its trainer.dp) the DP fine-tune uses instead of DP below."""
    started = time.time()
    out = Path(out_dir).resolve()
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: remove it or pass --out to a new directory")
    stamp = lambda: f"[demo {time.time() - started:5.0f}s]"  # noqa: E731

    pattern, documents = write_corpus(out / "corpus")
    print(f"{stamp()} corpus: {documents} documents from pydoc_data.topics -> {out / 'corpus'}", flush=True)
    bert_data = _prepare("bert", pattern, out / "data" / "bert", 2000, 128)
    gpt2_data = _prepare("gpt2", pattern, out / "data" / "gpt2", 2000, 128, canaries=NEAR_CANARIES)
    twin_data = _prepare("gpt2", pattern, out / "data" / TWIN, 2000, 128, canaries=NEAR_CANARIES, near_dedup=False)
    for name, manifest, family in (("BERT", bert_data, "bert"), ("GPT-2", gpt2_data, "gpt2"),
                                   ("GPT-2 without near-dedup", twin_data, TWIN)):
        train, stages = manifest["splits"]["train"], manifest["stages"]
        print(f"{stamp()} prepare {name}: {train['records']} records, {train['tokens']} tokens, "
              f"{stages['exact_duplicates']} exact and {stages['near_duplicates_removed']} near duplicates removed, "
              f"{stages['filters']} filtered, PII {manifest['pii'] or 'none'}"
              + (f", {stages['canary_copies_kept']} near-duplicate canary copies kept"
                 if "canary_copies_kept" in stages else "")
              + f"; data card {out / 'data' / family / 'data_card.md'}", flush=True)

    bert_log = _pretrain("bert", out / "data" / "bert", out / "bert", bert_steps, 128, 1e-3)
    print(f"{stamp()} BERT pretraining loss {bert_log[0]['loss']:.3f} (step {bert_log[0]['step']}) -> "
          f"{bert_log[-1]['loss']:.3f} (step {bert_log[-1]['step']}); "
          f"MLM accuracy {bert_log[0]['mlm_accuracy']:.3f} -> {bert_log[-1]['mlm_accuracy']:.3f}", flush=True)

    gpt2_log = _pretrain("gpt2", out / "data" / "gpt2", out / "gpt2", gpt2_steps, 128, 2e-3)
    print(f"{stamp()} GPT-2 pretraining loss {gpt2_log[0]['loss']:.3f} -> {gpt2_log[-1]['loss']:.3f}", flush=True)
    twin_log = _pretrain("gpt2", out / "data" / TWIN, out / TWIN, gpt2_steps, 128, 2e-3)
    print(f"{stamp()} GPT-2 without near-dedup: loss {twin_log[0]['loss']:.3f} -> {twin_log[-1]['loss']:.3f}",
          flush=True)
    samples = generate_text(str(out / "gpt2"), ["The import statement", "A class definition"], max_length=48,
                            seed=seed)
    for sample in samples:
        print(f"{stamp()} sample: {sample!r}")

    probes = _probes(out, stamp)
    audits = _audits(out, stamp, ("bert", "gpt2", TWIN))
    link = near_dedup_exposure(out, "gpt2", TWIN)
    print(f"{stamp()} near-duplicate canaries, mean exposure by copies planted (bits): "
          + "; ".join(f"{name} near-dedup ({v['canary_copies_kept']} copies kept) "
                      + ", ".join(f"{k}x {e:.1f}" for k, e in v["mean_exposure"].items())
                      for name, v in link.items()), flush=True)

    labeled = out / "labeled"
    labeled.mkdir()
    write_csv(labeled / "train.csv", make_examples(4000, seed=seed, bias=bias))
    write_csv(labeled / "eval.csv", make_examples(EVAL_EXAMPLES, seed=seed + 1, bias=0.0))
    print(f"{stamp()} synthetic labeled data (bias {bias} planted in gender=female of the train split) -> {labeled}")
    classifier_log = _finetune(out / "classifier", out, labeled, finetune_steps)
    print(f"{stamp()} fine-tuned: loss {classifier_log[0]['loss']:.3f} -> {classifier_log[-1]['loss']:.3f}, "
          f"eval accuracy {classifier_log[-1].get('val_accuracy', float('nan')):.3f}", flush=True)
    rows, gate, paths = evaluate(str(out / "fairness"), model=str(out / "classifier"),
                                 config=str(CONFIGS / "eval" / "demo.yaml"), probes=list(probes.values()),
                                 audits=list(audits.values()), explain=2, seed=seed)
    fpr = {r["slice"]: r["value"] for r in rows if r["metric"] == "false_positive_rate" and r["threshold"] == 0.5}
    print(f"{stamp()} fairness: false positive rate at 0.5: "
          + ", ".join(f"{k} {v:.3f}" for k, v in fpr.items() if v is not None), flush=True)
    print(f"{stamp()} {gate.message() if gate else 'no gate configured'}", flush=True)

    # The same fine-tune under DP-SGD: what the privacy guarantee costs in accuracy, in its own report and card.
    dp_steps = max(finetune_steps * 2 // 3, 1)
    dp_log = _finetune(out / "classifier_dp", out, labeled, dp_steps, dp=DP, recipe=dp_recipe)
    privacy = RunDir(out / "classifier_dp").read_json(RunDir.PRIVACY)
    dp_steps = privacy["steps"]
    dp_rows, _, dp_paths = evaluate(str(out / "fairness_dp"), model=str(out / "classifier_dp"),
                                    config=str(CONFIGS / "eval" / "demo.yaml"), confidence=None)
    overall = lambda table, metric: next(  # noqa: E731
        (r["value"] for r in table if r["metric"] == metric and r["slice"] == "overall" and r["value"] is not None),
        float("nan"))
    auc = {"classifier": overall(rows, "auc"), "classifier_dp": overall(dp_rows, "auc")}
    print(f"{stamp()} DP-SGD fine-tune ({dp_steps} steps, {privacy['sampling']} sampling, noise "
          f"{privacy['noise_multiplier']:.3g}, clip {privacy['l2_norm_clip']:g}): "
          f"epsilon {privacy['epsilon']:.2f} at delta {privacy['delta']:.2g}; AUC {auc['classifier_dp']:.3f}, "
          f"accuracy {overall(dp_rows, 'binary_accuracy'):.3f} (without DP: AUC {auc['classifier']:.3f}, accuracy "
          f"{overall(rows, 'binary_accuracy'):.3f})", flush=True)
    energy = {name: RunDir(out / name).read_json(RunDir.ENERGY)
              for name in ("bert", "gpt2", TWIN, "classifier", "classifier_dp")}
    print(f"{stamp()} energy: " + ", ".join(f"{k} {v.get('energy_kwh', float('nan')):.2g} kWh / "
                                             f"{v.get('co2_kg', float('nan')):.2g} kg CO2eq"
                                             for k, v in energy.items()), flush=True)

    summary = {
        "wall_seconds": round(time.time() - started, 1),
        "bert": {"first": bert_log[0], "last": bert_log[-1]},
        "gpt2": {"first": gpt2_log[0], "last": gpt2_log[-1], "samples": samples},
        TWIN: {"first": twin_log[0], "last": twin_log[-1]},
        "classifier": {"first": classifier_log[0], "last": classifier_log[-1], "auc": auc["classifier"]},
        "classifier_dp": {"first": dp_log[0], "last": dp_log[-1], "auc": auc["classifier_dp"], "privacy": privacy},
        "bias_probes": {name: json.loads((Path(d) / "probe_summary.json").read_text()).get("overall")
                        for name, d in probes.items()},
        "canary_exposure": {name: json.loads((Path(d) / "exposure.json").read_text()).get("by_repetitions")
                            for name, d in audits.items()},
        "near_dedup_and_exposure": link,
        "energy": energy,
        "fairness": {"false_positive_rate@0.5": fpr, "gate_passed": None if gate is None else gate.passed,
                     "gate": gate.message() if gate else None},
        "artefacts": {
            "corpus": str(out / "corpus"),
            "bert shards + manifest": str(out / "data" / "bert"),
            "gpt2 shards + manifest": str(out / "data" / "gpt2"),
            "bert run (checkpoints, metrics.jsonl, tensorboard, final/)": str(out / "bert"),
            "classifier run (export/ SavedModel, final/, eval.tfrecord)": str(out / "classifier"),
            "fairness report (open in a browser)": paths["report"],
            "model card": paths["model_card"],
            "DP classifier run (privacy.json)": str(out / "classifier_dp"),
            "DP classifier report and model card": dp_paths["report"],
            "metrics table": str(out / "fairness" / "metrics.csv"),
            "gpt2 run": str(out / "gpt2"),
            "gpt2 run on the corpus without near-dedup": str(out / TWIN),
            **{f"probe {name}": d for name, d in probes.items()},
            **{f"audit {name}": d for name, d in audits.items()},
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\n[demo] done in {summary['wall_seconds']:.0f} s; trainer throughput "
          f"BERT {bert_log[-1]['tokens_per_s']:.0f} tokens/s, GPT-2 {gpt2_log[-1]['tokens_per_s']:.0f} tokens/s")
    for name, path in summary["artefacts"].items():
        print(f"  {name}: {os.path.relpath(path)}")
    print(f"  summary: {os.path.relpath(out / 'summary.json')}")
    return summary


def add_arguments(parser):
    parser.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    parser.add_argument("--bert-steps", type=int, default=300, help="BERT pretraining steps (default: 300)")
    parser.add_argument("--gpt2-steps", type=int, default=300, help="GPT-2 pretraining steps (default: 300)")
    parser.add_argument("--finetune-steps", type=int, default=150, help="classifier fine-tuning steps (default: 150)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dp-recipe", default=None,
                        help="a fine-tuning config (e.g. configs/finetune/dp_demo.yaml) whose trainer section the DP "
                             "fine-tune uses (default: noise 0.6, clip 1, 100 steps of 32)")


def run(args):
    setup_logging(quiet_libraries=True)
    with removed_on_bad_input(args.out):
        run_demo(out_dir=args.out, bert_steps=args.bert_steps, gpt2_steps=args.gpt2_steps,
                 finetune_steps=args.finetune_steps, seed=args.seed, dp_recipe=args.dp_recipe)
    return 0
