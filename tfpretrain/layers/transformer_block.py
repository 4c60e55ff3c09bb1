"""Shared anatomy of the encoder (post-LN) and decoder (pre-LN) blocks: attention, FFN, two LayerNorms."""

from tfpretrain.keras import keras
from tfpretrain.layers.activations import get_activation
from tfpretrain.layers.dropout import Dropout
from tfpretrain.layers.initializers import truncated_normal
from tfpretrain.layers.multi_head_attention import MultiHeadAttention


@keras.utils.register_keras_serializable(package="tfpretrain")
class TransformerBlock(keras.layers.Layer):
    """Owns the sublayers and config; subclasses define the residual/normalisation order in `call`."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.1,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        get_activation(activation)  # fail at construction, not at build

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        policy = self.dtype_policy

        def norm(name):
            layer = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=policy, name=name)
            layer.build(input_shape)
            return layer

        self.attention = MultiHeadAttention(
            self.num_heads,
            dropout=self.dropout,
            initializer_range=self.initializer_range,
            dtype=policy,
            name="attention",
        )
        self.attention.build(input_shape)
        self.attention_norm = norm("attention_norm")
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            activation=get_activation(self.activation),
            kernel_initializer=self._initializer(),
            dtype=policy,
            name="intermediate",
        )
        self.intermediate_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(
            hidden_dim, kernel_initializer=self._initializer(), dtype=policy, name="output"
        )
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.ffn_norm = norm("ffn_norm")
        self.dropout_layer = Dropout(self.dropout, dtype=policy, name="dropout")
        super().build(input_shape)

    @classmethod
    def stack(cls, num_layers, *args, **kwargs):
        """num_layers blocks named transformer_layer_0, 1, ... (the checkpoint name maps rely on these names)."""
        return [cls(*args, name=f"transformer_layer_{i}", **kwargs) for i in range(num_layers)]

    def _initializer(self):
        return truncated_normal(self.initializer_range)

    def feed_forward(self, x, training=None):
        # [B, S, H] -> [B, S, I] -> [B, S, H], then dropout
        return self.dropout_layer(self.output_dense(self.intermediate_dense(x)), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
        )
        return config
