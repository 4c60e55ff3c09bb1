"""Strategy resolution, precision policies, and strategy-exact training in subprocesses."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.training.distribute import describe, get_strategy, set_precision

ROOT = Path(__file__).resolve().parent.parent


def test_cpu_and_auto_resolve_to_the_default_strategy_without_accelerators(monkeypatch):
    for var in ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE"):
        monkeypatch.delenv(var, raising=False)
    assert get_strategy("cpu") is tf.distribute.get_strategy()
    assert get_strategy("auto") is tf.distribute.get_strategy()
    assert describe(get_strategy("cpu"))["num_replicas_in_sync"] == 1


@pytest.mark.parametrize("spec", ["gpu", "mirrored:2", "", "cpu:0"])
def test_unknown_specs_are_rejected(spec):
    with pytest.raises(ValueError, match="unknown strategy spec"):
        get_strategy(spec)


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "needs the TF_CONFIG"),
        ("{not json", "TF_CONFIG is malformed"),
        ('{"cluster": {}}', "TF_CONFIG is malformed"),
    ],
)
def test_multi_worker_needs_a_valid_tf_config(tf_config, message, monkeypatch):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        get_strategy("multi_worker")


def test_set_precision():
    set_precision("mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    with pytest.raises(ValueError, match="unknown precision policy"):
        set_precision("bfloat16")


def _env(**extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_over_two_cpus_matches_the_default_strategy():
    done = subprocess.run(
        [sys.executable, "-m", "tests.distributed_train", "mirrored"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = _last_json(done.stdout)
    assert result["replicas"] == 2
    np.testing.assert_allclose(result["mirrored"], result["default"], rtol=1e-4)
    assert result["max_weight_diff"] < 1e-5


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_multi_worker_processes_on_localhost_train_in_lockstep():
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    try:
        for index in range(2):
            tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.distributed_train", "worker"],
                    cwd=ROOT,
                    env=_env(TF_CONFIG=tf_config),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:  # always reaped, even on timeout or failure
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    first, second = (_last_json(out) for out, _ in outputs)
    assert first["replicas"] == second["replicas"] == 2
    assert len(first["losses"]) == 3 and np.isfinite(first["losses"]).all()
    np.testing.assert_allclose(first["losses"], second["losses"], rtol=1e-6)
