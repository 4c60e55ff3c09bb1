"""Bar charts of one metric per slice, as SVG: the layout is computed here, drawn by templates/chart.svg.j2.

    svg = render_svg_chart(rows, "false_positive_rate", 0.5, gate=gate)   # e.g. IPython.display.SVG(svg)

A chart shows the metric per slice (overall first, in grey), 95% CI whiskers, the overall value as a dashed
reference line and n under every bar. Bars of slices smaller than min_slice_size are hatched and marked with a
warning sign; bars over the gate's limit (or failed by the gate) are vermillion with a dark outline. Palette:
Okabe-Ito (colour-blind safe), and no state is shown by colour alone. Every chart has a <title> and a <desc> that
lists each bar in words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tfpretrain.reporting.formatting import CI_LEVEL, fixed, format_count, format_gap, format_threshold, format_value
from tfpretrain.reporting.metric_info import is_count_metric, metric_label
from tfpretrain.reporting.metrics_view import MetricsTable, metric_view
from tfpretrain.reporting.templating import render_html

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
TOP = 50  # plot top: the title band + room for value labels above the tallest bar / whisker
PLOT_H = 220
LEFT = 64
RIGHT = 112  # room for the "overall" reference-line label
LINE_H = 13
SLOT_MIN, SLOT_MAX = 64, 136
CHAR_W = 6.6  # ~ an 11px sans-serif character
BAR_FRAC = 0.6
LABEL_CHARS, LABEL_LINES = 18, 3  # slice names are cut to 3 lines of 18 characters (full name in tooltip / table)


def _c(x: float) -> str:
    return fixed(x, 2)


def nice_step(span: float) -> float:
    """1, 2 or 5 x 10^k >= span / 5."""
    raw = span / 5.0
    exp, power = 0, 1.0  # exact powers of ten (no log10 rounding)
    while power * 10 <= raw:
        exp += 1
        power = float(10**exp)
    while power > raw:
        exp -= 1
        power = float(10**exp) if exp >= 0 else 1.0 / float(10**-exp)
    fraction = raw / power
    return (1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10) * power


def axis(values: Iterable[float | None]) -> tuple[float, float, float]:
    """(low, high, step) of a y axis that includes 0 and every value."""
    values = [v for v in values if v is not None]
    lo, hi = min([0.0, *values]), max([0.0, *values])
    if hi - lo <= 0:
        hi = lo + 1.0
    step = nice_step(hi - lo)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def _step_digits(step: float) -> int:
    digits = 0
    while digits < 12 and abs(step * 10**digits - round(step * 10**digits)) > 1e-6:
        digits += 1
    return digits


def slice_lines(name: str, chars: int = LABEL_CHARS, lines: int = LABEL_LINES) -> list[str]:
    """A slice name as at most `lines` label lines: one per "&"-joined column, each cut to `chars` characters."""
    parts = name.split("&") if name else [""]
    if len(parts) > lines:
        parts = parts[: lines - 1] + [f"+{len(parts) - lines + 1} more"]
    return [p if len(p) <= chars else p[: chars - 1] + "\u2026" for p in parts]


def chart_title(metric: str, threshold: float | None) -> str:
    label = metric_label(metric)
    return label if threshold is None else f"{label} at threshold {format_threshold(threshold)}"


def bar_text(bar: Mapping[str, Any], metric: str) -> str:
    """One bar in words: its tooltip, and part of the chart's text alternative."""
    parts = [f"{bar['slice']}: {format_value(bar['value'], metric, 4)}"]
    if bar["ci_low"] is not None and bar["ci_high"] is not None:
        low, high = format_value(bar["ci_low"], metric, 4), format_value(bar["ci_high"], metric, 4)
        parts.append(f"({CI_LEVEL} CI {low} to {high})")
    parts.append(f"n={format_count(bar['n'], 'unknown')}")
    if bar["flag"] != "overall" and bar["gap"] is not None and not is_count_metric(metric):
        parts.append(f"gap to overall {format_gap(bar['gap'], metric)}")
    if bar["flag"] == "fail":
        parts.append("EXCEEDS THE GATE LIMIT" + (f" of {fixed(bar['limit'], 4)}" if bar["limit"] is not None else ""))
    elif bar["flag"] == "small":
        parts.append("SMALL SLICE: estimate unreliable")
    return " ".join(parts)


