"""Learned absolute position embeddings, sliced to the input length (and offset, for cached decoding)."""

import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.layers.initializers import truncated_normal


@keras.utils.register_keras_serializable(package="tfpretrain")
class PositionEmbedding(keras.layers.Layer):
    """[B, S, H] -> [1, S, H] position vectors for positions start_index .. start_index + S - 1."""

    def __init__(self, max_sequence_length, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.max_sequence_length = max_sequence_length
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            "embeddings",
            shape=(self.max_sequence_length, input_shape[-1]),
            initializer=truncated_normal(self.initializer_range),
        )
        super().build(input_shape)

    def call(self, inputs, start_index=0):
        length = tf.shape(inputs)[1]
        table = tf.cast(self.position_embeddings, self.compute_dtype)
        # tf.slice with an explicit size keeps the shape static under XLA even when start_index is a tensor.
        return tf.slice(table, [start_index, 0], [length, table.shape[-1]])[tf.newaxis]

    def get_config(self):
        config = super().get_config()
        config.update(max_sequence_length=self.max_sequence_length, initializer_range=self.initializer_range)
        return config
