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
        layers = dict(
            token_embedding=TokenEmbedding(
                vocabulary_size, hidden_dim, initializer_range, dtype=dtype, name="token_embedding"
            ),
            position_embedding=PositionEmbedding(
                max_sequence_length, initializer_range, dtype=dtype, name="position_embedding"
            ),
            embeddings_dropout=Dropout(dropout, dtype=dtype, name="embeddings_dropout"),
            transformer_layers=TransformerDecoder.stack(
                num_layers, num_heads, intermediate_dim, dropout=dropout, activation=activation,
                layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range, dtype=dtype,
            ),
            final_norm=keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, dtype=dtype, name="final_norm"),
        )
        inputs = {key: keras.Input((None,), dtype="int32", name=key) for key in self.input_keys}
        self._build_graph(layers, inputs, **kwargs)
        self._set_config(locals())

    def empty_cache(self, batch_size, max_length):
        """Zeros [L, B, 2, T, N, D]: keys and values of every layer for T positions, in the compute dtype."""
        head_dim = self.hidden_dim // self.num_heads
        shape = [self.num_layers, batch_size, 2, max_length, self.num_heads, head_dim]
        return tf.zeros(shape, self.compute_dtype)

    def embed(self, inputs, token_embeddings=None, start_index=0, training=None):
        """{token_ids} int [B, S] -> token + position embeddings, dropped out [B, S, H]. token_embeddings [B, S, H]
        stands in for the token lookup (see Backbone.embed)."""
        tokens = self.token_embedding(inputs[F.TOKEN_IDS]) if token_embeddings is None else token_embeddings
        return self.embeddings_dropout(tokens + self.position_embedding(tokens, start_index), training=training)

    def encode(self, embeddings, padding_mask=None, training=None, cache=None, cache_update_index=0):
        """[B, S, H], padding_mask int [B, S] -> hidden [B, S, H] after the final LayerNorm.

        With a cache [L, B, 2, T, N, D] (then no padding_mask) the S positions start at cache_update_index and
        attend causally to the cached keys: -> (hidden, updated cache).
        """
        if cache is None:
            mask = causal_padding_attention_mask(padding_mask)  # [B, S, S]
        else:
            mask = causal_attention_mask(tf.shape(embeddings)[1], tf.shape(cache)[3], cache_update_index)  # [1, S, T]
        x, caches = embeddings, []
        for i, layer in enumerate(self.transformer_layers):
            if cache is None:
                x = layer(x, attention_mask=mask, training=training)
            else:
                x, layer_cache = layer(x, attention_mask=mask, cache=cache[i], cache_update_index=cache_update_index,
                                       training=training)
                caches.append(layer_cache)
        x = self.final_norm(x)
        return x if cache is None else (x, tf.stack(caches))

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Run S new tokens [B, S] at positions index .. index + S - 1 against a cache [L, B, 2, T, N, D].

        Returns (hidden [B, S, H], updated cache). Queries attend causally to cached keys 0 .. their position;
        cached entries past that position are masked, so stale values there are harmless.
        """
        x = self.embed({F.TOKEN_IDS: token_ids}, start_index=cache_update_index, training=False)
        return self.encode(x, cache=cache, cache_update_index=cache_update_index, training=False)
