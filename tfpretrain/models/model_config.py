"""The base of every family's model config (models/<family>/config.py): the checks all families share.

A family's config dataclass is the one list of its backbone's constructor arguments (tests check the two agree);
`to_kwargs()` is what the backbone is built from. No TensorFlow import here: configs load before any model.
"""

import dataclasses
from typing import Any, ClassVar

from tfpretrain.config import ConfigError

# The names layers/activations.py implements (a test checks the two lists agree).
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_approximate", "relu")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    family: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type is int and (type(value) is not int or value <= 0):
                raise ConfigError("<config>", f.name, f"must be a positive integer, got {value!r}")
        for name in ("layer_norm_epsilon", "initializer_range"):
            if not getattr(self, name) > 0:
                raise ConfigError("<config>", name, f"must be positive, got {getattr(self, name)!r}")
        if self.hidden_dim % self.num_heads:
            raise ConfigError("<config>", "num_heads", f"{self.num_heads} does not divide hidden_dim={self.hidden_dim}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("<config>", "dropout", f"must be in [0, 1), got {self.dropout!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError("<config>", "activation", f"{self.activation!r} is not one of {ACTIVATIONS}")

    def to_kwargs(self) -> dict[str, Any]:
        """The backbone's keyword arguments (BertBackbone(**kwargs) / GPT2Backbone(**kwargs))."""
        return dataclasses.asdict(self)
