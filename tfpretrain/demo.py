"""The main job (`make demo`), offline on a CPU, through the same code paths as the CLI:

    corpus (pydoc_data.topics prose) -> prepare (Beam: clean, PII scrub, dedup, tokenizer, shards + manifest)
    -> pretrain a tiny BERT (MLM + NSP) with the trainer -> fine-tune a classifier on a SYNTHETIC labeled dataset
    with demographic group columns and a planted bias -> export a SavedModel -> TFMA + Fairness Indicators
    evaluation, gate, HTML report, model card -> pretrain a tiny GPT-2 -> generate text -> summary.json

Corpus: the standard library's `pydoc_data.topics` (about 465 KB of English reference prose), so nothing needs the
network. The labeled data is invented (tfpretrain.data.synthetic); it says nothing about real people.
"""

import json
import os
import re
import time
from pathlib import Path

from tfpretrain.data.synthetic import GROUP_COLUMNS, make_examples, write_csv

IN_MEMORY = ["--runner=DirectRunner", "--direct_running_mode=in_memory"]  # a 0.5 MB corpus: no worker processes
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


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


def _prepare(task, pattern, out, vocabulary_size, sequence_length):
    from tfpretrain.data.prepare import prepare
    from tfpretrain.data.prepare_config import load_prepare_config

    config = load_prepare_config(data={
        "task": task,
        "sources": [{"type": "text", "path": pattern, "split_by": "blank_line"}],
        "output": str(out),
        "sequence_length": sequence_length,
        "num_shards": 4,
        "validation_fraction": 0.05,
        "documents_per_bucket": 200,
        "tokenizer": {"vocabulary_size": vocabulary_size},
    })
    return prepare(config, IN_MEMORY)


def _pretrain(task, data_dir, run_dir, steps, sequence_length, learning_rate):
    from tfpretrain.training.experiment import load_experiment
    from tfpretrain.training.trainer import pretrain

    experiment = load_experiment(data={
        "model": {"preset": f"{task}_tiny", "vocabulary_size": "data", "max_sequence_length": sequence_length},
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
    lines = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return lines


def run(out_dir="runs/demo", bert_steps=300, gpt2_steps=300, finetune_steps=150, seed=0, bias=0.6):
    """The whole product on a CPU in a few minutes; returns the summary dict (also OUT/summary.json)."""
    from tfpretrain.evaluation.evaluate import evaluate
    from tfpretrain.models.gpt2.generate_text import generate_text
    from tfpretrain.training.finetune import finetune, load_finetune_experiment

    started = time.time()
    out = Path(out_dir).resolve()
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: remove it or pass --out to a new directory")
    stamp = lambda: f"[demo {time.time() - started:5.0f}s]"  # noqa: E731

    pattern, documents = write_corpus(out / "corpus")
    print(f"{stamp()} corpus: {documents} documents from pydoc_data.topics -> {out / 'corpus'}", flush=True)
    bert_data = _prepare("bert", pattern, out / "data" / "bert", 2000, 128)
    gpt2_data = _prepare("gpt2", pattern, out / "data" / "gpt2", 2000, 128)
    for name, manifest in (("BERT", bert_data), ("GPT-2", gpt2_data)):
        train = manifest["splits"]["train"]
        print(f"{stamp()} prepare {name}: {train['records']} records, {train['tokens']} tokens, "
              f"{manifest['documents']['duplicates']} duplicates, PII {manifest['pii'] or 'none'}", flush=True)

    bert_log = _pretrain("bert", out / "data" / "bert", out / "bert", bert_steps, 128, 1e-3)
    print(f"{stamp()} BERT pretraining loss {bert_log[0]['loss']:.3f} (step {bert_log[0]['step']}) -> "
          f"{bert_log[-1]['loss']:.3f} (step {bert_log[-1]['step']}); "
          f"MLM accuracy {bert_log[0]['mlm_accuracy']:.3f} -> {bert_log[-1]['mlm_accuracy']:.3f}", flush=True)

    labeled = out / "labeled"
    labeled.mkdir()
    write_csv(labeled / "train.csv", make_examples(4000, seed=seed, bias=bias))
    write_csv(labeled / "eval.csv", make_examples(1500, seed=seed + 1, bias=0.0))
    print(f"{stamp()} synthetic labeled data (bias {bias} planted in gender=female of the train split) -> {labeled}")
    experiment = load_finetune_experiment(data={
        "init": str(out / "bert"),
        "train": {"source": str(labeled / "train.csv"), "group_fields": list(GROUP_COLUMNS)},
        "eval": {"source": str(labeled / "eval.csv"), "group_fields": list(GROUP_COLUMNS)},
        "num_classes": 1,
        "sequence_length": 32,
        "trainer": {"strategy": "cpu", "global_batch_size": 32, "train_steps": finetune_steps,
                    "log_every": max(finetune_steps // 3, 1), "validation_every": finetune_steps,
                    "optimizer": {"learning_rate": 1e-3, "warmup_steps": finetune_steps // 10}},
    })
    finetune(experiment, str(out / "classifier"), verbose=2)
    classifier_log = [json.loads(x) for x in (out / "classifier" / "metrics.jsonl").read_text().splitlines()]
    print(f"{stamp()} fine-tuned: loss {classifier_log[0]['loss']:.3f} -> {classifier_log[-1]['loss']:.3f}, "
          f"eval accuracy {classifier_log[-1].get('val_accuracy', float('nan')):.3f}", flush=True)

    rows, gate, paths = evaluate(str(out / "fairness"), model=str(out / "classifier"),
                                 config=str(CONFIGS / "eval" / "demo.yaml"))
    fpr = {r["slice"]: r["value"] for r in rows if r["metric"] == "false_positive_rate" and r["threshold"] == 0.5}
    print(f"{stamp()} fairness: false positive rate at 0.5: "
          + ", ".join(f"{k} {v:.3f}" for k, v in fpr.items() if v is not None), flush=True)
    print(f"{stamp()} {gate.message() if gate else 'no gate configured'}", flush=True)

    gpt2_log = _pretrain("gpt2", out / "data" / "gpt2", out / "gpt2", gpt2_steps, 128, 2e-3)
    print(f"{stamp()} GPT-2 pretraining loss {gpt2_log[0]['loss']:.3f} -> {gpt2_log[-1]['loss']:.3f}", flush=True)
    samples = generate_text(str(out / "gpt2"), ["The import statement", "A class definition"], max_length=48,
                            seed=seed)
    for sample in samples:
        print(f"{stamp()} sample: {sample!r}")

    summary = {
        "wall_seconds": round(time.time() - started, 1),
        "bert": {"first": bert_log[0], "last": bert_log[-1]},
        "gpt2": {"first": gpt2_log[0], "last": gpt2_log[-1], "samples": samples},
        "classifier": {"first": classifier_log[0], "last": classifier_log[-1]},
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
            "metrics table": str(out / "fairness" / "metrics.csv"),
            "gpt2 run": str(out / "gpt2"),
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\n[demo] done in {summary['wall_seconds']:.0f} s; trainer throughput "
          f"BERT {bert_log[-1]['tokens_per_s']:.0f} tokens/s, GPT-2 {gpt2_log[-1]['tokens_per_s']:.0f} tokens/s")
    for name, path in summary["artefacts"].items():
        print(f"  {name}: {os.path.relpath(path)}")
    print(f"  summary: {os.path.relpath(out / 'summary.json')}")
    return summary
