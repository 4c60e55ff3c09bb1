"""BERT masked-LM head, evaluated only at fixed-size masked positions (never over the full sequence)."""

import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.layers.activations import get_activation
from tfpretrain.layers.initializers import truncated_normal


@keras.utils.register_keras_serializable(package="tfpretrain")
class MaskedLMHead(keras.layers.Layer):
    """(sequence_output [B, S, H], masked_lm_positions [B, P]) -> float32 logits [B, P, V].

    dense + activation + LayerNorm, then the transpose of the tied `token_embedding` plus an output bias.
    """

    def __init__(self, token_embedding, activation="gelu", layer_norm_epsilon=1e-12, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, input_shape):
        hidden_dim = self.token_embedding.hidden_dim
        self.dense = keras.layers.Dense(
            hidden_dim,
            activation=get_activation(self.activation),
            kernel_initializer=truncated_normal(self.initializer_range),
            dtype=self.dtype_policy,
            name="transform",
        )
        self.dense.build((None, None, hidden_dim))
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="transform_norm"
        )
        self.layer_norm.build((None, None, hidden_dim))
        self.bias = self.add_weight("output_bias", shape=(self.token_embedding.vocabulary_size,), initializer="zeros")
        super().build(input_shape)

    def transform(self, inputs):
        """(sequence_output [B, S, H], masked_lm_positions [B, P]) -> [B, P, H]: what the projection reads."""
        sequence_output, positions = inputs
        gathered = tf.gather(sequence_output, positions, batch_dims=1)  # [B, P, H]
        return self.layer_norm(self.dense(gathered))

    def call(self, inputs):
        x = self.transform(inputs)
        logits = self.token_embedding(x, reverse=True)  # [B, P, V], compute dtype
        return tf.cast(logits, tf.float32) + tf.cast(self.bias, tf.float32)

    def get_config(self):
        # The tied embedding is rebuilt by the owning task model; only plain settings are serialised.
        config = super().get_config()
        config.update(
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
        )
        return config
