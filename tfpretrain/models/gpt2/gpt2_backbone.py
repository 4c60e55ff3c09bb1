"""GPT-2 decoder: token + learned position embeddings, pre-LN causal blocks, final LayerNorm."""

import tensorflow as tf

from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.layers.attention_masks import causal_attention_mask, causal_padding_attention_mask
from tfpretrain.layers.dropout import Dropout
from tfpretrain.layers.position_embedding import PositionEmbedding
from tfpretrain.layers.token_embedding import TokenEmbedding
from tfpretrain.layers.transformer_decoder import TransformerDecoder
from tfpretrain.models.backbone import Backbone


@keras.utils.register_keras_serializable(package="tfpretrain")
class GPT2Backbone(Backbone):
    """{token_ids, padding_mask}: int32 [B, S] -> sequence_output [B, S, H] (after the final LayerNorm)."""

    input_keys = F.GPT2_INPUTS
    family = "gpt2"

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=1024,
        dropout=0.1,
        activation="gelu_new",
        layer_norm_epsilon=1e-5,
        initializer_range=0.02,
        dtype=None,
        **kwargs,
    ):
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}")
        token_embedding = TokenEmbedding(
            vocabulary_size, hidden_dim, initializer_range, dtype=dtype, name="token_embedding"
        )
        position_embedding = PositionEmbedding(
            max_sequence_length, initializer_range, dtype=dtype, name="position_embedding"
        )
        embeddings_dropout = Dropout(dropout, dtype=dtype, name="embeddings_dropout")
        decoder_layers = [
            TransformerDecoder(
                num_heads,
                intermediate_dim,
                dropout=dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                initializer_range=initializer_range,
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        final_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, dtype=dtype, name="final_norm")

        token_ids = keras.Input((None,), dtype="int32", name=F.TOKEN_IDS)
        padding_mask = keras.Input((None,), dtype="int32", name=F.PADDING_MASK)
        tokens = token_embedding(token_ids)  # [B, S, H]
        x = embeddings_dropout(tokens + position_embedding(tokens))
        mask = causal_padding_attention_mask(padding_mask)  # [B, S, S]
        for layer in decoder_layers:
            x = layer(x, attention_mask=mask)
        super().__init__(inputs={F.TOKEN_IDS: token_ids, F.PADDING_MASK: padding_mask}, outputs=final_norm(x), **kwargs)
        self.token_embedding = token_embedding
        self.position_embedding = position_embedding
        self.embeddings_dropout = embeddings_dropout
        self.transformer_layers = decoder_layers
        self.final_norm = final_norm
        self._set_config(locals())

    def empty_cache(self, batch_size, max_length):
        """Zeros [L, B, 2, T, N, D]: keys and values of every layer for T positions, in the compute dtype."""
        head_dim = self.hidden_dim // self.num_heads
        shape = [self.num_layers, batch_size, 2, max_length, self.num_heads, head_dim]
        return tf.zeros(shape, self.compute_dtype)

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Run S new tokens [B, S] at positions index .. index + S - 1 against a cache [L, B, 2, T, N, D].

        Returns (hidden [B, S, H], updated cache). Queries attend causally to cached keys 0 .. their position;
        cached entries past that position are masked, so stale values there are harmless.
        """
        tokens = self.token_embedding(token_ids)
        x = tokens + self.position_embedding(tokens, start_index=cache_update_index)
        mask = causal_attention_mask(tf.shape(token_ids)[1], tf.shape(cache)[3], cache_update_index)  # [1, S, T]
        caches = []
        for i, layer in enumerate(self.transformer_layers):
            x, layer_cache = layer(x, attention_mask=mask, cache=cache[i], cache_update_index=cache_update_index)
            caches.append(layer_cache)
        return self.final_norm(x), tf.stack(caches)
