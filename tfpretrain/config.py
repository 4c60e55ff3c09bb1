"""Frozen config dataclasses, strict YAML loading and dotted overrides. No TensorFlow import here.

Every error is one `ConfigError` naming the file and the dotted key, e.g.
`configs/models/bert_tiny.yaml: model.num_heads: 3 does not divide hidden_dim=64`.
"""

import dataclasses
import difflib
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import ClassVar

import yaml

MODELS_DIR = Path(__file__).resolve().parent.parent / "configs" / "models"
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_approximate", "relu")


class ConfigError(ValueError):
    def __init__(self, source, key, message):
        self.source, self.key = source, key
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


@dataclasses.dataclass(frozen=True)
class _ModelConfig:
    family: ClassVar[str] = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type is int and value <= 0:
                raise ConfigError("<config>", f"model.{f.name}", f"must be a positive integer, got {value}")
        if self.hidden_dim % self.num_heads:
            raise ConfigError(
                "<config>", "model.num_heads", f"{self.num_heads} does not divide hidden_dim={self.hidden_dim}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("<config>", "model.dropout", f"must be in [0, 1), got {self.dropout}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError("<config>", "model.activation", f"{self.activation!r} is not one of {ACTIVATIONS}")

    def to_kwargs(self):
        """The model classes' keyword arguments (BertBackbone(**kwargs) / GPT2Backbone(**kwargs))."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class BertConfig(_ModelConfig):
    family: ClassVar[str] = "bert"
    vocabulary_size: int
    num_layers: int
    num_heads: int
    hidden_dim: int
    intermediate_dim: int
    max_sequence_length: int = 512
    num_segments: int = 2
    dropout: float = 0.1
    activation: str = "gelu"
    layer_norm_epsilon: float = 1e-12
    initializer_range: float = 0.02


@dataclasses.dataclass(frozen=True)
class GPT2Config(_ModelConfig):
    family: ClassVar[str] = "gpt2"
    vocabulary_size: int
    num_layers: int
    num_heads: int
    hidden_dim: int
    intermediate_dim: int
    max_sequence_length: int = 1024
    dropout: float = 0.1
    activation: str = "gelu_new"
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02


MODEL_CONFIGS = {cls.family: cls for cls in (BertConfig, GPT2Config)}


def _check_type(value, annotation, source, key):
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        return load_dataclass(annotation, value, source, key)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        return _check_type(value, next(a for a in options if a is not type(None)), source, key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(source, key, f"expected a list, got {value!r}")
        (item,) = typing.get_args(annotation)[:1] or (typing.Any,)
        items = [_check_type(v, item, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and (type(value) is not annotation):
        raise ConfigError(source, key, f"expected {annotation.__name__}, got {value!r}")
    return value


def load_dataclass(cls, mapping, source="<dict>", prefix=""):
    """Build (nested) dataclass `cls` from a dict: unknown, missing or mistyped keys raise one ConfigError."""
    if not isinstance(mapping, dict):
        raise ConfigError(source, prefix, f"expected a mapping, got {mapping!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for name in mapping:
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {sorted(fields)}"
            raise ConfigError(source, _join(prefix, name), f"unknown key{hint}")
    values = {}
    for name, f in fields.items():
        if name in mapping:
            values[name] = _check_type(mapping[name], hints[name], source, _join(prefix, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(source, _join(prefix, name), "required key is missing")
    try:
        return cls(**values)
    except ConfigError as e:  # re-raise validation errors with the real file name
        raise ConfigError(source, e.key, str(e).split(": ", 2)[-1]) from None


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else str(name)


def load_yaml(path):
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), "", f"invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "the top level must be a mapping")
    return data


def load_model_config(path_or_name, overrides=()):
    """A model YAML (`family: bert|gpt2` + `model: {...}`), by path or preset name (e.g. "bert_tiny")."""
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        path = MODELS_DIR / f"{path_or_name}.yaml"
        if not path.exists():
            names = sorted(p.stem for p in MODELS_DIR.glob("*.yaml"))
            raise ConfigError(str(path_or_name), "", f"no such model preset; available: {names}")
    data = apply_overrides(load_yaml(path), overrides, str(path))
    family = data.get("family")
    if family not in MODEL_CONFIGS:
        raise ConfigError(str(path), "family", f"{family!r} is not one of {sorted(MODEL_CONFIGS)}")
    unknown = set(data) - {"family", "model"}
    if unknown:
        raise ConfigError(str(path), sorted(unknown)[0], "unknown key; a model file holds 'family' and 'model'")
    return load_dataclass(MODEL_CONFIGS[family], data.get("model"), str(path), "model")


def apply_overrides(mapping, overrides, source="<overrides>"):
    """Apply dotted `key.path=value` strings (values parsed as YAML); unknown paths raise ConfigError."""
    result = _deep_copy(mapping)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ConfigError(source, override, "an override must look like key.path=value")
        node, parts = result, key.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(source, ".".join(parts[: depth + 1]), f"unknown key in override {override!r}")
            if depth == len(parts) - 1:
                node[part] = yaml.safe_load(raw)
            node = node[part]
    return result


def _deep_copy(value):
    return {k: _deep_copy(v) for k, v in value.items()} if isinstance(value, dict) else value


def check_sequence_length(model_config, sequence_length, source, key="data.sequence_length"):
    if sequence_length > model_config.max_sequence_length:
        raise ConfigError(
            source, key, f"{sequence_length} exceeds the model's max_sequence_length={model_config.max_sequence_length}"
        )


def dump_yaml(config, path):
    """Write a model config (family + fields) atomically: temp file in the same directory, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"family": config.family, "model": dataclasses.asdict(config)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    os.replace(tmp, path)
