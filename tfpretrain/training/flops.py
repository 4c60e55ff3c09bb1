"""Analytic training FLOPs per step and accelerator peaks, for the MFU estimate in TensorBoard and model cards.

Counts matmul FLOPs only (2 per multiply-add), forward x 3 for forward + backward, as in PaLM's MFU definition:
QKV, attention output and FFN projections, attention scores and context (full S x S), and the heads: each
pretraining task class counts its own (`head_flops`: BERT's MLM transform and vocabulary projection at the masked
positions only, GPT-2's projection at every position).
"""

from tfpretrain.models import families

# Dense bf16 peak FLOP/s per device (per chip for TPUs; one core of a 2-core v2/v3 chip is half its chip).
PEAK_FLOPS = {
    "TPU v2": 22.5e12,
    "TPU v3": 61.5e12,
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v5p": 459e12,
    "TPU v6 lite": 918e12,
    "H100": 989e12,
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


def peak_flops(device_kind):
    """A device kind string (tf.config.experimental.get_device_details / TPU device kind) -> peak FLOP/s or None."""
    for name, flops in sorted(PEAK_FLOPS.items(), key=lambda kv: -len(kv[0])):
        if name.lower() in (device_kind or "").lower():
            return flops
    return None
