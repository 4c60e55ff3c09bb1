"""A self-contained HTML fairness report (Fairness Indicators style) from the tidy metrics table.

    from tfpretrain.evaluation.fairness import tfma_runner as fairness
    from tfpretrain.reporting.report import page as report
    from tfpretrain.evaluation.fairness.gate import FairnessGate
    rows = fairness.read_tables("runs/eval")                  # or fairness.metrics_table(result)
    gate = FairnessGate({"false_positive_rate": 0.1, "false_negative_rate": 0.1}, min_slice_size=100)
    report.write_report("runs/eval/report.html", rows, title="Toxicity classifier v3", gate=gate,
                        model_info={"model": "bert-base", "checkpoint": "runs/ft/ckpt-12000"})
    svg = report.render_svg_chart(rows, "false_positive_rate", 0.5)   # one chart, e.g. IPython.display.SVG(svg)

The report is ONE static HTML file: inline CSS, inline JavaScript and inline SVG, no server, no CDN, nothing
fetched. The metric rows are embedded verbatim as JSON (`<script type="application/json" id="report-data">`,
`payload["rows"]`), so the file is also the machine-readable record of what it shows.

What it shows, top to bottom:
  * the fairness gate verdict (PASSED / FAILED with every failing slice, metric, value, gap and limit; or "no gate");
  * a decision-threshold selector (<select>): threshold-dependent metrics (false_positive_rate, ...) are shown at the
    chosen threshold; threshold-free ones (auc, example_count, ...) never change. Default: the gate's threshold,
    else 0.5, else the first threshold. The URL fragment or query `threshold=0.75` selects a threshold on load
    (`report.html#threshold=0.75`), and changing the selector updates the fragment, so a view can be linked;
  * per metric: a bar chart of the metric per slice (overall first, in grey), 95% CI whiskers, the overall value as
    a dashed horizontal reference line, n under every bar; bars of slices with fewer than `min_slice_size`
    examples hatched and marked with a warning sign; bars whose |gap to overall| exceeds the gate's limit (or that
    the gate failed) in vermillion with a dark outline; and a table (slice, n, value, CI, gap, status), sortable by
    clicking a column header;
  * `model_info` as a key/value table, then the caller's extra `sections` (bias probes, privacy, energy, ...).

The charts for the default threshold are rendered here, server side, so the report reads with JavaScript off;
the script re-renders charts and tables from the embedded data on load and on every threshold change (it sets
`<body data-rendered="1" data-threshold="0.5">` when done). The palette is Okabe-Ito (colour-blind safe), and no
state is shown by colour alone (hatching, outline, warning sign, table status column). All text from the data is
escaped (html.escape here, DOM textContent in the script; the JSON escapes every "<", ">" and "&").

Pure Python (no TF). Rows may carry numbers or strings (metrics.csv); None / "" / NaN are missing.
"""

from __future__ import annotations

import datetime
import decimal
import html
import json
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from tfpretrain.atomic import write_text

OVERALL = "overall"
DEFAULT_THRESHOLD = 0.5
CI_LEVEL = "95%"
_TOL = 1e-9
_GAP_TOLERANCE = 1e-12  # as in gate.py: a gap equal to the limit passes
_ASSETS = "assets"

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
COLORS = {
    "slice": "#0072B2",  # blue
    "overall": "#666666",  # grey
    "fail": "#D55E00",  # vermillion
    "small": "#0072B2",  # hatched blue
    "ink": "#1a1a1a",
    "grid": "#e3e3e3",
    "warn_text": "#7a4b00",
}

# TFMA metric name -> (label, what it means). Unknown metrics get their name, de-underscored.
METRIC_INFO: dict[str, tuple[str, str]] = {
    "example_count": ("Example count", "Number of examples in the slice."),
    "weighted_example_count": ("Weighted example count", "Sum of example weights in the slice."),
    "auc": (
        "AUC",
        "Area under the ROC curve: how well scores rank positives above negatives, at every threshold "
        "(higher is better; 0.5 is chance).",
    ),
    "binary_accuracy": ("Accuracy", "Share of examples classified correctly (at threshold 0.5)."),
    "calibration": ("Calibration", "Mean prediction / mean label (1 is calibrated; >1 over-predicts)."),
    "mean_label": ("Mean label", "Share of positive labels in the slice (the base rate)."),
    "mean_prediction": ("Mean prediction", "Mean predicted probability in the slice."),
    "false_positive_rate": (
        "False positive rate",
        "Share of actual negatives flagged as positive (lower is "
        "better). Unequal rates mean some groups are wrongly flagged more often.",
    ),
    "false_negative_rate": ("False negative rate", "Share of actual positives the model misses (lower is better)."),
    "true_positive_rate": (
        "True positive rate",
        "Share of actual positives the model catches (recall; higher is "
        "better). Equal rates across groups is 'equal opportunity'.",
    ),
    "true_negative_rate": ("True negative rate", "Share of actual negatives classified negative (higher is better)."),
    "positive_rate": (
        "Positive rate",
        "Share of examples predicted positive (selection rate; equal rates across groups is 'demographic parity').",
    ),
    "negative_rate": ("Negative rate", "Share of examples predicted negative."),
    "false_discovery_rate": ("False discovery rate", "Share of positive predictions that are wrong (lower is better)."),
    "false_omission_rate": ("False omission rate", "Share of negative predictions that are wrong (lower is better)."),
    "precision": ("Precision", "Share of positive predictions that are right (higher is better)."),
    "recall": ("Recall", "Share of actual positives the model catches (higher is better)."),
}

# Chart geometry: report.js mirrors these numbers (payload["geometry"]), so both renderers draw the same chart.
GEOMETRY = {
    "title_h": 26,  # the chart title's band
    "top": 50,  # plot top (title band + room for value labels above the tallest bar/whisker)
    "plot_h": 220,
    "left": 64,
    "right": 112,  # room for the "overall" reference-line label
    "line_h": 13,
    "slot_min": 64,
    "slot_max": 136,
    "char_w": 6.6,  # ~ an 11px sans-serif character
    "bar_frac": 0.6,
    "label_chars": 18,  # slice-name lines are cut to this many characters (full name in the tooltip / table)
    "label_lines": 3,
}


