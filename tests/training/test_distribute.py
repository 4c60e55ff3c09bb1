"""Strategy specs, precision policies, and strategy-exact training (MirroredStrategy over 2 logical CPUs, two
MultiWorkerMirroredStrategy processes on localhost) run in subprocesses: devices and collectives must be configured
before TensorFlow starts, which in this pytest process has already happened."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.support import ROOT
from tests.support.ports import free_ports
from tfpretrain.keras import keras
from tfpretrain.training import distribute
from tfpretrain.training.distribute import describe, get_strategy, set_precision

TIMEOUT_S = 240
RTOL = 1e-4


# -- specs ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def no_tpu(monkeypatch):
    for var in ("TPU_NAME", "COLAB_TPU_ADDR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(distribute.glob, "glob", lambda pattern: [])


def test_auto_without_accelerators_is_the_default_strategy(no_tpu):
    assert distribute._tpu_candidate() is None
    strategy = get_strategy("auto")
    assert strategy is tf.distribute.get_strategy()
    assert describe(strategy) == {
        "kind": "_DefaultDistributionStrategy",
        "num_replicas_in_sync": 1,
        "devices": ["/device:CPU:0"],
    }


def test_cpu_and_mirrored_specs():
    cpu = get_strategy("cpu")
    assert isinstance(cpu, tf.distribute.OneDeviceStrategy)
    assert describe(cpu)["devices"] == ["/job:localhost/replica:0/task:0/device:CPU:0"]
    mirrored = get_strategy("mirrored")  # no GPU here: all logical CPUs, one in this process
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert describe(mirrored)["num_replicas_in_sync"] == len(tf.config.list_logical_devices("CPU"))


@pytest.mark.parametrize("spec", ["gpu", "", "tpu:", "mirrored:2", "cpu:0", "auto:x", "multi_worker:1", None])
def test_unknown_specs_are_rejected_with_the_valid_ones(spec):
    with pytest.raises(ValueError, match=r"unknown strategy spec .*auto, tpu, tpu:NAME, mirrored, multi_worker, cpu"):
        get_strategy(spec)


@pytest.mark.parametrize(
    "env, devices, candidate",
    [
        ({}, [], None),
        ({"TPU_NAME": "my-tpu"}, [], "my-tpu"),
        ({"COLAB_TPU_ADDR": "10.0.0.2:8470"}, [], "grpc://10.0.0.2:8470"),
        ({}, ["/dev/accel0"], "local"),
        ({}, ["/dev/vfio/0"], "local"),
    ],
)
def test_auto_tries_a_tpu_only_when_something_points_at_one(no_tpu, monkeypatch, env, devices, candidate):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(distribute.glob, "glob", lambda pattern: [d for d in devices if d.startswith(pattern[:9])])
    assert distribute._tpu_candidate() == candidate


@pytest.mark.parametrize("spec, name", [("tpu", "local"), ("tpu:my-tpu", "my-tpu"), ("tpu:grpc://h:8470", "grpc://h:8470")])
def test_tpu_spec_names_the_tpu(no_tpu, monkeypatch, spec, name):
    asked = []
    monkeypatch.setattr(distribute, "_tpu_strategy", asked.append)
    get_strategy(spec)
    monkeypatch.setenv("TPU_NAME", "from-env")
    get_strategy("tpu")
    assert asked == [name, "from-env"]


def test_auto_falls_back_when_a_hinted_tpu_is_absent(no_tpu, monkeypatch, caplog):
    def no_tpu_found(name):  # what initialize_tpu_system raises without TPUs (checked for real in the subprocess)
        raise tf.errors.NotFoundError(None, None, "TPUs not found in the cluster")

    monkeypatch.setenv("TPU_NAME", "gone")
    monkeypatch.setattr(distribute, "_tpu_strategy", no_tpu_found)
    assert get_strategy("auto") is tf.distribute.get_strategy()
    assert "no usable TPU at 'gone'" in caplog.text

    def broken(name):  # anything else is a real failure and propagates
        raise tf.errors.PermissionDeniedError(None, None, "no access")

    monkeypatch.setattr(distribute, "_tpu_strategy", broken)
    with pytest.raises(tf.errors.PermissionDeniedError):
        get_strategy("auto")


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "needs the TF_CONFIG environment variable"),
        ("", "needs the TF_CONFIG environment variable"),
        ("{not json", "TF_CONFIG is malformed"),
        ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG is malformed.*KeyError.*task"),
        ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG is malformed.*KeyError.*cluster"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "TF_CONFIG is malformed"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "task index 1 is outside"),
        ('["worker"]', "TF_CONFIG is malformed.*TypeError"),
    ],
)
def test_multi_worker_needs_a_valid_tf_config(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        get_strategy("multi_worker")


def test_multi_worker_after_tensorflow_started_says_so(monkeypatch):
    tf.zeros(1) + 1  # TensorFlow's runtime is started (as by every other test): collectives can no longer be set up
    tf_config = {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    with pytest.raises(RuntimeError, match="must run before any other TensorFlow op"):
        get_strategy("multi_worker")


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_set_precision(policy):
    set_precision(policy)
    assert keras.mixed_precision.global_policy().name == policy


@pytest.mark.parametrize("policy", ["bfloat16", "float16", "mixed", None])
def test_set_precision_rejects_other_policies(policy):
    with pytest.raises(ValueError, match="unknown precision policy .*float32, mixed_bfloat16, mixed_float16"):
        set_precision(policy)
    assert keras.mixed_precision.global_policy().name == "float32"


# -- strategy-exact training in subprocesses -----------------------------------------------------------------------
def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "TPU_NAME", "COLAB_TPU_ADDR")}
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, "PYTHONPATH": pythonpath, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_USE_LEGACY_KERAS": "1", **extra}


def _last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_over_two_cpus_and_one_device_match_the_default_strategy():
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.strategy_equivalence"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = _last_json(done.stdout)
    assert result["no_tpu_error"] in {e.__name__ for e in distribute._NO_TPU_ERRORS}
    # The data has teeth: averaging per-replica means would be off by far more than the tolerance below.
    default = result["default"]
    np.testing.assert_allclose(default[0], result["exact_first_loss"], rtol=1e-6)
    assert abs(result["naive_first_loss"] - result["exact_first_loss"]) > 10 * RTOL * result["exact_first_loss"]
    assert len(set(default)) == 3 and np.isfinite(default).all()  # 3 distinct batches trained
    for spec, kind, replicas in [("cpu", "OneDeviceStrategy", 1), ("mirrored", "MirroredStrategy", 2)]:
        run = result[spec]
        assert (run["kind"], run["num_replicas_in_sync"], len(run["devices"])) == (kind, replicas, replicas)
        np.testing.assert_allclose(run["losses"], default, rtol=RTOL, err_msg=spec)
        assert run["max_weight_diff"] < 1e-5, spec


@pytest.mark.slow
def test_two_multi_worker_processes_on_localhost_train_like_one(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    logs = [(tmp_path / f"worker{i}.out", tmp_path / f"worker{i}.err") for i in range(2)]
    procs = []
    try:
        for index, (out_path, err_path) in enumerate(logs):
            tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
            with open(out_path, "w") as out, open(err_path, "w") as err:  # files, not pipes: nothing can fill up
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "tests.support.multi_worker_train"],
                    cwd=ROOT, env=_env(TF_CONFIG=tf_config), stdout=out, stderr=err,
                ))
        # Wait for all; stop early when one fails (its peer would block in a collective until the deadline).
        deadline = time.monotonic() + TIMEOUT_S
        while any(p.poll() is None for p in procs) and not any(p.returncode for p in procs):
            if time.monotonic() > deadline:
                pytest.fail(f"multi-worker training did not finish within {TIMEOUT_S} s")
            time.sleep(0.2)
    finally:  # always reaped, whatever happened above
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    for index, (p, (_, err_path)) in enumerate(zip(procs, logs)):
        assert p.returncode == 0, f"worker {index} exited with {p.returncode}:\n{err_path.read_text()[-4000:]}"
    first, second = (_last_json(out_path.read_text()) for out_path, _ in logs)
    for result in (first, second):
        assert (result["kind"], result["num_replicas_in_sync"]) == ("MultiWorkerMirroredStrategy", 2)
    assert len(first["losses"]) == 3 and np.isfinite(first["losses"]).all()
    assert first["losses"] == second["losses"]  # one all-reduced global loss, bit for bit
    np.testing.assert_allclose(first["losses"], first["reference"], rtol=RTOL)  # = one process, same global batch
    assert first["max_weight_diff"] < 1e-5
