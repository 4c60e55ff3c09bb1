"""Dropout from a stateless RNG: the same masks in or out of XLA, cheap under XLA, resumable from a checkpoint.

Keras' Dropout draws from legacy stateful random ops; under XLA on CPU those lower to a slow RNG (about 5x this
layer's time at [32, 4, 128, 128], measured in benchmarks/README.md). Here each call takes a fresh seed from a
per-layer `tf.random.Generator` (its state is tracked, so a checkpoint restores the dropout stream) and draws the
keep mask with `stateless_uniform`: threefry under XLA (native there), philox elsewhere (threefry has no CPU kernel
outside XLA). The generator lives outside `layer.weights`, so weight files and HF exports are unaffected.
"""

import random

import tensorflow as tf
from tensorflow.python.ops import control_flow_util

from tfpretrain.keras import keras


def _in_xla_context():
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


@keras.utils.register_keras_serializable(package="tfpretrain")
class Dropout(keras.layers.Layer):
    """Inverted dropout: zero each element with probability `rate` and scale the rest by 1 / (1 - rate)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self.supports_masking = True
        self._generator = None

    def build(self, input_shape):
        if self.rate > 0.0:
            # Python's `random` is seeded by keras.utils.set_random_seed, so unseeded layers are reproducible too.
            seed = self.seed if self.seed is not None else random.randint(0, 2**31 - 1)
            with tf.init_scope():
                self._generator = tf.random.Generator.from_seed(seed)
        super().build(input_shape)

    def call(self, inputs, training=None):
        if training is None:
            training = keras.backend.learning_phase()
        if self.rate == 0.0 or isinstance(training, bool) and not training:
            return inputs
        return tf.__internal__.smart_cond.smart_cond(training, lambda: self._drop(inputs), lambda: tf.identity(inputs))

    def _drop(self, inputs):
        seed = self._generator.make_seeds(1)[:, 0]  # int64 [2]
        alg = "threefry" if _in_xla_context() else "philox"
        uniform = tf.random.stateless_uniform(tf.shape(inputs), seed, dtype=tf.float32, alg=alg)
        scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return tf.where(uniform >= self.rate, inputs * scale, tf.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
