"""Frozen config dataclasses, strict YAML loading and dotted overrides. No TensorFlow import here.

Every error is one `ConfigError` naming the file and the dotted key, e.g.
`configs/models/bert_tiny.yaml: model.num_heads: 3 does not divide hidden_dim=64`.
"""

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from tfpretrain.atomic import write_text
from tfpretrain.errors import UserError

# The shipped YAML configs live beside the package (repository root / configs).
CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
# PyYAML (YAML 1.1) reads `1e-12` (no dot) as a string; accept exactly that spelling for float fields.
_EXPONENT_FLOAT = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+")


class ConfigError(UserError):
    """A config mistake: `source: key: message` (source is the file name when known)."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = source, key, message
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


def _convert(value: Any, annotation: Any, source: str, key: str) -> Any:
    """Check `value` against a type annotation (recursing into dataclasses and containers)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        return load_dataclass(annotation, value, source, key)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, source, key)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if len(errors) == 1 else ConfigError(source, key, f"expected {annotation}, got {value!r}")
    if origin is Literal:
        if value not in args or type(value) not in {type(a) for a in args}:
            raise ConfigError(source, key, f"expected one of {list(args)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(source, key, f"expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(source, key, f"expected {len(args)} items, got {value!r}")
            item_types = args
        else:
            item_types = (args[0] if args else Any,) * len(value)
        items = [_convert(v, t, source, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, item_types))]
        return tuple(items) if origin is tuple else items
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a mapping, got {value!r}")
        item = args[1] if args else Any
        return {k: _convert(v, item, source, _join(key, k)) for k, v in value.items()}
    if annotation is float and isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value):
        return float(value)
    if annotation is float and type(value) is int:
        return float(value)
    if annotation in (int, float, str, bool) and type(value) is not annotation:
        raise ConfigError(source, key, f"expected {annotation.__name__}, got {value!r}")
    return value


def load_dataclass(cls: type, mapping: Any, source: str = "<dict>", prefix: str = "") -> Any:
    """Build (nested) dataclass `cls` from a dict: unknown, missing or mistyped keys raise one ConfigError."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(source, prefix, f"expected a mapping, got {mapping!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for name in mapping:
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {sorted(fields)}"
            raise ConfigError(source, _join(prefix, name), f"unknown key; {hint}")
    values = {}
    for name, f in fields.items():
        if name in mapping:
            values[name] = _convert(mapping[name], hints[name], source, _join(prefix, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(source, _join(prefix, name), "required key is missing")
    try:
        return cls(**values)
    except ConfigError as e:  # validation in __post_init__ names the field; add the file and the dotted prefix
        raise ConfigError(source, _join(prefix, e.key), e.message) from None


def _join(prefix: str, name: Any) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping (yaml.safe_load)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), "", f"invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", f"the top level must be a mapping, got {type(data).__name__}")
    return data


def apply_overrides(mapping: Mapping, overrides: Iterable[str], source: str = "<overrides>") -> dict[str, Any]:
    """Return a copy with dotted `key.path=value` overrides applied (values parsed as YAML); unknown keys raise."""
    result = _deep_copy(mapping)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(source, override, "an override must look like key.path=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ConfigError(source, key, f"invalid override value {raw!r}: {e}") from None
        node, parts = result, key.strip().split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(source, ".".join(parts[: depth + 1]), f"unknown key in override {override!r}")
            if depth == len(parts) - 1:
                node[part] = value
            node = node[part]
    return result


def with_defaults(cls: type, mapping: Mapping) -> dict[str, Any]:
    """`mapping` with every defaulted field of dataclass `cls` filled in (recursively), so that dotted overrides can
    name fields a file leaves at their defaults. Keys the file gives win; unknown keys stay for the strict loader."""
    result = dict(mapping) if isinstance(mapping, Mapping) else mapping
    if not isinstance(result, dict):
        return result
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING and f.name not in result:
            result[f.name] = _deep_copy(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
            if dataclasses.is_dataclass(hints[f.name]):
                result[f.name] = with_defaults(hints[f.name], result.get(f.name, {}))
            elif f.name not in result:
                result[f.name] = _deep_copy(default)
    return result


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    return [_deep_copy(v) for v in value] if isinstance(value, list) else value


def dump_yaml(config: Any, path: str | os.PathLike) -> None:
    """Write a resolved config atomically (temp file in the same directory, then rename): dataclasses as
    `dataclasses.asdict`, mappings as they are (a model config: models/families.py's dump_model_config)."""
    data = config if isinstance(config, Mapping) else dataclasses.asdict(config)
    write_text(path, yaml.safe_dump(data, sort_keys=False))
