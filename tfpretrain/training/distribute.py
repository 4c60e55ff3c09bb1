"""Strategy resolution and precision policies: one spec string picks where training runs.

    auto           TPU if one is found, else MirroredStrategy over all visible GPUs, else the default strategy
    tpu[:NAME]     TPUStrategy; NAME is a Cloud TPU name or grpc:// address, default $TPU_NAME or "local" (TPU VM)
    mirrored       MirroredStrategy over all visible GPUs, else over all logical CPU devices
    multi_worker   MultiWorkerMirroredStrategy; the cluster and this process's task come from $TF_CONFIG
    cpu            OneDeviceStrategy on /cpu:0 (stays on the CPU even when GPUs are visible)

Models must be built and compiled inside `strategy.scope()`. Our Task losses divide by all-reduced global
denominators, so every strategy trains the same global batch to the same result (tests/training/test_distribute.py).
Only long-stable tf.distribute APIs are used, so this also runs on TF 2.20 (tensorflow-tpu's last release).
"""

import glob
import json
import logging
import os
import urllib.error
import urllib.request

import tensorflow as tf

from tfpretrain.keras import keras

log = logging.getLogger(__name__)

SPECS = ("auto", "tpu", "tpu:NAME", "mirrored", "multi_worker", "cpu")
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")

# What `auto` treats as "no TPU here": ValueError (the resolver has no TPU name to resolve) and NotFoundError
# (initialize_tpu_system found no TPU devices). Anything else (a TPU that is not ready, no access, an unreachable
# metadata server for a named TPU) is a real failure and propagates.
_NO_TPU_ERRORS = (ValueError, tf.errors.NotFoundError)


def _tpu_candidate():
    """The TPU `auto` should try, or None when nothing on this machine points at one.

    Asking a resolver blindly is slow off Google Cloud: an unnamed TPU is looked up through the GCE metadata server,
    which waits on network timeouts. So `auto` only tries when a TPU is named ($TPU_NAME, $COLAB_TPU_ADDR) or a
    TPU VM's chips are visible (/dev/accel* on v2-v4, /dev/vfio/<n> on v5e and later).
    """
    if os.environ.get("TPU_NAME"):
        return os.environ["TPU_NAME"]
    if os.environ.get("COLAB_TPU_ADDR"):
        return "grpc://" + os.environ["COLAB_TPU_ADDR"]
    if glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*"):
        return "local"
    return None


def _tpu_strategy(name):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
    tf.config.experimental_connect_to_cluster(resolver)  # a no-op for "local"
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _mirrored_strategy():
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def _check_tf_config():
    example = '{"cluster": {"worker": ["host0:port", "host1:port"]}, "task": {"type": "worker", "index": 0}}'
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError(f"strategy 'multi_worker' needs the TF_CONFIG environment variable, e.g. {example}")
    try:
        config = json.loads(raw)
        task_type, index = config["task"]["type"], int(config["task"]["index"])
        if not 0 <= index < len(config["cluster"][task_type]):
            raise IndexError(f"task index {index} is outside cluster[{task_type!r}]")
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"TF_CONFIG is malformed ({type(e).__name__}: {e}); expected e.g. {example}") from e


def _multi_worker_strategy():
    _check_tf_config()
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as e:  # TensorFlow configures collectives only before its runtime starts
        if "program startup" not in str(e):
            raise
        raise RuntimeError(
            "get_strategy('multi_worker') must run before any other TensorFlow op in this process (first thing in main)"
        ) from e


def _auto_strategy():
    candidate = _tpu_candidate()
    if candidate is not None:
        try:
            return _tpu_strategy(candidate)
        except _NO_TPU_ERRORS as e:
            log.warning("no usable TPU at %r (%s); falling back to GPUs/CPU", candidate, e)
    if tf.config.list_logical_devices("GPU"):
        return _mirrored_strategy()
    return tf.distribute.get_strategy()


_BUILDERS = {
    "auto": _auto_strategy,
    "mirrored": _mirrored_strategy,
    "multi_worker": _multi_worker_strategy,
    "cpu": lambda: tf.distribute.OneDeviceStrategy("/cpu:0"),
}


def get_strategy(spec="auto"):
    """Return the tf.distribute.Strategy for `spec` (see the module docstring); ValueError for unknown specs."""
    kind, colon, name = str(spec).partition(":")
    if kind == "tpu" and (name or not colon):
        return _tpu_strategy(name or os.environ.get("TPU_NAME") or "local")
    if kind in _BUILDERS and not colon:
        return _BUILDERS[kind]()
    raise ValueError(f"unknown strategy spec {spec!r}; expected one of {', '.join(SPECS)}")


def set_precision(policy):
    """Set the global Keras dtype policy. Our models keep logits and losses in float32 under every policy."""
    if policy not in POLICIES:
        raise ValueError(f"unknown precision policy {policy!r}; expected one of {', '.join(POLICIES)}")
    keras.mixed_precision.set_global_policy(policy)


def _tpu_accelerator_type(strategy):
    """What the TPU system says it is: the device's own description, else the Cloud TPU API behind a named TPU
    (acceleratorType, e.g. "v3-8"), else $TPU_ACCELERATOR_TYPE (GKE), else the TPU VM's metadata server
    (instance/attributes/accelerator-type, e.g. "v4-8"): TensorFlow's device details are empty on TPUs."""
    for device in tf.config.list_physical_devices("TPU"):
        name = tf.config.experimental.get_device_details(device).get("device_name")
        if name:
            return name
    client = getattr(getattr(strategy, "cluster_resolver", None), "_cloud_tpu_client", None)
    if client is not None and hasattr(client, "accelerator_type") and client.api_available():
        try:
            return client.accelerator_type()
        except (ValueError, RuntimeError) as e:  # no API access from here: try the next source
            log.info("Cloud TPU API gave no accelerator type (%s)", e)
    if os.environ.get("TPU_ACCELERATOR_TYPE"):
        return os.environ["TPU_ACCELERATOR_TYPE"]
    return _gce_metadata("instance/attributes/accelerator-type")


def _gce_metadata(path, timeout=2.0):
    """A GCE metadata value, or None off Google Cloud (asked only when TPU devices exist)."""
    request = urllib.request.Request(f"http://metadata.google.internal/computeMetadata/v1/{path}",
                                     headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode().strip() or None
    except (urllib.error.URLError, OSError) as e:
        log.info("no GCE metadata %s (%s)", path, e)
        return None


def device_kind(strategy=None):
    """The accelerator this process trains on, as its system names it ("TPU v4", "v5litepod-16", "NVIDIA H100 80GB
    HBM3"; training/flops.py maps it to a peak), or None on CPUs and when nothing says."""
    if tf.config.list_logical_devices("TPU"):
        return _tpu_accelerator_type(strategy)
    for device in tf.config.list_physical_devices("GPU")[:1]:
        return tf.config.experimental.get_device_details(device).get("device_name")
    return None


def describe(strategy):
    """A short, JSON-able summary for logs: {"kind", "num_replicas_in_sync", "devices"} (this worker's devices)."""
    kinds = ("TPUStrategy", "MultiWorkerMirroredStrategy", "MirroredStrategy", "OneDeviceStrategy")
    kind = next((k for k in kinds if isinstance(strategy, getattr(tf.distribute, k))), type(strategy).__name__)
    try:
        devices = list(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy has no device list: ops go to the first GPU, else the CPU
        devices = [d.name for d in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")][:1]
    return {"kind": kind, "num_replicas_in_sync": strategy.num_replicas_in_sync, "devices": devices}
