"""A fairness gate over the tidy metrics table: fail when a slice's metric is too far from the overall value.

    gate = FairnessGate({"false_positive_rate": 0.1, "false_negative_rate": 0.1}, threshold=0.5, min_slice_size=100)
    result = gate.check(rows)          # rows: fairness.metrics_table(...) or metrics.json / metrics.csv rows
    if result.status != "pass":
        raise SystemExit(result.message())   # exit status: result.exit_code (0 pass, 1 fail, 3 nothing checked)

For every gated metric and every slice, the gap is |slice value - overall value| at the gate's decision threshold
(metrics without a threshold, e.g. auc, are compared as they are). A gap above `max_gap[metric]` fails. Slices with
fewer than `min_slice_size` examples, slices TFMA suppressed (its own min_slice_size) and undefined values (e.g. a
false positive rate on a slice without negatives) are *skipped*, and reported as skipped, never failed.

The gate never passes on nothing. A gated metric with no checked gap (absent from the table, not computed at the
gate's threshold, no overall value, no slices, or every slice skipped) is *unchecked*, with the reason. The result's
status is "fail" when any gap is over its limit, else "unchecked" when any gated metric was not checked, else
"pass"; `exit_code` is 1, 3 and 0 respectively.
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


PASS, FAIL, UNCHECKED = "pass", "fail", "unchecked"
EXIT_CODES = {PASS: 0, FAIL: 1, UNCHECKED: 3}


class Unchecked(NamedTuple):
    """A gated metric with no checked gap, and why."""

    metric: str
    threshold: float | None
    reason: str


@dataclasses.dataclass(frozen=True)
class GateResult:
    status: str  # PASS, FAIL or UNCHECKED (see the module docstring)
    failures: tuple[GateFailure, ...]
    skipped: tuple[GateSkip, ...]
    checked: int
    unchecked: tuple[Unchecked, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def exit_code(self) -> int:
        """The exit status of `tfpretrain evaluate`: 0 pass, 1 fail, 3 nothing checked for some gated metric."""
        return EXIT_CODES[self.status]

    @property
    def reason(self) -> str | None:
        """Why the gate is unchecked (one clause per unchecked metric); None when every gated metric was checked."""
        return "; ".join(f"{_fmt_metric(u.metric, u.threshold)}: {u.reason}" for u in self.unchecked) or None

    def message(self) -> str:
        """One line when passing or unchecked; otherwise one line per failing slice (worst gap first)."""
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        if self.status == PASS:
            return f"fairness gate passed: {self.checked} slice/metric gaps within limits{skipped}"
        if self.status == UNCHECKED:
            return f"fairness gate NOT CHECKED ({self.checked} slice/metric gaps checked{skipped}): {self.reason}"
        lines = [
            f"fairness gate FAILED: {len(self.failures)} of {self.checked} slice/metric gaps over the limit{skipped}"
        ]
        for f in sorted(self.failures, key=lambda f: -f.gap):
            n = "?" if f.n is None else f.n
            lines.append(
                f"  {f.slice}: {_fmt_metric(f.metric, f.threshold)} = {f.value:.4f} vs overall {f.overall:.4f} "
                f"(gap {f.gap:.4f}, n={n})"
            )
        if self.unchecked:
            lines.append(f"  not checked: {self.reason}")
        return "\n".join(lines)

    def failing_slices(self) -> list[str]:
        return list(dict.fromkeys(f.slice for f in self.failures))


def _skip_summary(skips: list[GateSkip]) -> str:
    """Why every slice of a metric was skipped, e.g. "all 3 slices skipped (2 below min_slice_size=100, ...)"."""
    reasons: dict[str, int] = {}
    for skip in skips:
        reason = skip.reason.split(" < ")[-1] if " < min_slice_size=" in skip.reason else skip.reason
        reason = f"below {reason}" if reason.startswith("min_slice_size=") else reason
        reasons[reason] = reasons.get(reason, 0) + 1
    listed = ", ".join(f"{count} {reason}" for reason, count in reasons.items())
    return f"all {len(skips)} slices skipped ({listed})"


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

        Never raises on the table's content: a gated metric absent from the rows, a threshold the metric was not
        computed at, a table without the overall slice or without other slices make that metric unchecked.
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
        others = [name for name in slices if name != self.overall_label]

        failures, skipped, unchecked, checked = [], [], [], 0
        for metric in self.max_gap:
            threshold, problem = self._threshold_for(metric, thresholds)
            if problem is None and self.overall_label not in slices:
                listed = sorted(slices)[:10]
                problem = f"the metrics table has no overall slice {self.overall_label!r} (slices: {listed})"
            elif problem is None and not others:
                problem = f"the metrics table has no slices besides {self.overall_label!r}"
            if problem is not None:
                unchecked.append(Unchecked(metric, threshold, problem))
                continue
            overall = _number(by_key.get((self.overall_label, metric, threshold), {}).get("value"))
            metric_skips, metric_checked = [], 0
            for name in others:
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
                    metric_skips.append(GateSkip(name, metric, threshold, n, reason))
                    continue
                metric_checked += 1
                gap = abs(value - overall)
                if gap > self.max_gap[metric] + _GAP_TOLERANCE:
                    failures.append(GateFailure(name, metric, threshold, value, overall, gap, n))
            if not metric_checked:
                unchecked.append(Unchecked(metric, threshold, _skip_summary(metric_skips)))
            skipped += metric_skips
            checked += metric_checked
        status = FAIL if failures else UNCHECKED if unchecked else PASS
        return GateResult(status, tuple(failures), tuple(skipped), checked, tuple(unchecked))

    def _threshold_for(self, metric: str, thresholds: Mapping[str, set]) -> tuple[float | None, str | None]:
        """(the threshold to check `metric` at, None) or (the gate's threshold, why it cannot be checked)."""
        if metric not in thresholds:
            return None, f"not in the metrics table; available: {sorted(thresholds)}"
        available = thresholds[metric]
        if available == {None}:
            return None, None
        if self.threshold is not None:
            for t in available:
                if t is not None and abs(t - self.threshold) <= _THRESHOLD_TOLERANCE:
                    return t, None
        listed = sorted(t for t in available if t is not None)
        return self.threshold, f"computed at thresholds {listed}, not at the gate threshold {self.threshold!r}"
