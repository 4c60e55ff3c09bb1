"""Dropout masks from pre-drawn seeds, for the two DP clipping paths (dp_sgd's per-example map, ghost clipping).

A Dropout layer's own generator makes a stateful draw per call, which may not run inside tf.vectorized_map and
would give the two paths different masks. Instead, while tracing, each layer draws ONE seed from its generator
beforehand (its checkpointed stream advances as in normal training), and inside this context its `_drop` takes the
keep-uniforms from that seed folded with the layer's call count (a layer called twice per forward, attention and
FFN, gets a new draw per call). `uniforms(inputs, seed, alg)` says how the uniforms for one call are drawn.
"""

import contextlib

import tensorflow as tf

from tfpretrain.layers import dropout as dropout_lib


def rng_alg():
    # threefry is native under XLA; outside XLA only philox has a CPU kernel (as in layers/dropout.py)
    return "threefry" if dropout_lib._in_xla_context() else "philox"


def batch_uniforms(inputs, seed, alg):
    """Keep-uniforms shaped like `inputs` [B, ...] (ghost clipping: the whole batch in one call)."""
    return tf.random.stateless_uniform(tf.shape(inputs), seed, dtype=tf.float32, alg=alg)


@contextlib.contextmanager
def seeded_dropout(layers, seeds, uniforms=batch_uniforms):
    """Shadow each Dropout layer's `_drop` (an instance attribute, removed after) with one that draws its mask from
    `seeds[i]` folded with its call count. MirroredStrategy traces its replicas in threads, but one at a time between
    merge points (all-reduces), and none lies inside this context, so replicas never see each other's."""

    def make_drop(layer, seed):
        calls = [0]

        def drop(inputs):
            alg = rng_alg()
            call_seed = tf.random.experimental.stateless_fold_in(seed, calls[0], alg=alg)
            calls[0] += 1
            keep = uniforms(inputs, call_seed, alg) >= layer.rate
            scale = tf.cast(1.0 / (1.0 - layer.rate), inputs.dtype)
            return tf.where(keep, inputs * scale, tf.zeros_like(inputs))

        return drop

    for layer, seed in zip(layers, seeds):
        layer._drop = make_drop(layer, seed)
    try:
        yield
    finally:
        for layer in layers:
            del layer._drop
