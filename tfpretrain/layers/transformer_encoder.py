"""Post-LayerNorm transformer encoder block (BERT): x = LN(x + Attn(x)); x = LN(x + FFN(x))."""

from tfpretrain.keras import keras
from tfpretrain.layers.transformer_block import TransformerBlock


@keras.utils.register_keras_serializable(package="tfpretrain")
class TransformerEncoder(TransformerBlock):
    def call(self, inputs, attention_mask=None, training=None):
        # inputs [B, S, H]; attention_mask [B, 1 or S, S]
        attended = self.attention(inputs, attention_mask=attention_mask, training=training)
        x = self.attention_norm(inputs + self.dropout_layer(attended, training=training))
        return self.ffn_norm(x + self.feed_forward(x, training=training))
