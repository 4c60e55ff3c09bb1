"""Analytic training FLOPs per step and accelerator peaks, for the MFU estimate in TensorBoard and model cards.

Counts matmul FLOPs only (2 per multiply-add), forward x 3 for forward + backward, as in PaLM's MFU definition:
QKV, attention output and FFN projections, attention scores and context (full S x S), and the heads: each
pretraining task class counts its own (`head_flops`: BERT's MLM transform and vocabulary projection at the masked
positions only, GPT-2's projection at every position).
"""

import re

from tfpretrain.models import families

# Dense bf16 peak FLOP/s per device, as TensorFlow counts devices: one per chip for TPU v4 and later (megacore),
# one per core for v2/v3 (two cores a chip: half the chip's peak). Keys are canonical kinds (see device_kind_name).
PEAK_FLOPS = {
    "TPU v2": 22.5e12,
    "TPU v3": 61.5e12,
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5p": 459e12,
    "TPU v6 lite": 918e12,
    "H100": 989e12,
    "H100 PCIe": 756e12,
    "H200": 989e12,
    "A100": 312e12,
    "L4": 121e12,
    "V100": 125e12,
}


def _encoder_forward_flops(model_config, global_batch_size, sequence_length):
    """Forward matmul FLOPs of the transformer layers over every position of the global batch."""
    h, i, s = model_config.hidden_dim, model_config.intermediate_dim, sequence_length
    per_token_layer = 2 * (3 * h * h + h * h + 2 * h * i) + 2 * 2 * s * h
    return global_batch_size * s * model_config.num_layers * per_token_layer


def training_flops_per_step(model_config, global_batch_size, sequence_length, masked_positions=None):
    """Forward + backward matmul FLOPs of one optimizer step over the global batch (masked_positions: BERT's
    max_predictions_per_seq; a causal LM predicts at every position and ignores it)."""
    task = families.get(model_config.family).pretraining_task_class
    forward = _encoder_forward_flops(model_config, global_batch_size, sequence_length)
    forward += task.head_flops(model_config, global_batch_size, sequence_length, masked_positions)
    return 3 * forward


def classifier_training_flops_per_step(model_config, num_classes, global_batch_size, sequence_length):
    """BertClassifier fine-tuning, forward + backward: the encoder over every position, the pooler on [CLS] and the
    classifier head. `model_config`: anything with hidden_dim, intermediate_dim, num_layers (a BertConfig, a
    BertBackbone)."""
    h = model_config.hidden_dim
    forward = _encoder_forward_flops(model_config, global_batch_size, sequence_length)
    forward += global_batch_size * 2 * (h * h + h * num_classes)
    return 3 * forward


# A TPU kind as the TPU system spells it: the runtime's device kind ("TPU v4", "TPU v5 lite", "TPU v5" for v5p,
# "TPU v6 lite"), an accelerator type ("v3-8", "v5litepod-16", "v5p-128", "v6e-8") or a GKE node label
# ("tpu-v5-lite-podslice", "tpu-v4-podslice"). Groups: generation, variant (p / e / lite / litepod or none).
_TPU_KIND = re.compile(r"^(?:tpu[\s_-]*)?v(\d+)(?:[\s_-]*(p|e|lite(?:pod)?)(?![a-z]))?", re.IGNORECASE)
_TPU_VARIANTS = {"": "", "p": "p", "e": " lite", "lite": " lite", "litepod": " lite"}


def device_kind_name(device_kind):
    """Any spelling of a device kind -> its PEAK_FLOPS key, or None when it is not a known accelerator."""
    kind = (device_kind or "").strip()
    tpu = _TPU_KIND.match(kind)
    if tpu:
        generation, variant = tpu.group(1), _TPU_VARIANTS[(tpu.group(2) or "").lower()]
        if generation == "5" and not variant:
            variant = "p"  # the v5p runtime calls itself "TPU v5"; v5e is "TPU v5 lite"
        name = f"TPU v{generation}{variant}"
        if name in PEAK_FLOPS:
            return name
    # GPUs by model number as a whole word: "NVIDIA H100 80GB HBM3", "Tesla V100-SXM2-16GB"; "NVIDIA L40S" is no L4
    for name in sorted((n for n in PEAK_FLOPS if not n.startswith("TPU")), key=len, reverse=True):
        if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", kind, re.IGNORECASE):
            return name
    return None


def peak_flops(device_kind):
    """A device kind (tf.config.experimental.get_device_details' device_name, a TPU device kind or accelerator type)
    -> dense bf16 peak FLOP/s per TensorFlow device, or None when unknown."""
    name = device_kind_name(device_kind)
    return None if name is None else PEAK_FLOPS[name]
