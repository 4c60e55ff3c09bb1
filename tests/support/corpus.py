"""A generated text corpus and a small prepare config, shared by the prepare, trainer, canary, energy, DP and
memorisation tests; and a `prepare` killed with SIGKILL mid-run, then re-run."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import tensorflow as tf

from tests.support import ROOT
from tfpretrain.data.prepare import prepare
from tfpretrain.data.prepare_config import load_prepare_config

IN_MEMORY = ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]  # as prepare's default, in memory
WORDS = (
    "the model reads a long sentence about rivers mountains and old towns where people walk slowly through quiet "
    "streets while children play near the water and traders sell bread fruit and cloth in the busy square"
).split()
EMAILS = ("ada.lovelace@example.org", "grace at example dot com")


def _sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(5, 14))]
    return " ".join(words).capitalize() + "."


def write_corpus(directory, documents=120, duplicates=7, seed=0):
    """Text files of blank-line-separated documents; `duplicates` extra copies (case/space-changed) and 2 e-mails."""
    rng = random.Random(seed)
    docs = [" ".join(_sentence(rng) for _ in range(rng.randint(3, 9))) for _ in range(documents)]
    docs[3] += f" Write to {EMAILS[0]} for details."
    docs[5] += f" Or ask {EMAILS[1]} instead."
    copies = [docs[i].upper().replace(" ", "  ") for i in range(duplicates)]
    all_docs = docs + copies
    directory.mkdir(parents=True, exist_ok=True)
    half = len(all_docs) // 2
    (directory / "a.txt").write_text("\n\n".join(all_docs[:half]) + "\n")
    (directory / "b.txt").write_text("\n\n".join(all_docs[half:]) + "\n")
    return str(directory / "*.txt")


def corpus_config(family, pattern, output, **overrides):
    data = {
        "family": family,
        "sources": [{"type": "text", "path": pattern, "split_by": "blank_line"}],
        "output": str(output),
        "sequence_length": 32,
        "num_shards": 3,
        "validation_fraction": 0.1,
        "documents_per_bucket": 40,
        "tokenizer": {"vocabulary_size": 300},
        **overrides,
    }
    return load_prepare_config(data=data)


def read_records(path, compression=""):
    return [bytes(r.numpy()) for r in tf.data.TFRecordDataset(path, compression_type=compression)]


def shard_bytes(directory):
    return {p.name: p.read_bytes() for p in sorted(Path(directory).glob("*-of-*.tfrecord"))}


def kill_then_rerun(family, pattern, out, wait_for=".work/tokenizer.done", **overrides):
    """Start `prepare` in a subprocess, SIGKILL it once OUT/`wait_for` exists, check it left no manifest, then run
    `prepare` again in this process; returns the manifest of the re-run."""
    out = Path(out)
    script = (
        "from tfpretrain.data.prepare import prepare; from tests.support.corpus import corpus_config, IN_MEMORY;"
        f"prepare(corpus_config({family!r}, {pattern!r}, {str(out)!r}, **{overrides!r}), IN_MEMORY)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (out / wait_for).exists() and proc.poll() is None:
            assert time.monotonic() < deadline, f"prepare never wrote {wait_for}"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert not (out / "manifest.json").exists()
    return prepare(corpus_config(family, pattern, out, **overrides), IN_MEMORY)
