"""Strategy resolution (`auto`, `tpu[:NAME]`, `mirrored`, `multi_worker`, `cpu`) and precision policies.

Works on TF 2.20 (tensorflow-tpu's last release) and 2.21: only long-stable tf.distribute APIs are used.
"""

import json
import logging
import os

import tensorflow as tf

from tfpretrain.keras import keras

log = logging.getLogger(__name__)
SPECS = ("auto", "tpu", "tpu:NAME", "mirrored", "multi_worker", "cpu")
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def _tpu_hint():
    """Only ask a TPU resolver when something says a TPU may exist: on other machines the resolver can wait on
    metadata-server timeouts. TPU VMs expose /dev/accel* or /dev/vfio; Colab and pods set these variables."""
    return any(os.environ.get(v) for v in ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")) or any(
        os.path.exists(p) for p in ("/dev/accel0", "/dev/vfio/0")
    )


def _tpu_strategy(name):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
    if name not in ("", "local"):
        tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _multi_worker_strategy():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment variable (cluster + task)")
    try:
        config = json.loads(raw)
        config["cluster"]["worker"], config["task"]["type"], config["task"]["index"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"TF_CONFIG is malformed ({e!r}); expected "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
        ) from e
    return tf.distribute.MultiWorkerMirroredStrategy()


def get_strategy(spec="auto"):
    """Resolve a strategy spec string; see SPECS. `auto`: TPU if found, else all GPUs, else the default (CPU)."""
    kind, _, name = str(spec).partition(":")
    if kind == "tpu":
        return _tpu_strategy(name or "local")
    if kind == "mirrored" and not name:
        return tf.distribute.MirroredStrategy()
    if kind == "multi_worker" and not name:
        return _multi_worker_strategy()
    if kind == "cpu" and not name:
        return tf.distribute.get_strategy()
    if kind == "auto" and not name:
        if _tpu_hint():
            try:
                return _tpu_strategy(os.environ.get("TPU_NAME", "local"))
            except (ValueError, tf.errors.NotFoundError, tf.errors.UnavailableError) as e:
                log.warning("a TPU was hinted but could not be initialised (%s); falling back", e)
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    raise ValueError(f"unknown strategy spec {spec!r}; expected one of {SPECS}")


def set_precision(policy):
    """Set the global Keras policy. Logits and losses stay float32 in our models under every policy."""
    if policy not in POLICIES:
        raise ValueError(f"unknown precision policy {policy!r}; expected one of {POLICIES}")
    keras.mixed_precision.set_global_policy(policy)


def describe(strategy):
    try:
        devices = list(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy has no device list: it runs where TensorFlow places ops
        devices = [d.name for d in tf.config.list_logical_devices()[:1]]
    return {
        "kind": type(strategy).__name__,
        "num_replicas_in_sync": strategy.num_replicas_in_sync,
        "devices": list(devices),
    }
