"""A fairness gate over the tidy metrics table: fail when a slice's metric is too far from the overall value.

    gate = FairnessGate({"false_positive_rate": 0.1, "false_negative_rate": 0.1}, threshold=0.5, min_slice_size=100)
    result = gate.check(rows)          # rows: fairness.metrics_table(...) or metrics.json / metrics.csv rows
    if not result.passed:
        raise SystemExit(result.message())

For every gated metric and every slice, the gap is |slice value - overall value| at the gate's decision threshold
(metrics without a threshold, e.g. auc, are compared as they are). A gap above `max_gap[metric]` fails. Slices with
fewer than `min_slice_size` examples, slices TFMA suppressed (its own min_slice_size) and undefined values (e.g. a
false positive rate on a slice without negatives) are *skipped*, and reported as skipped, never failed.
Pure Python: rows may carry numbers or strings (from metrics.csv); None / "" / NaN are missing.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from tfpretrain.config import ConfigError

OVERALL = "overall"
_GAP_TOLERANCE = 1e-12  # a gap equal to the limit passes, whatever the float rounding of value - overall
_THRESHOLD_TOLERANCE = 1e-9
_CONFIG_KEYS = ("max_gap", "threshold", "min_slice_size", "overall_label")


class GateFailure(NamedTuple):
    slice: str
    metric: str
    threshold: float | None
    value: float
    overall: float
    gap: float
    n: int | None


class GateSkip(NamedTuple):
    slice: str
    metric: str
    threshold: float | None
    n: int | None
    reason: str


def _fmt_metric(metric: str, threshold: float | None) -> str:
    return metric if threshold is None else f"{metric}@{threshold:g}"


@dataclasses.dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: tuple[GateFailure, ...]
    skipped: tuple[GateSkip, ...]
    checked: int

    def message(self) -> str:
        """One line when passing; otherwise one line per failing slice (worst gap first)."""
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        if self.passed:
            return f"fairness gate passed: {self.checked} slice/metric gaps within limits{skipped}"
        lines = [
            f"fairness gate FAILED: {len(self.failures)} of {self.checked} slice/metric gaps over the limit{skipped}"
        ]
        for f in sorted(self.failures, key=lambda f: -f.gap):
            n = "?" if f.n is None else f.n
            lines.append(
                f"  {f.slice}: {_fmt_metric(f.metric, f.threshold)} = {f.value:.4f} vs overall {f.overall:.4f} "
                f"(gap {f.gap:.4f}, n={n})"
            )
        return "\n".join(lines)

    def failing_slices(self) -> list[str]:
        return list(dict.fromkeys(f.slice for f in self.failures))


def _number(value: Any) -> float | None:
    """float, or None for None / "" / NaN (values from JSON, CSV strings or Python rows)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _count(value: Any) -> int | None:
    value = _number(value)
    return None if value is None else int(round(value))


def _validate_limit(metric: Any, limit: Any, source: str) -> float:
    key = f"max_gap.{metric}"
    if not isinstance(metric, str) or not metric:
        raise ConfigError(source, "max_gap", f"metric names must be non-empty strings, got {metric!r}")
    if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not math.isfinite(limit):
        raise ConfigError(source, key, f"must be a finite number, got {limit!r}")
    if limit < 0:
        raise ConfigError(source, key, f"must be >= 0 (gaps are absolute), got {limit!r}")
    return float(limit)


