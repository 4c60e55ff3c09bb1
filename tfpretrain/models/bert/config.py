"""BERT's model config: the fields of BertBackbone(...), in its order, with its defaults."""

import dataclasses
from typing import ClassVar

from tfpretrain.models.model_config import ModelConfig


@dataclasses.dataclass(frozen=True)
class BertConfig(ModelConfig):
    family: ClassVar[str] = "bert"
    vocabulary_size: int
    num_layers: int
    num_heads: int
    hidden_dim: int
    intermediate_dim: int
    max_sequence_length: int = 512
    num_segments: int = 2
    dropout: float = 0.1
    activation: str = "gelu"  # BERT's exact (erf) GELU
    layer_norm_epsilon: float = 1e-12
    initializer_range: float = 0.02
