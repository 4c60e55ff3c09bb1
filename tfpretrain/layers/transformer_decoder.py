"""Pre-LayerNorm causal transformer block (GPT-2): x += Attn(LN(x)); x += FFN(LN(x)); optional KV cache."""

from tfpretrain.keras import keras
from tfpretrain.layers.transformer_block import TransformerBlock


@keras.utils.register_keras_serializable(package="tfpretrain")
class TransformerDecoder(TransformerBlock):
    def __init__(self, num_heads, intermediate_dim, activation="gelu_new", layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(
            num_heads, intermediate_dim, activation=activation, layer_norm_epsilon=layer_norm_epsilon, **kwargs
        )

    def call(self, inputs, attention_mask=None, cache=None, cache_update_index=0, training=None):
        # inputs [B, S, H]; attention_mask [B, S, S], or [B, S, T] with a cache [B, 2, T, N, D]
        attended = self.attention(
            self.attention_norm(inputs),
            attention_mask=attention_mask,
            cache=cache,
            cache_update_index=cache_update_index,
            training=training,
        )
        if cache is not None:
            attended, cache = attended
        x = inputs + self.dropout_layer(attended, training=training)
        x = x + self.feed_forward(self.ffn_norm(x), training=training)
        return x if cache is None else (x, cache)
