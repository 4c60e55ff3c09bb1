"""The tidy metrics table as the report and the model card see it: rows indexed by (slice, metric, threshold), the
slices, metrics and thresholds it holds, and per row the gap to overall and a flag (overall / fail / small /
undefined / "") derived once, so charts, tables and card agree.

    table = MetricsTable(rows, gate=gate, min_slice_size=100)
    view = metric_view(table, "false_positive_rate", 0.5)   # {"bars": [...], "overall": ..., "threshold": ...}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tfpretrain.reporting.formatting import fixed, format_threshold
from tfpretrain.reporting.gate_view import gate_summary
from tfpretrain.reporting.metric_info import is_count_metric
from tfpretrain.reporting.values import ReportInputError, normalize_rows

OVERALL = "overall"
DEFAULT_THRESHOLD = 0.5
_TOL = 1e-9
_GAP_TOLERANCE = 1e-12  # as in the gate: a gap equal to the limit passes


def _tkey(threshold: float | None) -> float | None:
    return None if threshold is None else round(threshold, 9)


def _same_threshold(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= _TOL)


class MetricsTable:
    """The normalized rows, indexed by (slice, metric, threshold), with derived gaps and flags."""

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        gate: Any = None,
        min_slice_size: int | None = None,
        overall_label: str | None = None,
    ):
        self.rows = normalize_rows(rows)
        self.gate = gate_summary(gate, self.rows)
        self.overall_label = overall_label or self.gate.get("overall_label") or OVERALL
        if min_slice_size is None:
            min_slice_size = self.gate.get("min_slice_size") or None
        if min_slice_size is not None and (isinstance(min_slice_size, bool) or int(min_slice_size) < 0):
            raise ReportInputError(f"min_slice_size must be an integer >= 0 or None, got {min_slice_size!r}")
        self.min_slice_size = int(min_slice_size) if min_slice_size else None

        slices: dict[str, dict[str, Any]] = {}
        if any(r["slice"] == self.overall_label for r in self.rows):
            slices[self.overall_label] = {"n": None, "note": None}
        metrics: dict[str, set] = {}
        self.index: dict[tuple[str, str, float | None], int] = {}
        for i, row in enumerate(self.rows):
            info = slices.setdefault(row["slice"], {"n": None, "note": None})
            if info["n"] is None and row.get("n") is not None:
                info["n"] = row["n"]
            if row.get("note") and not info["note"]:
                info["note"] = row["note"]
            metrics.setdefault(row["metric"], set()).add(_tkey(row["threshold"]))
            self.index.setdefault((row["slice"], row["metric"], _tkey(row["threshold"])), i)
        self.slice_info = slices
        self.slices = list(slices)
        # A slice whose only row is a value-less example_count (TFMA suppressed it) has no metrics to chart.
        self.empty_slices = [
            s
            for s in self.slices
            if all(r["value"] is None for r in self.rows if r["slice"] == s) and s != self.overall_label
        ]
        self.metrics = list(metrics)
        self.thresholded = {m: any(t is not None for t in ts) for m, ts in metrics.items()}
        self.thresholds = sorted({t for ts in metrics.values() for t in ts if t is not None})
        self.default_threshold = self._default_threshold()
        self.derived = [self._derive(row) for row in self.rows]

    def _default_threshold(self) -> float | None:
        """The gate's threshold, else 0.5, else the middle one."""
        for wanted in (self.gate.get("threshold"), DEFAULT_THRESHOLD):
            if wanted is None:
                continue
            for t in self.thresholds:
                if abs(t - wanted) <= _TOL:
                    return t
        return self.thresholds[len(self.thresholds) // 2] if self.thresholds else None

    def match_threshold(self, threshold: float | None) -> float | None:
        if threshold is None:
            return None
        for t in self.thresholds:
            if abs(t - threshold) <= _TOL:
                return t
        listed = [format_threshold(t) for t in self.thresholds]
        raise ReportInputError(f"threshold {threshold!r} is not in the metrics table (thresholds: {listed})")

    def row(self, slice_name: str, metric: str, threshold: float | None) -> dict[str, Any] | None:
        i = self.index.get((slice_name, metric, _tkey(threshold)))
        return None if i is None else self.rows[i]

    def is_small(self, n: int | None) -> bool:
        return self.min_slice_size is not None and n is not None and n < self.min_slice_size

    def small_slices(self) -> list[str]:
        return [s for s in self.slices if self.is_small(self.slice_info[s]["n"])] if self.min_slice_size else []

    def _derive(self, row: Mapping[str, Any]) -> dict[str, Any]:
        name, metric, threshold = row["slice"], row["metric"], row["threshold"]
        n = row.get("n") if row.get("n") is not None else self.slice_info[name]["n"]
        overall = self.row(self.overall_label, metric, threshold)
        overall_value = None if overall is None else overall["value"]
        gap = row.get("gap_to_overall")
        if gap is None and row["value"] is not None and overall_value is not None:
            gap = row["value"] - overall_value
        limit = self.gate["max_gap"].get(metric)
        failed = any(
            f["slice"] == name and f["metric"] == metric and _same_threshold(f["threshold"], threshold)
            for f in self.gate["failures"]
        )
        if name == self.overall_label:
            flag = "overall"
        elif failed:
            flag = "fail"
        elif self.is_small(n):
            flag = "small"
        elif row["value"] is None:
            flag = "undefined"
        elif limit is not None and gap is not None and abs(gap) > limit + _GAP_TOLERANCE:
            flag = "fail"
        else:
            flag = ""
        t_index = -1 if threshold is None else self.thresholds.index(self.match_threshold(threshold))
        return {"t": t_index, "n": n, "gap": gap, "overall": overall_value, "flag": flag, "limit": limit}


def metric_view(table: MetricsTable, metric: str, threshold: float | None) -> dict[str, Any]:
    """One metric at one threshold (ignored for threshold-free metrics; None: the default): its bars (one per
    slice that has a row, overall first), the overall value, how its intervals were computed, the gate's limit."""
    if metric not in table.thresholded:
        raise ReportInputError(f"metric {metric!r} is not in the metrics table; available: {table.metrics}")
    threshold = table.match_threshold(threshold) if table.thresholded[metric] else None
    if table.thresholded[metric] and threshold is None:
        threshold = table.default_threshold
    bars = []
    for name in table.slices:
        i = table.index.get((name, metric, _tkey(threshold)))
        if i is None:
            continue
        row, derived = table.rows[i], table.derived[i]
        bars.append(
            {
                "slice": name,
                "value": row["value"],
                "ci_low": row.get("ci_low"),
                "ci_high": row.get("ci_high"),
                "ci_method": row.get("ci_method"),
                "n": derived["n"],
                "gap": derived["gap"],
                "flag": derived["flag"],
                "limit": derived["limit"],
                "status": status_text(derived["flag"], derived["limit"], table.min_slice_size),
            }
        )
    overall = table.row(table.overall_label, metric, threshold)
    return {
        "metric": metric,
        "threshold": threshold,
        "bars": bars,
        "overall": None if overall is None else overall["value"],
        "ci_methods": list(dict.fromkeys(b["ci_method"] for b in bars if b["ci_method"] and b["ci_low"] is not None)),
        "limit": table.gate["max_gap"].get(metric),
        "min_slice_size": table.min_slice_size,
    }


def status_text(flag: str, limit: float | None, min_slice_size: int | None) -> str:
    """The status column of a metric table (report and card)."""
    if flag == "overall":
        return "reference"
    if flag == "fail":
        return "exceeds gate limit" + ("" if limit is None else f" ({fixed(limit, 4)})")
    if flag == "small":
        return f"small slice (n < {min_slice_size})"
    if flag == "undefined":
        return "undefined"
    return ""


def metric_order(table: MetricsTable) -> list[str]:
    """Gated metrics first (in the gate's order), then the table's order, with the example counts last."""
    gated = [m for m in table.gate["max_gap"] if m in table.thresholded]
    rest = [m for m in table.metrics if m not in gated]
    return gated + [m for m in rest if not is_count_metric(m)] + [m for m in rest if is_count_metric(m)]