def _bar_style(flag: str, hatch: str) -> tuple[str, str, float]:
    """(fill, stroke, stroke width): small slices hatched, failing ones vermillion with a dark outline."""
    if flag == "small":
        return f"url(#{hatch})", COLORS["small"], 1.5
    if flag == "fail":
        return COLORS["fail"], COLORS["ink"], 2
    return (COLORS["overall"] if flag == "overall" else COLORS["slice"]), "none", 0


def _legend(view: Mapping[str, Any], y: float, x0: float, right: float) -> tuple[list[dict[str, Any]], float]:
    """The legend of a standalone chart, wrapped at `right` -> (items, height). (The HTML report has one legend
    for all charts.)"""
    items = [("rect", COLORS["overall"], "overall"), ("rect", COLORS["slice"], "slice")]
    flags = {b["flag"] for b in view["bars"]}
    if "fail" in flags or view["limit"] is not None:
        limit = "" if view["limit"] is None else f" (|gap| > {fixed(view['limit'], 4)})"
        items.append(("rect", COLORS["fail"], "exceeds gate limit" + limit))
    if "small" in flags:
        items.append(("hatch", COLORS["small"], f"n < {view['min_slice_size']}: unreliable"))
    items.append(("line", COLORS["ink"], "overall value"))
    if any(b["ci_low"] is not None and b["ci_high"] is not None for b in view["bars"]):
        items.append(("ci", COLORS["ink"], f"{CI_LEVEL} CI"))
    out, x, row_h, rows = [], x0, 18, 1
    for kind, colour, text in items:
        width = 18 + len(text) * CHAR_W
        if x > x0 and x + width > right:
            x, y, rows = x0, y + row_h, rows + 1
        out.append({"kind": kind, "colour": colour, "text": text, "x": x, "y": y})
        x += width + 16
    return out, rows * row_h


