"""Ghost clipping: the clipped per-example gradient sum of DP-SGD without per-example gradients.

    clipped_gradient_sum(task, features, variables, l2_norm_clip)   # same contract as dp_sgd.clipped_gradient_sum

One forward pass of the whole local (micro-)batch under a persistent tape, with every trainable layer's `call`
shadowed (as dp_sgd shadows Dropout._drop) by a copy that also records what the layer read and the tensor it wrote
(training/privacy/layer_calls.py). Then:
  1. one backward pass of sum_i loss_i to the recorded outputs gives each row's output gradient; examples do not
     interact in these models (attention, LayerNorm and losses are per example), so row b's output gradient is
     example b's own. From inputs and output gradients, layer_norms.py gives each variable's per-example squared
     norm (gram or direct form); their sum over variables is |g_i|^2;
  2. c_i = min(1, C / |g_i|), a constant, and ONE weighted backward pass of sum_i c_i loss_i (the same tape, the
     losses' output gradient c) gives sum_i clip(g_i, C).
Memory is that of normal training plus the recorded pieces and, per variable, B x R x R Gram matrices (or the
direct form's B x U x W where that is smaller), never B x P.

Every trainable variable must belong to a layer type with a recorder (layer_calls.RECORDERS): a variable of any
other layer is refused up front, and one that gets a gradient without a recorded use (read outside its layer's
`call`) is refused while tracing. Not caught: a variable read by its layer AND directly elsewhere; add a recorder
for such a use. Dropout: each Dropout layer draws one seed from its generator before the tape (as dp_sgd's
per-example path does) and its masks from that seed, folded with the call count: independent per example, drawn
once (norm and gradient see the same masks), and the very masks of the per-example path (tests compare with
dropout on).
"""

import contextlib

import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.layers import dropout as dropout_lib
from tfpretrain.training.privacy import layer_calls, layer_norms
from tfpretrain.training.privacy.seeded_dropout import seeded_dropout


class GhostClippingUnsupported(ValueError):
    """A model with a trainable variable that ghost clipping cannot account for (use clipping: per_example)."""


def check_supported(task):
    """Refuse trainable variables of layers without a recorder, naming them. -> the recorded layers (frozen ones,
    Keras `trainable = False`, are neither recorded nor checked: their weights are not trained)."""
    layers = [m for m in task.submodules if isinstance(m, keras.layers.Layer) and m.trainable]
    recorded, owned, unknown = [], set(), []
    for layer in layers:
        own = [v for v in layer._trainable_weights if v.trainable]
        if own and type(layer) in layer_calls.RECORDERS:
            recorded.append(layer)
            owned.update(id(v) for v in own)
        elif own:
            unknown.append(f"{layer.name} ({type(layer).__name__}: {', '.join(v.name for v in own)})")
    unknown += [f"{v.name} (no layer owns it)" for v in task.trainable_variables
                if id(v) not in owned and not any(v.name in u for u in unknown)]
    if unknown:
        raise GhostClippingUnsupported(
            f"ghost clipping has no per-example norm for the trainable variables of {'; '.join(unknown)} (known layer "
            f"types: {', '.join(sorted(t.__name__ for t in layer_calls.RECORDERS))}); use trainer.dp.clipping: "
            "per_example (enable_dp(..., clipping='per_example'))"
        )
    return recorded


def clipped_gradient_sum(task, features, variables, l2_norm_clip, mode="auto"):
    """Per-example gradients of a local (micro-)batch, each clipped to L2 norm `l2_norm_clip`, summed; by ghost
    norms and one weighted backward pass. -> (outputs, summed: one float32 tensor per variable, number clipped).
    `mode`: layer_norms' auto | gram | direct (tests force each)."""
    layers = check_supported(task)
    dropouts = [layer for layer in task.submodules if isinstance(layer, dropout_lib.Dropout) and layer.rate > 0]
    seeds = [layer._generator.make_seeds(1)[:, 0] for layer in dropouts]  # int64 [2] each, outside the tape
    recorder = layer_calls.Recorder()
    with tf.GradientTape(persistent=True) as tape:
        with _recording(layers, recorder), seeded_dropout(dropouts, seeds):
            outputs = task({k: features[k] for k in task.input_keys}, training=True)
        if task.losses:
            raise ValueError(f"DP-SGD does not support models with regularisation losses ({len(task.losses)} found)")
        losses = task.example_losses(features, outputs)  # [B], one batched computation
    # d(sum_i loss_i)/d(output) (a vector target sums)
    output_grads = tape.gradient(losses, [record.output for record in recorder.records])
    terms = {}  # id(variable) -> its terms
    for record, grad in zip(recorder.records, output_grads):
        if grad is None:  # an output the loss ignores: its layer's variables get nothing from this call
            continue
        for variable, term in record.terms(grad):
            terms.setdefault(id(variable), []).append(term)
    squared = [layer_norms.squared_norms(terms[id(v)], mode) for v in variables if id(v) in terms]  # [B] each
    norm = tf.sqrt(tf.add_n(squared)) if squared else tf.zeros_like(losses)  # [B]
    scale = tf.stop_gradient(tf.minimum(1.0, l2_norm_clip / tf.maximum(norm, 1e-30)))  # c_i, [B]
    grads = tape.gradient(losses, variables, output_gradients=scale)  # sum_i c_i grad loss_i
    del tape
    unrecorded = [v.name for v, g in zip(variables, grads) if g is not None and id(v) not in terms]
    if unrecorded:
        raise GhostClippingUnsupported(
            f"variables {unrecorded} get a gradient that no recorded layer call accounts for (read outside their "
            "layer's call?); use trainer.dp.clipping: per_example"
        )
    grads = [tf.zeros_like(v, tf.float32) if g is None else tf.cast(tf.convert_to_tensor(g), tf.float32)
             for g, v in zip(grads, variables)]
    return outputs, grads, tf.reduce_sum(tf.cast(norm > l2_norm_clip, tf.float32))


@contextlib.contextmanager
def _recording(layers, recorder):
    """Shadow each layer's `call` with its recording copy (an instance attribute, removed after). MirroredStrategy
    traces replicas one at a time between all-reduces and none lies inside, as for dp_sgd's dropout shadow."""
    for layer in layers:
        layer.call = layer_calls.RECORDERS[type(layer)](layer, recorder)
    try:
        yield
    finally:
        for layer in layers:
            del layer.call
