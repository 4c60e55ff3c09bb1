"""MFU inputs: the analytic training FLOPs against matmul FLOPs counted op by op in the traced model graph, the
peak of every known device kind (as TPU systems and GPUs spell it) against the vendors' published figures, and the
TPU kind read from the TPU system with each lookup mocked (there is no TPU here)."""

import collections
import re
import types

import numpy as np
import pytest

from tests.support import factories
from tfpretrain.training import distribute, flops


def _graph_matmul_flops(model, features):
    """Forward matmul FLOPs (2 per multiply-add) of `model` on `features`, from its traced graph: MatMul,
    BatchMatMul and Einsum ops, with the dimension sizes read from the ops' static input shapes."""
    import tensorflow as tf

    spec = {k: tf.TensorSpec(v.shape, tf.as_dtype(v.dtype)) for k, v in features.items() if k in model.input_names}
    graph = tf.function(lambda f: model(f, training=False)).get_concrete_function(spec).graph
    total, kinds = 0, collections.Counter()
    for op in graph.get_operations():
        shapes = [i.shape.as_list() for i in op.inputs]
        if op.type == "MatMul":
            (m, k), (_, n) = (shapes[0][::-1] if op.get_attr("transpose_a") else shapes[0],
                              shapes[1][::-1] if op.get_attr("transpose_b") else shapes[1])
            total += 2 * m * k * n
        elif op.type in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
            a, b = shapes
            m, k = a[-2:][::-1] if op.get_attr("adj_x") else a[-2:]
            n = b[-2] if op.get_attr("adj_y") else b[-1]
            total += 2 * int(np.prod(a[:-2])) * m * k * n
        elif op.type == "Einsum":
            inputs = op.get_attr("equation").decode().split("->")[0].split(",")
            sizes = {letter: size for spec_, shape in zip(inputs, shapes) for letter, size in zip(spec_, shape)}
            total += 2 * int(np.prod(list(sizes.values())))
        else:
            continue
        kinds[op.type] += 1
    assert kinds, "no matmul in the graph: the counter is blind"
    return total


def _config(family, kwargs):
    return types.SimpleNamespace(family=family, **kwargs)


def test_classifier_flops_equal_the_graph_count(rng):
    from tfpretrain.models.bert.bert_classifier import BertClassifier

    batch, length, classes = 4, 16, 3
    model = BertClassifier(factories.bert_backbone(), num_classes=classes)
    counted = _graph_matmul_flops(model, factories.classifier_features(rng, batch, length, classes))
    analytic = flops.classifier_training_flops_per_step(model.backbone, classes, batch, length)
    assert analytic == 3 * counted


def test_pretraining_flops_equal_the_graph_count(rng):
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    batch, length, predictions = 4, 16, 5
    bert = BertPretrainer(factories.bert_backbone())
    counted = _graph_matmul_flops(bert, factories.bert_pretraining_features(rng, batch, length, predictions))
    config = _config("bert", factories.BERT_KWARGS)
    assert flops.training_flops_per_step(config, batch, length, predictions) == 3 * counted

    gpt2 = GPT2CausalLM(factories.gpt2_backbone())
    counted = _graph_matmul_flops(gpt2, factories.causal_lm_features(rng, batch, length))
    assert flops.training_flops_per_step(_config("gpt2", factories.GPT2_KWARGS), batch, length) == 3 * counted


# Dense bf16 FLOP/s per TensorFlow device from the vendors' datasheets: TPU v2 / v3 chips (45 / 123 TFLOP/s) have
# two cores, each a device; v4 and later are one device per chip; V100 is its fp16 tensor-core peak (no bf16).
PUBLISHED = {
    # TPU runtime device kinds
    "TPU v2": 22.5e12, "TPU v3": 61.5e12, "TPU v4": 275e12, "TPU v5 lite": 197e12, "TPU v5": 459e12,
    "TPU v5p": 459e12, "TPU v6 lite": 918e12,
    # Cloud TPU accelerator types (API, $TPU_ACCELERATOR_TYPE, the TPU VM's metadata) and GKE node labels
    "v2-8": 22.5e12, "v3-32": 61.5e12, "v4-8": 275e12, "v5litepod-16": 197e12, "v5p-128": 459e12, "v6e-8": 918e12,
    "tpu-v4-podslice": 275e12, "tpu-v5-lite-podslice": 197e12, "tpu-v5p-slice": 459e12, "tpu-v6e-slice": 918e12,
    # GPUs as tf.config.experimental.get_device_details names them
    "NVIDIA H100 80GB HBM3": 989e12, "NVIDIA H100 PCIe": 756e12, "NVIDIA H200": 989e12,
    "NVIDIA A100-SXM4-40GB": 312e12, "NVIDIA A100 80GB PCIe": 312e12, "NVIDIA L4": 121e12,
    "Tesla V100-SXM2-16GB": 125e12,
}