def chart_layout(view: Mapping[str, Any], uid: str, *, standalone: bool) -> dict[str, Any]:
    """Everything chart.svg.j2 draws, in pixels, from a metrics_view.metric_view."""
    metric, bars = view["metric"], view["bars"]
    lines = {b["slice"]: slice_lines(b["slice"]) for b in bars}
    n_texts = [f"\u26a0 n={b['n']:,}" for b in bars if b["n"] is not None]
    longest = max([len(s) for ls in lines.values() for s in ls] + [len(t) for t in n_texts] + [1])
    slot = min(SLOT_MAX, max(SLOT_MIN, round(longest * CHAR_W + 14)))
    n_lines = max([len(ls) for ls in lines.values()] + [1])
    plot_w = max(len(bars), 1) * slot
    width = LEFT + plot_w + RIGHT
    label_top = TOP + PLOT_H + 8
    height = label_top + (n_lines + 1) * LINE_H + 10
    legend: list[dict[str, Any]] = []
    if standalone:
        legend, legend_h = _legend(view, height + 12, LEFT, width - 8)
        height += legend_h + 10
    lo, hi, step = axis([view["overall"]] + [v for b in bars for v in (b["value"], b["ci_low"], b["ci_high"])])

    def y(v: float) -> float:
        return TOP + PLOT_H * (hi - v) / (hi - lo)

    count = is_count_metric(metric)
    digits = 0 if count else _step_digits(step)
    ticks = [
        {"y": _c(y(i * step)), "text_y": _c(y(i * step) + 4), "zero": i == 0,
         "label": format_value(i * step, metric) if count else fixed(i * step, digits)}
        for i in range(round(lo / step), round(hi / step) + 1)
    ]
    base = y(min(max(0.0, lo), hi))
    drawn = []
    for i, bar in enumerate(bars):
        cx, bw = LEFT + (i + 0.5) * slot, slot * BAR_FRAC
        flag = bar["flag"] or "slice"
        item = {"slice": bar["slice"], "flag": flag, "title": bar_text(bar, metric), "cx": _c(cx), "rect": None,
                "ci": None, "value_text": format_value(bar["value"], metric, 3)}
        top_y = base
        if bar["value"] is not None:
            vy = y(bar["value"])
            top_y = min(vy, base)
            fill, stroke, sw = _bar_style(flag, f"{uid}-hatch")
            item["rect"] = {"x": _c(cx - bw / 2), "y": _c(top_y), "width": _c(bw), "height": _c(abs(vy - base)),
                            "fill": fill, "stroke": stroke, "sw": sw, "value": repr(bar["value"])}
            if bar["ci_low"] is not None and bar["ci_high"] is not None:
                y1, y2 = y(bar["ci_high"]), y(bar["ci_low"])
                top_y = min(top_y, y1)
                item["ci"] = {"x": _c(cx), "x1": _c(cx - 5), "x2": _c(cx + 5), "y1": _c(y1), "y2": _c(y2)}
        item["value_y"] = _c(top_y - 5)
        item["labels"] = [
            {"y": _c(label_top + (k + 1) * LINE_H - 2), "text": text} for k, text in enumerate(lines[bar["slice"]])
        ]
        item["n_text"] = ("\u26a0 " if flag == "small" else "") + f"n={format_count(bar['n'])}"
        item["n_y"] = _c(label_top + (n_lines + 1) * LINE_H - 2)
        drawn.append(item)
    overall = None
    if view["overall"] is not None:
        oy = y(view["overall"])
        overall = {"y": _c(oy), "x2": LEFT + plot_w + 4, "text_x": LEFT + plot_w + 8, "text_y": _c(oy + 4),
                   "text": f"overall {format_value(view['overall'], metric, 3)}"}
    title = chart_title(metric, view["threshold"])
    desc = f"Bar chart of {title.lower()} by slice"
    if view["overall"] is not None:
        desc += f"; overall {format_value(view['overall'], metric, 4)}"
    desc += ". " + "; ".join(bar_text(b, metric) for b in bars[:60])
    return {
        "uid": uid, "metric": metric, "threshold": format_threshold(view["threshold"]), "title": title,
        "desc": desc, "width": width, "height": height, "left": LEFT, "top": TOP, "bottom": TOP + PLOT_H,
        "plot_right": LEFT + plot_w, "ticks": ticks, "bars": drawn, "overall": overall, "legend": legend,
        "standalone": standalone, "colors": COLORS, "empty_y": TOP + PLOT_H / 2,
    }


def chart_uid(metric: str, threshold: float | None) -> str:
    """An id prefix for a standalone chart's title / desc / hatch pattern."""
    suffix = "" if threshold is None else "-" + format_threshold(threshold).replace(".", "_")
    return "chart-" + re.sub(r"[^A-Za-z0-9_-]+", "-", metric) + suffix


def svg_chart(view: Mapping[str, Any], uid: str, *, standalone: bool) -> str:
    return render_html("report/templates/chart.svg.j2", chart=chart_layout(view, uid, standalone=standalone))


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
    the default threshold). standalone=True gives a complete SVG document (xmlns, inline style, a legend) for
    IPython.display.SVG or a .svg file; the HTML report embeds standalone=False charts styled by its stylesheet.
    """
    table = rows if isinstance(rows, MetricsTable) else MetricsTable(rows, gate=gate, min_slice_size=min_slice_size)
    view = metric_view(table, metric, threshold)
    return svg_chart(view, uid or chart_uid(metric, view["threshold"]), standalone=standalone)
