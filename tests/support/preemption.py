"""Training in a subprocess, interrupted as a scheduler would (SIGTERM) or as a crash does (SIGKILL), and the
checkpoints it leaves: shared by the pretraining and fine-tuning preemption tests."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import tensorflow as tf

from tests.support import ROOT

ENV = {"PYTHONPATH": str(ROOT), "TF_DETERMINISTIC_OPS": "1", "CUDA_VISIBLE_DEVICES": ""}


def start_cli(argv, log_path):
    """`python -m tfpretrain.cli ARGV` with stderr to `log_path` (a file: no pipe can fill up and block it)."""
    with open(log_path, "a") as err:
        return subprocess.Popen([sys.executable, "-m", "tfpretrain.cli", *map(str, argv)], cwd=ROOT,
                                env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=err, text=True)


def finish(proc, log_path, timeout=600):
    """Wait for `proc`; -> its stdout. Fails with the end of its log when it exits non-zero."""
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, Path(log_path).read_text()[-4000:]
    return out


def logged_steps(run_dir):
    """step -> the last RUN/metrics.jsonl line for it ({} before the first line)."""
    path = Path(run_dir) / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return {line["step"]: line for line in map(json.loads, lines)}


def interrupt_at(proc, run_dir, step, signum, log_path, timeout=600):
    """Send `signum` once RUN/metrics.jsonl has logged `step` (the process is then inside `fit`)."""
    deadline = time.monotonic() + timeout
    while max(logged_steps(run_dir), default=0) < step:
        assert proc.poll() is None, Path(log_path).read_text()[-4000:]
        assert time.monotonic() < deadline, f"training never reached step {step}"
        time.sleep(0.05)
    proc.send_signal(signum)


def checkpoint_steps(checkpoint_dir):
    """The optimizer step stored in each checkpoint CheckpointManager still lists, oldest first (each checked to be
    the step its file is named for)."""
    state = tf.train.get_checkpoint_state(str(checkpoint_dir))
    steps = []
    for path in state.all_model_checkpoint_paths if state else []:
        stored = int(tf.train.load_checkpoint(path).get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))
        assert path.endswith(f"ckpt-{stored}"), (path, stored)
        steps.append(stored)
    return steps