@dataclasses.dataclass(frozen=True)
class FairnessGate:
    """max_gap: {metric: largest allowed |slice - overall|}; metric names as in the metrics table.

    `threshold` selects the decision threshold of thresholded metrics (false_positive_rate@0.5, ...);
    metrics without thresholds ignore it. `min_slice_size`: smaller slices are skipped (0: check all).
    """

    max_gap: Mapping[str, float] = dataclasses.field(hash=False)
    threshold: float | None = 0.5
    min_slice_size: int = 0
    overall_label: str = OVERALL
    source: str = dataclasses.field(default="<gate>", compare=False)

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(self.max_gap, Mapping) or not self.max_gap:
            raise ConfigError(src, "max_gap", f"must be a non-empty mapping {{metric: gap}}, got {self.max_gap!r}")
        object.__setattr__(self, "max_gap", {m: _validate_limit(m, v, src) for m, v in self.max_gap.items()})
        if self.threshold is not None and (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, numbers.Real)
            or not 0.0 <= self.threshold <= 1.0
        ):
            raise ConfigError(src, "threshold", f"must be a number in [0, 1] or null, got {self.threshold!r}")
        if isinstance(self.min_slice_size, bool) or not isinstance(self.min_slice_size, int) or self.min_slice_size < 0:
            raise ConfigError(src, "min_slice_size", f"must be an integer >= 0, got {self.min_slice_size!r}")
        if not isinstance(self.overall_label, str) or not self.overall_label:
            raise ConfigError(src, "overall_label", f"must be a non-empty string, got {self.overall_label!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], source: str = "<gate config>") -> FairnessGate:
        """{max_gap: {metric: gap}, threshold?: 0.5, min_slice_size?: 0, overall_label?: "overall"} -> gate."""
        if not isinstance(config, Mapping):
            raise ConfigError(source, "gate", f"must be a mapping, got {config!r}")
        unknown = sorted(set(config) - set(_CONFIG_KEYS))
        if unknown:
            raise ConfigError(source, "gate", f"unknown keys {unknown}; allowed: {list(_CONFIG_KEYS)}")
        if "max_gap" not in config:
            raise ConfigError(source, "max_gap", "required: {metric: largest allowed gap to overall}")
        return cls(**config, source=source)

    def to_config(self) -> dict[str, Any]:
        return {
            "max_gap": dict(self.max_gap),
            "threshold": self.threshold,
            "min_slice_size": self.min_slice_size,
            "overall_label": self.overall_label,
        }

    def check(self, rows: Iterable[Mapping[str, Any]]) -> GateResult:
        """Check every (slice, gated metric) of the metrics table; see the module docstring for the rules.

        Raises ValueError (naming what the table has) for a gated metric absent from the rows, a threshold the
        metric was not computed at, or a table without the overall slice.
        """
        rows = list(rows)
        by_key: dict[tuple[str, str, float | None], Mapping[str, Any]] = {}
        slices: dict[str, None] = {}
        notes: dict[str, str] = {}
        sizes: dict[str, int | None] = {}
        thresholds: dict[str, set] = {}
        for row in rows:
            name, metric = str(row["slice"]), str(row["metric"])
            threshold = _number(row.get("threshold"))
            slices.setdefault(name)
            if row.get("note"):
                notes[name] = str(row["note"])
            n = _count(row.get("n"))
            if n is not None or name not in sizes:
                sizes[name] = n
            thresholds.setdefault(metric, set()).add(threshold)
            by_key[(name, metric, threshold)] = row
        if self.overall_label not in slices:
            raise ValueError(
                f"metrics table has no overall slice {self.overall_label!r} (slices: {sorted(slices)[:10]})"
            )
        metrics = {metric: self._threshold_for(metric, thresholds) for metric in self.max_gap}

        failures, skipped, checked = [], [], 0
        for metric, threshold in metrics.items():
            overall = _number(by_key.get((self.overall_label, metric, threshold), {}).get("value"))
            for name in slices:
                if name == self.overall_label:
                    continue
                row = by_key.get((name, metric, threshold))
                n = _count(row.get("n")) if row is not None else sizes.get(name)
                if n is None:
                    n = sizes.get(name)
                reason = None
                value = None if row is None else _number(row.get("value"))
                if row is None:
                    reason = notes.get(name, "no value for this slice")
                elif self.min_slice_size and n is None:
                    reason = "unknown slice size"
                elif n is not None and n < self.min_slice_size:
                    reason = f"n={n} < min_slice_size={self.min_slice_size}"
                elif value is None:
                    reason = "undefined value (e.g. no positives/negatives in the slice)"
                elif overall is None:
                    reason = "undefined overall value"
                if reason is not None:
                    skipped.append(GateSkip(name, metric, threshold, n, reason))
                    continue
                checked += 1
                gap = abs(value - overall)
                if gap > self.max_gap[metric] + _GAP_TOLERANCE:
                    failures.append(GateFailure(name, metric, threshold, value, overall, gap, n))
        return GateResult(not failures, tuple(failures), tuple(skipped), checked)

    def _threshold_for(self, metric: str, thresholds: Mapping[str, set]) -> float | None:
        if metric not in thresholds:
            raise ValueError(f"gate metric {metric!r} is not in the metrics table; available: {sorted(thresholds)}")
        available = thresholds[metric]
        if available == {None}:
            return None
        if self.threshold is not None:
            for t in available:
                if t is not None and abs(t - self.threshold) <= _THRESHOLD_TOLERANCE:
                    return t
        listed = sorted(t for t in available if t is not None)
        raise ValueError(
            f"gate metric {metric!r} was computed at thresholds {listed}, not at the gate threshold {self.threshold!r}"
        )
