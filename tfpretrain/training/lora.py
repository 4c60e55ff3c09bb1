"""trainer.dp.trainable: lora: low-rank adapters on every attention projection, the rest of the backbone frozen.

    names = add_adapters(task, rank=8, alpha=16)   # after the base weights are loaded, before compile
    ...fit...
    merge_adapters(task)                          # before export: plain Dense layers again, W' = W + (alpha/r) B A

Each MultiHeadAttention's fused query/key/value projection gets one adapter per projection (layers/lora.py,
splits=3) and its output projection one; the adapted model computes exactly what the loaded one did (B = 0). Every
other backbone weight is frozen (Keras `trainable = False` on the layers that own them), except the pooler; the
task's own layers (the head) stay trainable. DP-SGD differentiates `task.trainable_variables` only, so clipping,
noise and the update cover the adapters, pooler and head (Yu et al. 2022, "Differentially Private Fine-tuning of
Language Models"). Merging leaves the model in the original architecture: RUN/final/ and RUN/export/ load as any
fine-tuned classifier; its layers' trainable flags stay as they were.
"""

import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.layers.lora import LoRADense
from tfpretrain.layers.multi_head_attention import MultiHeadAttention

PROJECTIONS = {"qkv_dense": 3, "output_dense": 1}  # attribute -> adapters (equal output blocks: query, key, value)


def _attentions(task):
    return [m for m in task.backbone.submodules if isinstance(m, MultiHeadAttention)]


def add_adapters(task, rank, alpha=None):
    """Wrap every attention projection of `task.backbone` in a LoRADense of rank `rank`, scale alpha / rank (alpha
    None: rank, scale 1), and freeze the rest of the backbone but its pooler. -> the names of the trained
    variables."""
    alpha = float(rank) if alpha is None else float(alpha)
    if not alpha > 0:
        raise ValueError(f"lora_alpha must be positive, got {alpha}")
    attentions = _attentions(task)
    if not attentions or any(isinstance(getattr(a, name), LoRADense) for a in attentions for name in PROJECTIONS):
        raise ValueError(f"{task.name}: no attention layer without adapters to adapt")
    adapters = []
    for attention in attentions:
        for name, splits in PROJECTIONS.items():
            base = getattr(attention, name)
            adapter = LoRADense(base, rank, alpha, splits=splits, name=f"{name}_lora")
            adapter(tf.zeros([1, 1, base.kernel.shape[0]], adapter.compute_dtype))  # builds, names its variables
            delattr(attention, name)  # untrack the Dense (Keras), then track the adapter holding it
            setattr(attention, name, adapter)
            adapters.append(adapter)
    kept = {id(layer) for adapter in adapters for layer in (adapter.down, *adapter.up)}
    if getattr(task.backbone, "pooler", None) is not None:
        kept.add(id(task.backbone.pooler))
    for layer in task.backbone.submodules:  # the layers that own weights: no container is frozen whole
        if isinstance(layer, keras.layers.Layer) and layer._trainable_weights and id(layer) not in kept:
            layer.trainable = False
    task.train_function = None  # retrace with the new variable list
    return [v.name for v in task.trainable_variables]


def merge_adapters(task):
    """Fold every adapter into its Dense (W' = W + (alpha / r) [A_s B_s]_s) and put the Dense back in its place.
    -> the number of projections merged."""
    merged = 0
    for attention in _attentions(task):
        for name in PROJECTIONS:
            adapter = getattr(attention, name)
            if isinstance(adapter, LoRADense):
                adapter.base.kernel.assign(adapter.merged_kernel())
                delattr(attention, name)
                setattr(attention, name, adapter.base)
                merged += 1
    if merged:  # retrace with the plain layers; a model without adapters keeps its traced functions
        task.train_function = task.test_function = task.predict_function = None
    return merged
