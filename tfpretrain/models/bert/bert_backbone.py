"""BERT encoder: token + segment + learned position embeddings, post-LN encoder stack, tanh pooler."""

from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.layers.attention_masks import padding_attention_mask
from tfpretrain.layers.dropout import Dropout
from tfpretrain.layers.initializers import truncated_normal
from tfpretrain.layers.position_embedding import PositionEmbedding
from tfpretrain.layers.token_embedding import TokenEmbedding
from tfpretrain.layers.transformer_encoder import TransformerEncoder
from tfpretrain.models.backbone import Backbone


@keras.utils.register_keras_serializable(package="tfpretrain")
class BertBackbone(Backbone):
    """{token_ids, segment_ids, padding_mask}: int32 [B, S] -> {sequence_output [B, S, H], pooled_output [B, H]}."""

    input_keys = F.BERT_INPUTS
    family = "bert"

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        activation="gelu",
        layer_norm_epsilon=1e-12,
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
            segment_embedding=keras.layers.Embedding(
                num_segments,
                hidden_dim,
                embeddings_initializer=truncated_normal(initializer_range),
                dtype=dtype,
                name="segment_embedding",
            ),
            position_embedding=PositionEmbedding(
                max_sequence_length, initializer_range, dtype=dtype, name="position_embedding"
            ),
            embeddings_norm=keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_norm"
            ),
            embeddings_dropout=Dropout(dropout, dtype=dtype, name="embeddings_dropout"),
            transformer_layers=TransformerEncoder.stack(
                num_layers, num_heads, intermediate_dim, dropout=dropout, activation=activation,
                layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range, dtype=dtype,
            ),
            pooler=keras.layers.Dense(
                hidden_dim,
                activation="tanh",
                kernel_initializer=truncated_normal(initializer_range),
                dtype=dtype,
                name="pooler",
            ),
        )
        inputs = {key: keras.Input((None,), dtype="int32", name=key) for key in self.input_keys}
        self._build_graph(layers, inputs, **kwargs)
        self._set_config(locals())

    def embed(self, inputs, token_embeddings=None, start_index=0, training=None):
        """{token_ids, segment_ids} int [B, S] -> LayerNorm(token + segment + position embeddings), dropped out
        [B, S, H]. token_embeddings [B, S, H] stands in for the token lookup (see Backbone.embed)."""
        tokens = self.token_embedding(inputs[F.TOKEN_IDS]) if token_embeddings is None else token_embeddings
        x = tokens + self.segment_embedding(inputs[F.SEGMENT_IDS]) + self.position_embedding(tokens, start_index)
        return self.embeddings_dropout(self.embeddings_norm(x), training=training)

    def encode(self, embeddings, padding_mask, training=None):
        """[B, S, H], padding_mask int [B, S] -> {sequence_output [B, S, H], pooled_output [B, H]}."""
        mask = padding_attention_mask(padding_mask)  # [B, 1, S]
        x = embeddings
        for layer in self.transformer_layers:
            x = layer(x, attention_mask=mask, training=training)
        return {"sequence_output": x, "pooled_output": self.pooler(x[:, 0, :])}  # pooled from the [CLS] position
