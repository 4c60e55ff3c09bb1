"""trainer.dp.trainable: top_n_layers: DP-SGD fine-tunes only the top N transformer layers, the pooler and the head.

Freezing the rest (Keras `trainable = False` on every other backbone layer) removes their variables from
`task.trainable_variables`, which are the only ones DP-SGD differentiates: per-example gradients, their norms and the
clipping, the noise and the update cover the trained parameters only (less noise in total, less memory).
"""


def train_top_layers(task, top_n_layers):
    """Freeze `task.backbone` except its top `top_n_layers` transformer layers and its pooler (if any); the task's
    own layers (the head) stay trainable. Call before compile. -> the names of the trained variables."""
    backbone = task.backbone
    stack = list(getattr(backbone, "transformer_layers", ()))
    n = int(top_n_layers)
    if not stack or not 0 <= n <= len(stack):
        raise ValueError(f"top_n_layers must be in 0..{len(stack)} (the backbone's transformer layers), got {n}")
    kept = {id(layer) for layer in stack[len(stack) - n:]}
    if getattr(backbone, "pooler", None) is not None:
        kept.add(id(backbone.pooler))
    for layer in backbone.layers:
        if id(layer) not in kept and layer.weights:
            layer.trainable = False
    task.train_function = None  # retrace with the new variable list
    return [v.name for v in task.trainable_variables]
