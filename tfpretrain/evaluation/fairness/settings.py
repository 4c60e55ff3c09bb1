"""An evaluation config file (configs/eval/*.yaml) -> EvalSettings, read by the project's one strict loader.

    settings = load_settings("configs/eval/default.yaml")
    result = fairness.evaluate_saved_model(model, data, output_dir=out, **settings.saved_model_kwargs())

Keys and types are checked by `config.load_dataclass` (unknown key, wrong type); values by EvalSettings itself.
`groups` (groups.GroupSpec.from_config, with the term lists of `term_lists`, a path relative to the config file,
default configs/eval/identity_terms.yaml) and `gate` (gate.FairnessGate.from_config) are built by their own
classes. Every mistake is one ConfigError naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from tfpretrain.config import ConfigError, load_dataclass, load_yaml
from tfpretrain.evaluation.fairness import eval_config as spec
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.evaluation.fairness.groups import DEFAULT_TERM_LISTS, GroupSpec, check_unique_columns, load_term_lists


def _checked(key: str, check, *args) -> Any:
    try:
        return check(*args)
    except (TypeError, ValueError) as e:
        raise ConfigError("<config>", key, str(e)) from None


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """The validated settings; `*_kwargs()` feed evaluate_saved_model / evaluate_predictions."""

    label_key: str = "label"
    prediction_key: str = "score"
    signature: str = "serving_default"
    thresholds: tuple[float, ...] = spec.DEFAULT_THRESHOLDS
    confidence: Literal["jackknife", "bootstrap"] | None = "jackknife"
    min_slice_size: int = 1
    example_weight_key: str | None = None
    label_threshold: float | None = None
    auc_num_thresholds: int | None = spec.DEFAULT_AUC_NUM_THRESHOLDS
    slices: tuple[str, ...] = ()
    intersections: tuple[tuple[str, ...], ...] = ()
    groups: tuple[GroupSpec, ...] = ()
    gate: FairnessGate | None = None

    def __post_init__(self) -> None:
        for key in ("label_key", "prediction_key", "signature"):
            _checked(key, spec.check_key, key, getattr(self, key))
        _checked("example_weight_key", lambda v: spec.check_key("example_weight_key", v, optional=True),
                 self.example_weight_key)
        checked = {
            "thresholds": _checked("thresholds", spec.check_thresholds, self.thresholds),
            "confidence": _checked("confidence", spec.check_confidence, self.confidence),
            "min_slice_size": _checked("min_slice_size", spec.check_count, "min_slice_size", self.min_slice_size, 1),
            "label_threshold": _checked("label_threshold", spec.check_label_threshold, self.label_threshold),
            "auc_num_thresholds": _checked(
                "auc_num_thresholds",
                lambda v: spec.check_count("auc_num_thresholds", v, 2, optional=True),
                self.auc_num_thresholds,
            ),
            "groups": _checked("groups", check_unique_columns, self.groups),
        }
        _checked("slices", spec.slicing_columns, self.slices)
        specs = _checked("intersections", spec.slicing_columns, self.slices, self.intersections)
        checked["slices"] = tuple(c[0] for c in specs[: len(self.slices)])
        checked["intersections"] = tuple(specs[len(self.slices) :])
        if self.gate is not None and not isinstance(self.gate, FairnessGate):
            raise ConfigError("<config>", "gate", f"must be a FairnessGate, got {self.gate!r}")
        for key, value in checked.items():
            object.__setattr__(self, key, value)

    def _common(self) -> dict[str, Any]:
        return {
            "slices": self.slices,
            "intersections": self.intersections,
            "groups": self.groups,
            "thresholds": self.thresholds,
            "confidence": self.confidence,
            "min_slice_size": self.min_slice_size,
            "label_threshold": self.label_threshold,
            "auc_num_thresholds": self.auc_num_thresholds,
        }

    def saved_model_kwargs(self) -> dict[str, Any]:
        return {
            "label_key": self.label_key,
            "prediction_key": self.prediction_key,
            "signature": self.signature,
            "example_weight_key": self.example_weight_key,
            **self._common(),
        }

    def predictions_kwargs(self) -> dict[str, Any]:
        return {
            "label_column": self.label_key,
            "score_column": self.prediction_key,
            "example_weight_column": self.example_weight_key,
            **self._common(),
        }


def _groups(config: Any, term_path: Any, base: Path, source: str) -> tuple[GroupSpec, ...]:
    if isinstance(config, Mapping | str) or not isinstance(config, Sequence):
        raise ConfigError(source, "groups", "must be a list of {column, kind, source?, threshold?, terms?}")
    term_lists = None
    if any(isinstance(g, Mapping) and g.get("kind") == "derived" and not isinstance(g.get("terms"), Mapping)
           for g in config):
        if term_path is not None and not isinstance(term_path, str | os.PathLike):
            raise ConfigError(source, "term_lists", f"must be a path, got {term_path!r}")
        term_lists = load_term_lists(DEFAULT_TERM_LISTS if term_path is None else base / term_path)
    return tuple(GroupSpec.from_config(g, term_lists, source) for g in config)


def _gate(config: Any, source: str) -> FairnessGate:
    try:
        return FairnessGate.from_config(config, source)
    except ConfigError as e:
        raise ConfigError(source, e.key if e.key.startswith("gate") else f"gate.{e.key}", e.message) from None


def load_settings(config: str | os.PathLike | Mapping[str, Any]) -> EvalSettings:
    """configs/eval/<name>.yaml (or a mapping) -> EvalSettings. Every mistake is one ConfigError naming the key.

    `term_lists` (for derived groups) is a path relative to the config file (relative to the working directory
    for a mapping; default: identity_terms.yaml beside the shipped configs).
    """
    if isinstance(config, Mapping):
        source, base, data = "<config>", Path.cwd(), dict(config)
    else:
        source, base = os.fspath(config), Path(config).resolve().parent
        data = load_yaml(config)
    term_path = data.pop("term_lists", None)
    for key in ("slices", "intersections"):  # `slices:` left empty in YAML means none
        if key in data and data[key] is None:
            del data[key]
    groups = data.pop("groups", None) or ()
    gate = data.pop("gate", None)
    settings = load_dataclass(EvalSettings, data, source)
    built = {"groups": _groups(groups, term_path, base, source)}
    if gate is not None:
        built["gate"] = _gate(gate, source)
    try:
        return dataclasses.replace(settings, **built)
    except ConfigError as e:
        raise ConfigError(source, e.key, e.message) from None
