"""Any description of a fairness gate -> one summary dict the report and the model card show.

Accepts None (no gate), a `FairnessGate` (checked against the rows here, so the limits are known), a `GateResult`
(limits unknown unless it has `max_gap`), a gate config mapping ({max_gap, threshold?, min_slice_size?}: built and
checked here) or a plain result mapping ({passed, failures, skipped?, checked?, max_gap?, threshold?,
min_slice_size?}); failures as GateFailure tuples, (slice, metric, threshold, value, overall, gap, n) sequences or
dicts with those keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.reporting.formatting import format_gap, format_value
from tfpretrain.reporting.values import ReportInputError, count, number

FAILURE_KEYS = ("slice", "metric", "threshold", "value", "overall", "gap", "n")
SKIP_KEYS = ("slice", "metric", "threshold", "n", "reason")
UNCHECKED_KEYS = ("metric", "threshold", "reason")
STATUSES = ("pass", "fail", "unchecked")  # as GateResult.status: "unchecked" = a gated metric had no checked gap


def _record(item: Any, keys: Sequence[str]) -> dict[str, Any]:
    """A gate failure / skip as a mapping, a namedtuple or a plain tuple -> {key: value}."""
    if isinstance(item, Mapping):
        return {k: item.get(k) for k in keys}
    if hasattr(item, "_asdict"):
        return {k: item._asdict().get(k) for k in keys}
    return dict(zip(keys, item))


def _failure(item: Any) -> dict[str, Any]:
    data = _record(item, FAILURE_KEYS)
    parsed = {k: number(data[k]) for k in ("threshold", "value", "overall", "gap")}
    return {"slice": str(data["slice"]), "metric": str(data["metric"]), **parsed, "n": count(data["n"])}


def _skip(item: Any) -> dict[str, Any]:
    data = _record(item, SKIP_KEYS)
    return {
        "slice": str(data["slice"]),
        "metric": str(data["metric"]),
        "threshold": number(data["threshold"]),
        "n": count(data["n"]),
        "reason": "" if data["reason"] is None else str(data["reason"]),
    }


def _unchecked(item: Any) -> dict[str, Any]:
    data = _record(item, UNCHECKED_KEYS)
    return {"metric": str(data["metric"]), "threshold": number(data["threshold"]), "reason": str(data["reason"])}


def _getter(obj: Any):
    return obj.get if isinstance(obj, Mapping) else lambda key, default=None: getattr(obj, key, default)


def gate_summary(gate: Any, rows: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """-> {configured, status ("pass" / "fail" / "unchecked"), passed, failures (largest gap first), skipped,
    unchecked (gated metrics with no checked gap, and why), checked, max_gap, threshold, min_slice_size,
    overall_label}."""
    summary: dict[str, Any] = {
        "configured": False,
        "status": None,
        "passed": None,
        "failures": [],
        "skipped": [],
        "unchecked": [],
        "checked": None,
        "max_gap": {},
        "threshold": None,
        "min_slice_size": None,
        "overall_label": None,
    }
    if gate is None:
        return summary
    config = None
    if isinstance(gate, Mapping) and "passed" not in gate and "max_gap" in gate:
        gate = FairnessGate.from_config(gate, source="<report gate>")
    if hasattr(gate, "check") and hasattr(gate, "max_gap"):  # a FairnessGate: check it here
        config = gate
        if rows is None:
            raise ReportInputError("a FairnessGate needs the metrics rows to be checked")
        gate = gate.check(rows)
    get = _getter(gate)
    status = get("status")
    if status is None and get("passed") is not None:  # a result without a status: pass or fail
        status = "pass" if get("passed") else "fail"
    if status not in STATUSES:
        raise ReportInputError(
            f"gate must be a FairnessGate, a GateResult, a gate config or a result dict, got {gate!r}"
        )
    source = _getter(config if config is not None else gate)
    summary.update(
        configured=True,
        status=status,
        passed=status == "pass",
        failures=sorted((_failure(f) for f in get("failures") or ()), key=lambda f: -(f["gap"] or 0.0)),
        skipped=[_skip(s) for s in get("skipped") or ()],
        unchecked=[_unchecked(u) for u in get("unchecked") or ()],
        checked=count(get("checked")),
        max_gap={str(k): float(v) for k, v in dict(source("max_gap") or {}).items()},
        threshold=number(source("threshold")),
        min_slice_size=count(source("min_slice_size")),
        overall_label=source("overall_label"),
    )
    return summary


def failure_gap(failure: Mapping[str, Any]) -> str:
    """A gate failure's gap as text, signed (slice - overall) when value and overall are known."""
    metric = failure["metric"]
    if failure["value"] is None or failure["overall"] is None:
        return format_value(failure["gap"], metric, 4)
    return format_gap(failure["value"] - failure["overall"], metric)