@pytest.mark.parametrize("kind", sorted(PUBLISHED))
def test_known_device_kinds_have_their_published_peak(kind):
    assert flops.peak_flops(kind) == PUBLISHED[kind]


@pytest.mark.parametrize("kind", [None, "", "cpu", "NVIDIA L40S", "NVIDIA GH200 480GB", "TPU v9", "v1-8", "AMD"])
def test_unknown_device_kinds_have_no_peak(kind):
    assert flops.peak_flops(kind) is None


@pytest.fixture
def tpu_host(monkeypatch):
    """tf.config as on a TPU VM with 4 TPU devices whose details are empty (as TensorFlow reports them); no network,
    no $TPU_ACCELERATOR_TYPE. Returns the list of metadata paths asked for."""
    import tensorflow as tf

    devices = {"TPU": [types.SimpleNamespace(name=f"/physical_device:TPU:{i}", device_type="TPU") for i in range(4)]}
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: devices.get(kind, []))
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: devices.get(kind, []))
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda device: {})
    monkeypatch.delenv("TPU_ACCELERATOR_TYPE", raising=False)
    asked = []
    monkeypatch.setattr(distribute, "_gce_metadata", lambda path: asked.append(path))
    return asked


def _strategy_with_client(client):
    return types.SimpleNamespace(cluster_resolver=types.SimpleNamespace(_cloud_tpu_client=client))


class _CloudTpuClient:
    def __init__(self, accelerator_type, available=True):
        self._type, self._available = accelerator_type, available

    def api_available(self):
        return self._available

    def accelerator_type(self):
        if isinstance(self._type, Exception):
            raise self._type
        return self._type


def test_tpu_kind_from_the_cloud_tpu_api_of_a_named_tpu(tpu_host):
    assert distribute.device_kind(_strategy_with_client(_CloudTpuClient("v3-8"))) == "v3-8"
    assert flops.peak_flops(distribute.device_kind(_strategy_with_client(_CloudTpuClient("v3-8")))) == 61.5e12
    assert tpu_host == []  # the API answered: no metadata request


def test_tpu_kind_from_the_environment_then_the_tpu_vm_metadata(tpu_host, monkeypatch):
    local = _strategy_with_client(_CloudTpuClient(None, available=False))  # a TPU VM: no Cloud TPU API client
    monkeypatch.setenv("TPU_ACCELERATOR_TYPE", "v5litepod-16")
    assert distribute.device_kind(local) == "v5litepod-16"
    monkeypatch.delenv("TPU_ACCELERATOR_TYPE")
    failing = _strategy_with_client(_CloudTpuClient(ValueError("no access to the TPU API")))
    assert distribute.device_kind(failing) is None
    assert tpu_host == ["instance/attributes/accelerator-type"]
    metadata = {"instance/attributes/accelerator-type": "v4-8"}
    monkeypatch.setattr(distribute, "_gce_metadata", lambda path: metadata[path])
    assert flops.peak_flops(distribute.device_kind(local)) == 275e12


def test_tpu_kind_from_the_device_details_when_tensorflow_has_them(tpu_host, monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda device: {"device_name": "TPU v6 lite"})
    assert distribute.device_kind(None) == "TPU v6 lite" and tpu_host == []


def test_gpu_kind_from_the_device_details_and_none_on_cpus(monkeypatch):
    import tensorflow as tf

    gpu = types.SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: [gpu] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda device: {"device_name": "NVIDIA A100-SXM4-80GB", "compute_capability": (8, 0)})
    assert flops.peak_flops(distribute.device_kind(None)) == 312e12
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: [])
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert distribute.device_kind(None) is None


def test_metadata_lookup_off_google_cloud_is_none(monkeypatch):
    import urllib.request

    def refuse(request, timeout):
        assert re.match(r"http://metadata\.google\.internal/computeMetadata/v1/", request.full_url)
        assert request.get_header("Metadata-flavor") == "Google" and timeout <= 5
        raise OSError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    assert distribute._gce_metadata("instance/attributes/accelerator-type") is None
