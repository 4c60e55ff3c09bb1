"""Token embedding that can also project hidden states back onto the vocabulary (tied output layer)."""

import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.layers.initializers import truncated_normal


@keras.utils.register_keras_serializable(package="tfpretrain")
class TokenEmbedding(keras.layers.Layer):
    """`call(ids)` -> [B, S, H] embeddings; `call(hidden, reverse=True)` -> [..., V] logits (x @ E^T)."""

    def __init__(self, vocabulary_size, hidden_dim, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            "embeddings",
            shape=(self.vocabulary_size, self.hidden_dim),
            initializer=truncated_normal(self.initializer_range),
        )
        super().build(input_shape)

    def call(self, inputs, reverse=False):
        if reverse:
            # [..., H] -> [N, H] @ [V, H]^T -> [..., V] in the compute dtype (callers cast logits to float32).
            # One 2-D GEMM: a rank-3 matmul against the table would broadcast it into a batched matmul whose
            # embedding gradient materialises a [B, H, V] tensor (about 1 GB per step at B=32, V=30522).
            flat = tf.reshape(inputs, [-1, self.hidden_dim])
            logits = tf.matmul(flat, tf.cast(self.embeddings, inputs.dtype), transpose_b=True)
            return tf.reshape(logits, tf.concat([tf.shape(inputs)[:-1], [self.vocabulary_size]], 0))
        return tf.gather(tf.cast(self.embeddings, self.compute_dtype), inputs)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            hidden_dim=self.hidden_dim,
            initializer_range=self.initializer_range,
        )
        return config