# --------------------------------------------------------------------------------------------- numbers & text


def _number(value: Any) -> float | None:
    """float, or None for None / "" / NaN / inf (values from JSON, CSV strings, numpy or Python rows)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _count(value: Any) -> int | None:
    value = _number(value)
    return None if value is None else int(round(value))


def _fixed(value: float, digits: int) -> str:
    """`value` with `digits` decimals, rounding half away from zero on the exact binary value: what JavaScript's
    Number.prototype.toFixed does, so the server-side and the in-browser renderings print the same digits."""
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        text = str(decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-digits), decimal.ROUND_HALF_UP))
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]  # no "-0.000"
    return text


def _group_thousands(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("-")
    groups = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return sign + ",".join([digits, *groups])


def is_count_metric(metric: str) -> bool:
    return metric.rsplit("/", 1)[-1].endswith("example_count") or metric.endswith("_count")


def format_value(value: float | None, metric: str, digits: int = 3) -> str:
    """A metric value as shown in charts (digits=3) and tables (digits=4); counts as grouped integers."""
    if value is None:
        return "n/a"
    if is_count_metric(metric):
        return _group_thousands(_fixed(value, 0))
    return _fixed(value, digits)


def format_gap(gap: float | None, metric: str, digits: int = 4) -> str:
    if gap is None:
        return "n/a"
    text = format_value(abs(gap), metric, digits)
    if not text.strip("0.,"):
        return text
    return ("+" if gap > 0 else "-") + text


def format_threshold(threshold: float | None) -> str:
    return "" if threshold is None else f"{threshold:g}"


def metric_label(metric: str) -> str:
    base = metric.rsplit("/", 1)[-1]
    label = METRIC_INFO.get(base, (base.replace("_", " ").capitalize(), ""))[0]
    prefix = metric[: -len(base)]
    return f"{prefix}{label}" if prefix else label


def metric_description(metric: str) -> str:
    return METRIC_INFO.get(metric.rsplit("/", 1)[-1], ("", ""))[1]


def _tkey(threshold: float | None) -> float | None:
    return None if threshold is None else round(threshold, 9)


# ---------------------------------------------------------------------------------------------------- the table


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _json_safe(value.item())
    return str(value)


_FLOAT_KEYS = ("threshold", "value", "ci_low", "ci_high", "gap_to_overall")


def normalize_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with numbers parsed (CSV strings, numpy scalars), missing values as None and everything JSON-safe.

    Python rows from `fairness.metrics_table` come back equal; unknown keys are kept (JSON-safe).
    """
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(f"metrics row {i} must be a mapping, got {type(row).__name__}")
        missing = [k for k in ("slice", "metric") if row.get(k) in (None, "")]
        if missing:
            raise ValueError(f"metrics row {i} has no {' / '.join(missing)}: {dict(row)!r}")
        clean: dict[str, Any] = {}
        for key, value in row.items():
            key = str(key)
            if key in ("slice", "metric"):
                clean[key] = str(value)
            elif key in _FLOAT_KEYS:
                clean[key] = _number(value)
            elif key == "n":
                clean[key] = _count(value)
            elif key == "note":
                clean[key] = None if value is None or (isinstance(value, str) and not value.strip()) else str(value)
            else:
                clean[key] = _json_safe(value)
        clean.setdefault("threshold", None)
        clean.setdefault("value", None)
        out.append(clean)
    return out


def _slice_lines(name: str, chars: int, lines: int) -> list[str]:
    """A slice name as at most `lines` label lines: one per "&"-joined column, each cut to `chars` characters."""
    parts = name.split("&") if name else [""]
    if len(parts) > lines:
        parts = parts[: lines - 1] + [f"+{len(parts) - lines + 1} more"]
    return [p if len(p) <= chars else p[: chars - 1] + "\u2026" for p in parts]


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
            raise ValueError(f"min_slice_size must be an integer >= 0 or None, got {min_slice_size!r}")
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
        raise ValueError(f"threshold {threshold!r} is not in the metrics table (thresholds: {listed})")

    def row(self, slice_name: str, metric: str, threshold: float | None) -> dict[str, Any] | None:
        i = self.index.get((slice_name, metric, _tkey(threshold)))
        return None if i is None else self.rows[i]

    def is_small(self, n: int | None) -> bool:
        return self.min_slice_size is not None and n is not None and n < self.min_slice_size

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
        t_index = -1 if threshold is None else self.thresholds.index(_nearest(self.thresholds, threshold))
        return {"t": t_index, "n": n, "gap": gap, "overall": overall_value, "flag": flag, "limit": limit}


def _same_threshold(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= _TOL)


def _nearest(values: Sequence[float], value: float) -> float:
    return min(values, key=lambda t: abs(t - value))


# ------------------------------------------------------------------------------------------------------ the gate


def _record(item: Any, keys: Sequence[str]) -> dict[str, Any]:
    """A gate failure / skip as a mapping, a namedtuple or a plain tuple -> {key: value}."""
    if isinstance(item, Mapping):
        return {k: item.get(k) for k in keys}
    if hasattr(item, "_asdict"):
        return {k: item._asdict().get(k) for k in keys}
    return dict(zip(keys, item))


def _failure_dict(failure: Any) -> dict[str, Any]:
    data = _record(failure, ("slice", "metric", "threshold", "value", "overall", "gap", "n"))
    return {
        "slice": str(data["slice"]),
        "metric": str(data["metric"]),
        "threshold": _number(data["threshold"]),
        "value": _number(data["value"]),
        "overall": _number(data["overall"]),
        "gap": _number(data["gap"]),
        "n": _count(data["n"]),
    }


def _skip_dict(skip: Any) -> dict[str, Any]:
    data = _record(skip, ("slice", "metric", "threshold", "n", "reason"))
    return {
        "slice": str(data["slice"]),
        "metric": str(data["metric"]),
        "threshold": _number(data["threshold"]),
        "n": _count(data["n"]),
        "reason": "" if data["reason"] is None else str(data["reason"]),
    }


