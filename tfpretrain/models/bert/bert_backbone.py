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
        token_embedding = TokenEmbedding(
            vocabulary_size, hidden_dim, initializer_range, dtype=dtype, name="token_embedding"
        )
        segment_embedding = keras.layers.Embedding(
            num_segments,
            hidden_dim,
            embeddings_initializer=truncated_normal(initializer_range),
            dtype=dtype,
            name="segment_embedding",
        )
        position_embedding = PositionEmbedding(
            max_sequence_length, initializer_range, dtype=dtype, name="position_embedding"
        )
        embeddings_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_norm"
        )
        encoder_layers = [
            TransformerEncoder(
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
        pooler = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=truncated_normal(initializer_range),
            dtype=dtype,
            name="pooler",
        )

        token_ids = keras.Input((None,), dtype="int32", name=F.TOKEN_IDS)
        segment_ids = keras.Input((None,), dtype="int32", name=F.SEGMENT_IDS)
        padding_mask = keras.Input((None,), dtype="int32", name=F.PADDING_MASK)

        tokens = token_embedding(token_ids)  # [B, S, H]
        x = tokens + segment_embedding(segment_ids) + position_embedding(tokens)
        x = Dropout(dropout, dtype=dtype, name="embeddings_dropout")(embeddings_norm(x))
        mask = padding_attention_mask(padding_mask)  # [B, 1, S]
        for layer in encoder_layers:
            x = layer(x, attention_mask=mask)
        pooled = pooler(x[:, 0, :])  # [B, H] from the [CLS] position
        super().__init__(
            inputs={F.TOKEN_IDS: token_ids, F.SEGMENT_IDS: segment_ids, F.PADDING_MASK: padding_mask},
            outputs={"sequence_output": x, "pooled_output": pooled},
            **kwargs,
        )
        self.token_embedding = token_embedding
        self.transformer_layers = encoder_layers
        self._set_config(locals())
