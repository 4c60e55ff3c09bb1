"""A tiny fine-tuning setup for trainer-level tests: a BERT init run (random weights, a WordPiece tokenizer that
knows the synthetic data's words), the synthetic labeled CSVs, and the experiment mapping the tests start from."""

import json
import os
from pathlib import Path

from tests.support import factories
from tfpretrain.data.synthetic import GROUP_COLUMNS, make_examples, write_csv


def tiny_inputs(directory, train_rows=64, eval_rows=40, bias=0.5, seed=0):
    """DIR/init (a pretraining-run-shaped tiny BERT), DIR/train.csv, DIR/eval.csv -> {"init", "train", "eval"}."""
    directory = Path(directory)
    texts = [row["text"] for row in make_examples(400, seed=seed + 100)]
    paths = {"init": directory / "init", "train": directory / "train.csv", "eval": directory / "eval.csv"}
    factories.language_model_run(paths["init"], "bert", texts=texts, seed=seed)
    write_csv(paths["train"], make_examples(train_rows, seed=seed, bias=bias))
    write_csv(paths["eval"], make_examples(eval_rows, seed=seed + 1))
    return {k: str(v) for k, v in paths.items()}


def tiny_experiment(inputs, with_eval=True, **trainer):
    """The fine-tuning experiment mapping over `tiny_inputs`: batch 4, sequence 16, no XLA, no energy tracking."""
    return {
        "init": inputs["init"],
        "train": {"source": inputs["train"]},
        **({"eval": {"source": inputs["eval"], "group_fields": list(GROUP_COLUMNS)}} if with_eval else {}),
        "sequence_length": 16,
        "trainer": {
            "strategy": "cpu",
            "global_batch_size": 4,
            "train_steps": 4,
            "log_every": 2,
            "jit_compile": False,
            "energy": {"enabled": False},
            "optimizer": {"learning_rate": 5e-3},
            **trainer,
        },
    }


def metrics(run_dir):
    """step -> the last line RUN/metrics.jsonl logged for it (a resumed run logs the steps after its checkpoint)."""
    path = os.path.join(run_dir, "metrics.jsonl")
    return {line["step"]: line for line in map(json.loads, Path(path).read_text().splitlines())}
