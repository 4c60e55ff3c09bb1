"""GPT-2's model config: the fields of GPT2Backbone(...), in its order, with its defaults."""

import dataclasses
from typing import ClassVar

from tfpretrain.models.model_config import ModelConfig


@dataclasses.dataclass(frozen=True)
class GPT2Config(ModelConfig):
    family: ClassVar[str] = "gpt2"
    vocabulary_size: int
    num_layers: int
    num_heads: int
    hidden_dim: int
    intermediate_dim: int
    max_sequence_length: int = 1024
    dropout: float = 0.1
    activation: str = "gelu_new"  # GPT-2's tanh-approximated GELU
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