def gate_summary(gate: Any, rows: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Any gate description -> {configured, passed, failures, skipped, checked, max_gap, threshold, ...}.

    Accepts None (no gate), a `gate.FairnessGate` (checked against `rows` here: the report then knows the
    limits), a `gate.GateResult` (limits unknown unless it has `max_gap`), a gate config mapping
    ({max_gap: ..., threshold?, min_slice_size?}: built and checked here), or a plain result mapping
    ({passed, failures, skipped?, checked?, max_gap?, threshold?, min_slice_size?}); failures as GateFailure
    tuples, (slice, metric, threshold, value, overall, gap, n) sequences or dicts with those keys.
    """
    summary: dict[str, Any] = {
        "configured": False,
        "passed": None,
        "failures": [],
        "skipped": [],
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
        from tfpretrain.evaluation.fairness.gate import FairnessGate

        gate = FairnessGate.from_config(gate, source="<report gate>")
    if hasattr(gate, "check") and hasattr(gate, "max_gap"):  # a FairnessGate: check it here
        config = gate
        if rows is None:
            raise ValueError("a FairnessGate needs the metrics rows to be checked")
        gate = gate.check(rows)
    get = gate.get if isinstance(gate, Mapping) else lambda key, default=None: getattr(gate, key, default)
    if get("passed") is None:
        raise ValueError(f"gate must be a FairnessGate, a GateResult, a gate config or a result dict, got {gate!r}")
    source = config if config is not None else gate
    sget = source.get if isinstance(source, Mapping) else lambda key, default=None: getattr(source, key, default)
    max_gap = sget("max_gap") or {}
    summary.update(
        configured=True,
        passed=bool(get("passed")),
        failures=sorted((_failure_dict(f) for f in get("failures") or ()), key=lambda f: -(f["gap"] or 0.0)),
        skipped=[_skip_dict(s) for s in get("skipped") or ()],
        checked=_count(get("checked")),
        max_gap={str(k): float(v) for k, v in dict(max_gap).items()},
        threshold=_number(sget("threshold")),
        min_slice_size=_count(sget("min_slice_size")),
        overall_label=sget("overall_label"),
    )
    return summary


# ------------------------------------------------------------------------------------------------------- charts


def _nice_step(span: float) -> float:
    """1, 2 or 5 x 10^k >= span / 5 (report.js computes the same: exact powers of ten, no log10 rounding)."""
    raw = span / 5.0
    exp = 0
    power = 1.0
    while power * 10 <= raw:
        exp += 1
        power = float(10**exp)
    while power > raw:
        exp -= 1
        power = float(10**exp) if exp >= 0 else 1.0 / float(10**-exp)
    fraction = raw / power
    nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    return nice * power


def _axis(values: Iterable[float]) -> tuple[float, float, float]:
    values = [v for v in values if v is not None]
    lo = min([0.0, *values])
    hi = max([0.0, *values])
    if hi - lo <= 0:
        hi = lo + 1.0
    step = _nice_step(hi - lo)
    lo_i = math.floor(lo / step + 1e-9)
    hi_i = math.ceil(hi / step - 1e-9)
    return lo_i * step, hi_i * step, step


def _step_digits(step: float) -> int:
    digits = 0
    while digits < 12 and abs(step * 10**digits - round(step * 10**digits)) > 1e-6:
        digits += 1
    return digits


def _c(x: float) -> str:
    return _fixed(x, 2)


def chart_model(table: MetricsTable, metric: str, threshold: float | None) -> dict[str, Any]:
    """The data one chart draws: bars (overall first), the overall value and the y axis."""
    if metric not in table.thresholded:
        raise ValueError(f"metric {metric!r} is not in the metrics table; available: {table.metrics}")
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
                "n": derived["n"],
                "gap": derived["gap"],
                "flag": derived["flag"],
                "limit": derived["limit"],
            }
        )
    overall = table.row(table.overall_label, metric, threshold)
    overall_value = None if overall is None else overall["value"]
    lo, hi, step = _axis([overall_value] + [v for b in bars for v in (b["value"], b["ci_low"], b["ci_high"])])
    return {
        "metric": metric,
        "threshold": threshold,
        "bars": bars,
        "overall": overall_value,
        "lo": lo,
        "hi": hi,
        "step": step,
        "limit": table.gate["max_gap"].get(metric),
        "min_slice_size": table.min_slice_size,
    }


def _chart_title(metric: str, threshold: float | None) -> str:
    label = metric_label(metric)
    return label if threshold is None else f"{label} at threshold {format_threshold(threshold)}"


def _bar_text(bar: Mapping[str, Any], metric: str) -> str:
    """The tooltip / text alternative of one bar (report.js: barText)."""
    parts = [f"{bar['slice']}: {format_value(bar['value'], metric, 4)}"]
    if bar["ci_low"] is not None and bar["ci_high"] is not None:
        parts.append(
            f"({CI_LEVEL} CI {format_value(bar['ci_low'], metric, 4)} to {format_value(bar['ci_high'], metric, 4)})"
        )
    parts.append(f"n={'unknown' if bar['n'] is None else _group_thousands(str(bar['n']))}")
    if bar["flag"] != "overall" and bar["gap"] is not None and not is_count_metric(metric):
        parts.append(f"gap to overall {format_gap(bar['gap'], metric)}")
    if bar["flag"] == "fail":
        parts.append("EXCEEDS THE GATE LIMIT" + (f" of {_fixed(bar['limit'], 4)}" if bar["limit"] is not None else ""))
    elif bar["flag"] == "small":
        parts.append("SMALL SLICE: estimate unreliable")
    return " ".join(parts)


def _svg_desc(model: Mapping[str, Any]) -> str:
    metric = model["metric"]
    head = f"Bar chart of {_chart_title(metric, model['threshold']).lower()} by slice"
    if model["overall"] is not None:
        head += f"; overall {format_value(model['overall'], metric, 4)}"
    return head + ". " + "; ".join(_bar_text(b, metric) for b in model["bars"][:60])


def _svg_legend(model: Mapping[str, Any], y: float, x0: float, right: float) -> tuple[list[str], float]:
    """The legend of a standalone SVG, wrapped at `right` -> (elements, height). (The HTML report has one legend
    for all charts.)"""
    items = [("rect", COLORS["overall"], "overall"), ("rect", COLORS["slice"], "slice")]
    flags = {b["flag"] for b in model["bars"]}
    if "fail" in flags or model["limit"] is not None:
        limit = "" if model["limit"] is None else f" (|gap| > {_fixed(model['limit'], 4)})"
        items.append(("rect", COLORS["fail"], "exceeds gate limit" + limit))
    if "small" in flags:
        items.append(("hatch", COLORS["small"], f"n < {model['min_slice_size']}: unreliable"))
    items.append(("line", COLORS["ink"], "overall value"))
    if any(b["ci_low"] is not None and b["ci_high"] is not None for b in model["bars"]):
        items.append(("ci", COLORS["ink"], f"{CI_LEVEL} CI"))
    out, x, row_h, rows = [], x0, 18, 1
    for kind, colour, text in items:
        item_w = 18 + len(text) * GEOMETRY["char_w"]
        if x > x0 and x + item_w > right:
            x, y, rows = x0, y + row_h, rows + 1
        if kind == "line":
            out.append(
                f'<line x1="{_c(x)}" y1="{_c(y - 4)}" x2="{_c(x + 14)}" y2="{_c(y - 4)}" stroke="{colour}" '
                'stroke-width="1.5" stroke-dasharray="4 3"/>'
            )
        elif kind == "ci":
            out.append(
                f'<g stroke="{colour}" stroke-width="1.5"><line x1="{_c(x + 6)}" y1="{_c(y - 10)}" x2="{_c(x + 6)}" '
                f'y2="{_c(y + 2)}"/><line x1="{_c(x + 2)}" y1="{_c(y - 10)}" x2="{_c(x + 10)}" y2="{_c(y - 10)}"/>'
                f'<line x1="{_c(x + 2)}" y1="{_c(y + 2)}" x2="{_c(x + 10)}" y2="{_c(y + 2)}"/></g>'
            )
        else:
            fill = f"url(#{model['uid']}-hatch)" if kind == "hatch" else colour
            out.append(f'<rect x="{_c(x)}" y="{_c(y - 10)}" width="12" height="12" fill="{fill}" stroke="{colour}"/>')
        out.append(f'<text x="{_c(x + 18)}" y="{_c(y)}" class="legend">{html.escape(text)}</text>')
        x += item_w + 16
    return out, rows * row_h


def _svg(model: dict[str, Any], uid: str, *, standalone: bool) -> str:
    g = GEOMETRY
    metric, bars = model["metric"], model["bars"]
    model["uid"] = uid
    lines = {b["slice"]: _slice_lines(b["slice"], g["label_chars"], g["label_lines"]) for b in bars}
    longest = max(
        [len(s) for ls in lines.values() for s in ls]
        + [len(f"\u26a0 n={b['n']:,}") for b in bars if b["n"] is not None]
        + [1]
    )
    slot = min(g["slot_max"], max(g["slot_min"], round(longest * g["char_w"] + 14)))
    n_lines = max([len(ls) for ls in lines.values()] + [1])
    plot_w = max(len(bars), 1) * slot
    width = g["left"] + plot_w + g["right"]
    label_top = g["top"] + g["plot_h"] + 8
    height = label_top + (n_lines + 1) * g["line_h"] + 10
    legend: list[str] = []
    if standalone:
        legend, legend_h = _svg_legend(model, height + 12, g["left"], width - 8)
        height += legend_h + 10
    lo, hi, step = model["lo"], model["hi"], model["step"]

    def y(v: float) -> float:
        return g["top"] + g["plot_h"] * (hi - v) / (hi - lo)

    title = _chart_title(metric, model["threshold"])
    attrs = (
        f'class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{uid}-title {uid}-desc" data-metric="{html.escape(metric)}" '
        f'data-threshold="{format_threshold(model["threshold"])}"'
    )
    if standalone:
        attrs = 'xmlns="http://www.w3.org/2000/svg" ' + attrs
    out = [
        f"<svg {attrs}>",
        f'<title id="{uid}-title">{html.escape(title)}</title>',
        f'<desc id="{uid}-desc">{html.escape(_svg_desc(model))}</desc>',
    ]
    if standalone:
        out.append(
            "<style>text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:11px;"
            "fill:#1a1a1a}.chart-title{font-size:14px;font-weight:600}.bar-value{font-weight:600}"
            ".warn{fill:#7a4b00}.fail-value{fill:#a63f00}.bar-value,.overall-line text{paint-order:stroke;stroke:#fff;"
            "stroke-width:3px;stroke-linejoin:round}</style>"
        )
    out.append(
        f'<defs><pattern id="{uid}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<rect width="3" height="6" fill="{COLORS["small"]}"/></pattern></defs>'
    )
    out.append(f'<text class="chart-title" x="{g["left"]}" y="18">{html.escape(title)}</text>')
    # y axis: grid lines and tick labels
    digits = 0 if is_count_metric(metric) else _step_digits(step)
    out.append('<g class="axis">')
    for i in range(round(lo / step), round(hi / step) + 1):
        v = i * step
        yy = y(v)
        label = _group_thousands(_fixed(v, 0)) if is_count_metric(metric) else _fixed(v, digits)
        out.append(
            f'<line x1="{g["left"]}" y1="{_c(yy)}" x2="{g["left"] + plot_w}" y2="{_c(yy)}" '
            f'stroke="{COLORS["grid" if i else "ink"]}" stroke-width="1"/>'
        )
        out.append(f'<text x="{g["left"] - 6}" y="{_c(yy + 4)}" text-anchor="end">{label}</text>')
    out.append(
        f'<line x1="{g["left"]}" y1="{g["top"]}" x2="{g["left"]}" y2="{g["top"] + g["plot_h"]}" '
        f'stroke="{COLORS["ink"]}" stroke-width="1"/>'
    )
    out.append("</g>")
    base = y(min(max(0.0, lo), hi))
    for i, bar in enumerate(bars):
        cx = g["left"] + (i + 0.5) * slot
        bw = slot * g["bar_frac"]
        flag = bar["flag"] or "slice"
        out.append(f'<g class="bar-group flag-{flag}" data-slice="{html.escape(bar["slice"])}">')
        out.append(f"<title>{html.escape(_bar_text(bar, metric))}</title>")
        top_y = base
        value = bar["value"]
        if value is not None:
            vy = y(value)
            top_y = min(vy, base)
            if flag == "small":
                fill, stroke, sw = f"url(#{uid}-hatch)", COLORS["small"], 1.5
            elif flag == "fail":
                fill, stroke, sw = COLORS["fail"], COLORS["ink"], 2
            elif flag == "overall":
                fill, stroke, sw = COLORS["overall"], "none", 0
            else:
                fill, stroke, sw = COLORS["slice"], "none", 0
            out.append(
                f'<rect class="bar" x="{_c(cx - bw / 2)}" y="{_c(top_y)}" width="{_c(bw)}" '
                f'height="{_c(abs(vy - base))}" fill="{fill}" stroke="{stroke}" stroke-width="{sw}" '
                f'data-value="{value!r}"/>'
            )
            if bar["ci_low"] is not None and bar["ci_high"] is not None:
                y1, y2 = y(bar["ci_high"]), y(bar["ci_low"])
                top_y = min(top_y, y1)
                ink = COLORS["ink"]
                out.append(
                    f'<g class="ci" stroke="{ink}" stroke-width="1.5">'
                    f'<line x1="{_c(cx)}" y1="{_c(y1)}" x2="{_c(cx)}" y2="{_c(y2)}"/>'
                    f'<line x1="{_c(cx - 5)}" y1="{_c(y1)}" x2="{_c(cx + 5)}" y2="{_c(y1)}"/>'
                    f'<line x1="{_c(cx - 5)}" y1="{_c(y2)}" x2="{_c(cx + 5)}" y2="{_c(y2)}"/></g>'
                )
        text = format_value(value, metric, 3)
        cls = "bar-value fail-value" if flag == "fail" else "bar-value"
        out.append(f'<text class="{cls}" x="{_c(cx)}" y="{_c(top_y - 5)}" text-anchor="middle">{text}</text>')
        for k, line in enumerate(lines[bar["slice"]]):
            out.append(
                f'<text class="slice-label" x="{_c(cx)}" y="{_c(label_top + (k + 1) * g["line_h"] - 2)}" '
                f'text-anchor="middle">{html.escape(line)}</text>'
            )
        n_text = "n=?" if bar["n"] is None else f"n={_group_thousands(str(bar['n']))}"
        if flag == "small":
            n_text = "\u26a0 " + n_text
        n_y = label_top + (n_lines + 1) * g["line_h"] - 2
        cls = "n-label warn" if flag == "small" else "n-label"
        out.append(f'<text class="{cls}" x="{_c(cx)}" y="{_c(n_y)}" text-anchor="middle">{n_text}</text>')
        out.append("</g>")
    if model["overall"] is not None:
        oy = y(model["overall"])
        x2 = g["left"] + plot_w + 4
        out.append(
            f'<g class="overall-line"><line x1="{g["left"]}" y1="{_c(oy)}" x2="{x2}" y2="{_c(oy)}" '
            f'stroke="{COLORS["ink"]}" stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{x2 + 4}" y="{_c(oy + 4)}">overall {format_value(model["overall"], metric, 3)}</text></g>'
        )
    if not bars:
        out.append(f'<text x="{g["left"] + 8}" y="{g["top"] + g["plot_h"] / 2}">no values for this metric</text>')
    if standalone:
        out.extend(legend)
    out.append("</svg>")
    return "".join(out)


def render_svg_chart(
    rows: Iterable[Mapping[str, Any]] | MetricsTable,
    metric: str,
    threshold: float | None = None,
    *,
    gate: Any = None,
    min_slice_size: int | None = None,
    standalone: bool = True,
    uid: str | None = None,
) -> str:
    """One chart as an SVG string: `metric` per slice at `threshold` (ignored for threshold-free metrics; None:
    the default threshold), with CI whiskers, overall reference line, n per bar and the gate/small-slice marks.

    standalone=True gives a complete SVG document (xmlns, inline style, a legend) for IPython.display.SVG or a
    .svg file; the HTML report embeds standalone=False charts styled by its stylesheet.
    """
    table = rows if isinstance(rows, MetricsTable) else MetricsTable(rows, gate=gate, min_slice_size=min_slice_size)
    model = chart_model(table, metric, threshold)
    if uid is None:
        uid = (
            "chart-"
            + re.sub(r"[^A-Za-z0-9_-]+", "-", metric)
            + ("" if model["threshold"] is None else "-" + format_threshold(model["threshold"]).replace(".", "_"))
        )
    return _svg(model, uid, standalone=standalone)


# ------------------------------------------------------------------------------------------------------ the page


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _script_json(payload: Any) -> str:
    """JSON safe inside <script>: every <, > and & escaped (so no "</script>" or "<!--" can end the element)."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(_ASSETS, name).read_text(encoding="utf-8")


def _status_text(flag: str, limit: float | None, min_slice_size: int | None) -> str:
    """report.js: statusText."""
    if flag == "overall":
        return "reference"
    if flag == "fail":
        return "exceeds gate limit" + ("" if limit is None else f" ({_fixed(limit, 4)})")
    if flag == "small":
        return f"small slice (n < {min_slice_size})"
    if flag == "undefined":
        return "undefined"
    return ""


def _table_html(table: MetricsTable, model: Mapping[str, Any], uid: str) -> str:
    metric = model["metric"]
    head = ("Slice", "n", "Value", f"{CI_LEVEL} CI", "Gap to overall", "Status")
    kinds = ("text", "num", "num", "num", "num", "text")
    out = [
        f'<table class="metric-table" id="{uid}-table"><caption>{_e(_chart_title(metric, model["threshold"]))}'
        f" per slice</caption><thead><tr>"
    ]
    for h, kind in zip(head, kinds):
        out.append(
            f'<th scope="col" data-kind="{kind}" aria-sort="none"><button type="button">{_e(h)}'
            '<span class="sort-mark" aria-hidden="true"></span></button></th>'
        )
    out.append("</tr></thead><tbody>")
    for bar in model["bars"]:
        flag = bar["flag"]
        ci = (
            ""
            if bar["ci_low"] is None or bar["ci_high"] is None
            else f"[{format_value(bar['ci_low'], metric, 4)}, {format_value(bar['ci_high'], metric, 4)}]"
        )
        no_gap = flag == "overall" or is_count_metric(metric)
        gap = "" if no_gap else format_gap(bar["gap"], metric)
        status = _status_text(flag, bar["limit"], table.min_slice_size)
        cells = [
            (bar["slice"], bar["slice"]),
            ("" if bar["n"] is None else _group_thousands(str(bar["n"])), bar["n"]),
            (format_value(bar["value"], metric, 4), bar["value"]),
            (ci, bar["ci_low"]),
            (gap, None if no_gap else bar["gap"]),
            (status, status),
        ]
        out.append(f'<tr class="flag-{flag or "slice"}">')
        for k, (text, sort) in enumerate(cells):
            tag = 'th scope="row"' if k == 0 else "td"
            sort_attr = "" if sort is None else f' data-sort="{_e(sort if isinstance(sort, str) else repr(sort))}"'
            out.append(f"<{tag}{sort_attr}>{_e(text)}</{tag.split()[0]}>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _verdict_html(table: MetricsTable) -> str:
    gate = table.gate
    if not gate["configured"]:
        return (
            '<section class="verdict verdict-none" id="verdict" aria-labelledby="verdict-title">'
            '<h2 id="verdict-title"><span aria-hidden="true">\u25cb</span> No fairness gate was applied</h2>'
            "<p>Judge the gaps below yourself; no pass/fail limits were configured.</p></section>"
        )
    passed = gate["passed"]
    limits = ", ".join(f"{metric_label(m)} \u2264 {_fixed(v, 4)}" for m, v in gate["max_gap"].items())
    where = []
    if gate["threshold"] is not None:
        where.append(f"threshold {format_threshold(gate['threshold'])}")
    if gate["min_slice_size"]:
        where.append(f"slices with n \u2265 {gate['min_slice_size']}")
    checked = "" if gate["checked"] is None else f"{gate['checked']} slice/metric gaps checked"
    facts = "; ".join(
        x
        for x in (
            f"limits on |gap to overall|: {limits}" if limits else "",
            ", ".join(where),
            checked,
            f"{len(gate['skipped'])} skipped" if gate["skipped"] else "",
        )
        if x
    )
    cls, mark, word = ("verdict-pass", "\u2714", "PASSED") if passed else ("verdict-fail", "\u2716", "FAILED")
    out = [
        f'<section class="verdict {cls}" id="verdict" aria-labelledby="verdict-title">'
        f'<h2 id="verdict-title"><span aria-hidden="true">{mark}</span> Fairness gate {word}</h2>'
    ]
    if facts:
        out.append(f"<p>{_e(facts)}.</p>")
    if gate["failures"]:
        out.append(
            f"<p><strong>{len(gate['failures'])} slice/metric gap(s) over the limit</strong> (largest first):</p>"
        )
        out.append(
            '<table class="failures"><thead><tr><th scope="col">Slice</th><th scope="col">Metric</th>'
            '<th scope="col">Value</th><th scope="col">Overall</th><th scope="col">Gap</th>'
            '<th scope="col">Limit</th><th scope="col">n</th></tr></thead><tbody>'
        )
        for f in gate["failures"]:
            m = f["metric"]
            name = metric_label(m) + ("" if f["threshold"] is None else f" @ {format_threshold(f['threshold'])}")
            limit = gate["max_gap"].get(m)
            signed = None if f["value"] is None or f["overall"] is None else f["value"] - f["overall"]
            gap = format_gap(signed, m) if signed is not None else format_value(f["gap"], m, 4)
            out.append(
                f'<tr><th scope="row">{_e(f["slice"])}</th><td>{_e(name)}</td>'
                f"<td>{_e(format_value(f['value'], m, 4))}</td><td>{_e(format_value(f['overall'], m, 4))}</td>"
                f"<td><strong>{_e(gap)}</strong></td><td>{_e('n/a' if limit is None else _fixed(limit, 4))}</td>"
                f"<td>{_e('?' if f['n'] is None else _group_thousands(str(f['n'])))}</td></tr>"
            )
        out.append("</tbody></table>")
    if gate["skipped"]:
        out.append(
            f"<details><summary>{len(gate['skipped'])} slice/metric check(s) skipped (not failed)</summary>"
            '<table class="skipped"><thead><tr><th scope="col">Slice</th><th scope="col">Metric</th>'
            '<th scope="col">n</th><th scope="col">Reason</th></tr></thead><tbody>'
        )
        for s in gate["skipped"]:
            name = metric_label(s["metric"]) + (
                "" if s["threshold"] is None else f" @ {format_threshold(s['threshold'])}"
            )
            out.append(
                f'<tr><th scope="row">{_e(s["slice"])}</th><td>{_e(name)}</td>'
                f"<td>{_e('?' if s['n'] is None else s['n'])}</td><td>{_e(s['reason'])}</td></tr>"
            )
        out.append("</tbody></table></details>")
    out.append("</section>")
    return "".join(out)


def _kv_html(info: Mapping[str, Any]) -> str:
    out = ['<table class="kv"><tbody>']
    for key, value in info.items():
        if isinstance(value, Mapping | list | tuple):
            text = json.dumps(_json_safe(value), indent=1, ensure_ascii=False)
            cell = f"<pre>{_e(text)}</pre>"
        else:
            cell = _e(value)
        out.append(f'<tr><th scope="row">{_e(key)}</th><td>{cell}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _legend_html(table: MetricsTable) -> str:
    def swatch(fill: str, stroke: str = "none", sw: float = 0, hatch: bool = False) -> str:
        defs = ""
        if hatch:
            fill = "url(#legend-hatch)"
            defs = (
                '<defs><pattern id="legend-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
                'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
                f'<rect width="3" height="6" fill="{COLORS["small"]}"/></pattern></defs>'
            )
        return (
            f'<svg class="swatch" width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">{defs}'
            f'<rect x="1" y="1" width="14" height="14" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/></svg>'
        )

    line = (
        '<svg class="swatch" width="24" height="16" viewBox="0 0 24 16" aria-hidden="true"><line x1="0" y1="8" '
        f'x2="24" y2="8" stroke="{COLORS["ink"]}" stroke-width="1.5" stroke-dasharray="6 4"/></svg>'
    )
    whisker = (
        '<svg class="swatch" width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">'
        f'<g stroke="{COLORS["ink"]}" stroke-width="1.5"><line x1="8" y1="1" x2="8" y2="15"/>'
        '<line x1="3" y1="1" x2="13" y2="1"/><line x1="3" y1="15" x2="13" y2="15"/></g></svg>'
    )
    limits = table.gate["max_gap"]
    fail_text = "Slice whose gap to overall exceeds the fairness gate's limit" + (
        " (" + ", ".join(f"{metric_label(m)}: {_fixed(v, 4)}" for m, v in limits.items()) + ")"
        if limits
        else " (failed the gate)"
    )
    items = [(swatch(COLORS["overall"]), "Overall (all examples)"), (swatch(COLORS["slice"]), "Slice")]
    if table.gate["configured"]:
        items.append((swatch(COLORS["fail"], COLORS["ink"], 2), fail_text))
    if table.min_slice_size:
        items.append(
            (
                swatch("", COLORS["small"], 1.5, hatch=True),
                f"\u26a0 Slice with fewer than {table.min_slice_size} examples: too small for a reliable "
                "estimate (not gated)",
            )
        )
    items.append((line, "Overall value (reference line)"))
    items.append((whisker, f"{CI_LEVEL} confidence interval (when computed)"))
    lis = "".join(f"<li>{sw}<span>{_e(text)}</span></li>" for sw, text in items)
    return f'<ul class="legend" aria-label="Chart legend">{lis}</ul>'


def _metric_section(table: MetricsTable, metric: str, k: int) -> str:
    uid = f"m{k}"
    model = chart_model(table, metric, table.default_threshold if table.thresholded[metric] else None)
    desc = metric_description(metric)
    badge = (
        f'<span class="badge" data-role="threshold-badge">threshold {_e(format_threshold(model["threshold"]))}</span>'
        if table.thresholded[metric]
        else '<span class="badge badge-free">threshold-free</span>'
    )
    limit = table.gate["max_gap"].get(metric)
    limit_html = (
        "" if limit is None else f' <span class="badge badge-gate">gated: |gap| \u2264 {_fixed(limit, 4)}</span>'
    )
    return (
        f'<section class="metric" id="metric-{k}" data-metric="{_e(metric)}" data-uid="{uid}" '
        f'data-thresholded="{int(table.thresholded[metric])}" aria-labelledby="{uid}-h">'
        f'<h2 id="{uid}-h">{_e(metric_label(metric))} {badge}{limit_html}</h2>'
        + (f'<p class="metric-desc">{_e(desc)}</p>' if desc else "")
        + f'<figure><div class="chart-box" data-role="chart">{_svg(model, uid, standalone=False)}</div>'
        f"<figcaption>{_e(metric_label(metric))} per slice; whiskers: {CI_LEVEL} CI; dashed line: overall. "
        "Details in the table below (a text alternative to the chart).</figcaption></figure>"
        f'<details class="table-box" open><summary>Table: {_e(metric_label(metric))} per slice</summary>'
        f'<div data-role="table">{_table_html(table, model, uid)}</div></details></section>'
    )


def _payload(table: MetricsTable, title: str, generated: str) -> dict[str, Any]:
    lines = {s: _slice_lines(s, GEOMETRY["label_chars"], GEOMETRY["label_lines"]) for s in table.slices}
    return {
        "format": "tfpretrain.fairness_report/1",
        "title": title,
        "generated": generated,
        "overall_label": table.overall_label,
        "min_slice_size": table.min_slice_size,
        "thresholds": [{"value": t, "label": format_threshold(t)} for t in table.thresholds],
        "default_threshold": None
        if table.default_threshold is None
        else table.thresholds.index(table.default_threshold),
        "metrics": [
            {
                "name": m,
                "label": metric_label(m),
                "thresholded": table.thresholded[m],
                "count": is_count_metric(m),
                "limit": table.gate["max_gap"].get(m),
            }
            for m in table.metrics
        ],
        "slices": [{"name": s, "lines": lines[s], "n": table.slice_info[s]["n"]} for s in table.slices],
        "gate": table.gate,
        "geometry": GEOMETRY,
        "colors": COLORS,
        "ci_level": CI_LEVEL,
        "rows": table.rows,
        "derived": table.derived,
    }


def metric_order(table: MetricsTable) -> list[str]:
    """Gated metrics first (in the gate's order), then the table's order, with the example counts last."""
    gated = [m for m in table.gate["max_gap"] if m in table.thresholded]
    rest = [m for m in table.metrics if m not in gated]
    return gated + [m for m in rest if not is_count_metric(m)] + [m for m in rest if is_count_metric(m)]


def render_report(
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str,
    gate: Any = None,
    model_info: Mapping[str, Any] | None = None,
    sections: Sequence[tuple[str, str]] | None = None,
    min_slice_size: int | None = None,
) -> str:
    """The report's HTML text (write_report writes it)."""
    table = MetricsTable(rows, gate=gate, min_slice_size=min_slice_size)
    if not table.rows:
        raise ValueError("no metrics rows to report")
    generated = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    charted = metric_order(table)
    sections = list(sections or ())
    for i, section in enumerate(sections):
        if not (isinstance(section, Sequence) and len(section) == 2 and all(isinstance(x, str) for x in section)):
            raise ValueError(f"sections[{i}] must be a (heading, html) pair of strings, got {section!r}")

    nav = [('<a href="#verdict">Gate verdict</a>')]
    nav += [f'<a href="#metric-{k}">{_e(metric_label(m))}</a>' for k, m in enumerate(charted)]
    if model_info:
        nav.append('<a href="#model-info">Model</a>')
    nav += [f'<a href="#extra-{k}">{_e(h)}</a>' for k, (h, _) in enumerate(sections)]

    options = "".join(
        f'<option value="{k}"{" selected" if t == table.default_threshold else ""}>{_e(format_threshold(t))}</option>'
        for k, t in enumerate(table.thresholds)
    )
    if table.thresholds:
        control = (
            f'<label for="threshold-select">Decision threshold</label> <select id="threshold-select" '
            f'aria-describedby="threshold-help">{options}</select> <span id="threshold-help" class="help">'
            "Threshold-dependent metrics are shown at this score threshold; AUC, counts and means do not "
            'depend on it.</span> <span id="threshold-status" class="help" role="status" aria-live="polite">'
            "</span>"
        )
    else:
        control = '<span class="help">No threshold-dependent metrics in this table.</span>'
    counts = f"{len(table.slices)} slices, {len(charted)} metrics" + (
        f", thresholds {', '.join(format_threshold(t) for t in table.thresholds)}" if table.thresholds else ""
    )
    empty = ""
    if table.empty_slices:
        items = "".join(
            f"<li><strong>{_e(s)}</strong>: {_e(table.slice_info[s]['note'] or 'no metric values')}</li>"
            for s in table.empty_slices
        )
        empty = (
            f'<section class="notes" aria-labelledby="empty-h"><h2 id="empty-h">Slices without metrics</h2>'
            f"<p>These slices appear in the table but have no metric values (e.g. suppressed by TFMA for "
            f"being too small), so they are not charted:</p><ul>{items}</ul></section>"
        )
    small = ""
    if table.min_slice_size:
        smalls = [s for s in table.slices if table.is_small(table.slice_info[s]["n"])]
        if smalls:
            small = (
                f'<p class="warn-note"><span aria-hidden="true">\u26a0</span> {len(smalls)} slice(s) have fewer '
                f"than {table.min_slice_size} examples ({_e(', '.join(smalls[:12]))}"
                f"{', ...' if len(smalls) > 12 else ''}): their bars are hatched and their values too noisy "
                "to compare; the gate does not judge them.</p>"
            )
    body = [
        f'<header><h1>{_e(title)}</h1><p class="meta">Fairness evaluation report \u00b7 generated {_e(generated)} '
        f"\u00b7 {_e(counts)}</p></header>",
        f'<nav aria-label="Sections">{" ".join(nav)}</nav>',
        _verdict_html(table),
        f'<div class="controls" role="region" aria-label="Threshold">{control}</div>',
        '<noscript><p class="warn-note">JavaScript is off: charts and tables show the default threshold '
        f"{_e(format_threshold(table.default_threshold))}; the selector and sorting need JavaScript.</p></noscript>",
        _legend_html(table),
        small,
        '<details class="howto"><summary>How to read this report</summary><ul>'
        "<li>Each chart shows one metric for every slice (group of examples), with the overall value as a grey bar "
        "and a dashed reference line. Compare each slice's bar with the line: the <em>gap to overall</em> is "
        "slice value minus overall value.</li>"
        f"<li>Whiskers are {CI_LEVEL} confidence intervals: when a slice's interval overlaps the overall value, "
        "the gap may be noise. Small slices have wide intervals.</li>"
        "<li>The gate fails a slice when |gap| exceeds the configured limit at the gate's threshold; slices below "
        "the minimum size, and undefined values (e.g. a false positive rate in a slice without negatives), are "
        "skipped, not passed. At other thresholds, bars over the limit are highlighted the same way for "
        "information only: the verdict is decided at the gate's threshold.</li>"
        "<li>A link to this file ending in <code>#threshold=0.75</code> opens it at that threshold.</li></ul>"
        "</details>",
        '<main id="metrics">' + "".join(_metric_section(table, m, k) for k, m in enumerate(charted)) + "</main>",
        empty,
    ]
    if model_info:
        body.append(
            f'<section id="model-info" aria-labelledby="model-info-h"><h2 id="model-info-h">Model</h2>'
            f"{_kv_html(model_info)}</section>"
        )
    for k, (heading, content) in enumerate(sections):
        body.append(
            f'<section class="extra" id="extra-{k}" aria-labelledby="extra-{k}-h">'
            f'<h2 id="extra-{k}-h">{_e(heading)}</h2>{content}</section>'
        )
    body.append(
        "<footer><p>Static report: no network access, all data embedded (<code>#report-data</code>). "
        "Palette: Okabe-Ito (colour-blind safe).</p></footer>"
    )
    payload = _payload(table, title, generated)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{_asset('report.css')}</style></head>\n"
        f'<body data-rendered="0">\n' + "\n".join(b for b in body if b) + "\n"
        f'<script type="application/json" id="report-data">{_script_json(payload)}</script>\n'
        f"<script>{_asset('report.js')}</script>\n</body></html>\n"
    )


def write_report(
    path: str | os.PathLike,
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str,
    gate: Any = None,
    model_info: Mapping[str, Any] | None = None,
    sections: Sequence[tuple[str, str]] | None = None,
    min_slice_size: int | None = None,
) -> str:
    """Write the report to `path` (temp file, then rename) and return the path.

    rows: the metrics table (`fairness.metrics_table` / `fairness.read_tables`). gate: see `gate_summary`.
    min_slice_size: slices smaller than this are marked unreliable (default: the gate's min_slice_size).
    sections: extra (heading, html) pairs appended after the metrics; the heading is escaped, the html is
    inserted as given: it must be trusted, already-escaped HTML, and must not fetch anything (the page's
    Content-Security-Policy blocks external resources anyway).
    """
    path = os.fspath(path)
    text = render_report(
        rows, title=title, gate=gate, model_info=model_info, sections=sections, min_slice_size=min_slice_size
    )
    write_text(path, text)
    return path


def read_report_data(path_or_html: str | os.PathLike) -> dict[str, Any]:
    """The embedded JSON payload of a report (a path or the HTML text): payload["rows"] are the rows."""
    text = os.fspath(path_or_html)
    if "<html" not in text[:500]:
        with open(text, encoding="utf-8") as f:
            text = f.read()
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    if match is None:
        raise ValueError('no embedded report data (<script id="report-data">) found')
    return json.loads(match.group(1))
