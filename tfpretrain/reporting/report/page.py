"""A self-contained HTML fairness report (Fairness Indicators style) from the tidy metrics table.

    from tfpretrain import reporting
    reporting.write_report("runs/eval/report.html", rows, title="Toxicity classifier v3", gate=gate,
                           model_info={"model": "bert-base"}, sections=[probe_section(summaries)])
    reporting.read_report_data("runs/eval/report.html")["rows"]      # the rows back

The report is ONE static HTML file (templates/page.html.j2): inline CSS, a few lines of inline JavaScript and
inline SVG, no server, no CDN, nothing fetched (a Content-Security-Policy forbids it). The metric rows are
embedded verbatim as JSON (`<script type="application/json" id="report-data">`, `payload["rows"]`), so the file is
also the machine-readable record of what it shows.

Top to bottom: the fairness gate verdict; a decision-threshold selector; per metric (gated ones first, counts
last) a chart and a sortable table at EVERY threshold, all drawn here, of which the selector shows one (the
others carry the `hidden` attribute; threshold-free metrics have one); `model_info` as a key/value table; then the
extra sections. Default threshold: the gate's, else 0.5, else the middle one; with JavaScript off the default
shows. `report.html#threshold=0.75` (or `?threshold=0.75`) opens the report at 0.75, and the selector keeps the
fragment in step, so a view can be linked.

Pure Python (no TF). Rows may carry numbers or strings (metrics.csv); None / "" / NaN are missing.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from markupsafe import Markup

from tfpretrain.atomic import write_text
from tfpretrain.reporting.formatting import CI_LEVEL, format_count, format_gap, format_threshold, format_value
from tfpretrain.reporting.metric_info import is_count_metric, metric_description, metric_label
from tfpretrain.reporting.metrics_view import MetricsTable, metric_order, metric_view
from tfpretrain.reporting.report.charts import COLORS, chart_title, svg_chart
from tfpretrain.reporting.section import as_sections
from tfpretrain.reporting.templating import render_html, script_json
from tfpretrain.reporting.values import ReportInputError, json_safe

FORMAT = "tfpretrain.fairness_report/1"
_DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def _asset(name: str) -> Markup:
    """A stylesheet or script shipped beside the templates, inlined as is (it holds no data)."""
    return Markup(resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8"))


def _table(view: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of one metric table: per cell the text shown and the key it sorts by (None: sorts last)."""
    metric, out = view["metric"], []
    for bar in view["bars"]:
        ci = ""
        if bar["ci_low"] is not None and bar["ci_high"] is not None:
            ci = f"[{format_value(bar['ci_low'], metric, 4)}, {format_value(bar['ci_high'], metric, 4)}]"
        no_gap = bar["flag"] == "overall" or is_count_metric(metric)
        cells = [
            (bar["slice"], bar["slice"]),
            (format_count(bar["n"], ""), bar["n"]),
            (format_value(bar["value"], metric, 4), bar["value"]),
            (ci, bar["ci_low"]),
            ("" if no_gap else format_gap(bar["gap"], metric), None if no_gap else bar["gap"]),
            (bar["status"], bar["status"]),
        ]
        cells = [(text, None if key is None else key if isinstance(key, str) else repr(key)) for text, key in cells]
        out.append({"flag": bar["flag"] or "slice", "cells": cells})
    return out


def _variants(table: MetricsTable, metric: str, k: int) -> list[dict[str, Any]]:
    """One chart + table per threshold (one in all for a threshold-free metric)."""
    thresholds = table.thresholds if table.thresholded[metric] else [None]
    out = []
    for j, threshold in enumerate(thresholds):
        view = metric_view(table, metric, threshold)
        uid = f"m{k}" if threshold is None else f"m{k}-t{j}"
        out.append({
            "threshold": None if threshold is None else format_threshold(threshold),
            "hidden": threshold is not None and threshold != table.default_threshold,
            "uid": uid,
            "title": chart_title(metric, view["threshold"]),
            "ci_methods": view["ci_methods"],
            "svg": Markup(svg_chart(view, uid, standalone=False)),
            "rows": _table(view),
        })
    return out


def _metric(table: MetricsTable, metric: str, k: int) -> dict[str, Any]:
    return {
        "k": k,
        "name": metric,
        "label": metric_label(metric),
        "description": metric_description(metric),
        "thresholded": table.thresholded[metric],
        "limit": table.gate["max_gap"].get(metric),
        "variants": _variants(table, metric, k),
    }


def _model_info(info: Mapping[str, Any] | None) -> list[tuple[str, str, bool]]:
    """(key, text, preformatted): nested values as indented JSON."""
    out = []
    for key, value in (info or {}).items():
        if isinstance(value, Mapping | list | tuple):
            out.append((str(key), json.dumps(json_safe(value), indent=1, ensure_ascii=False), True))
        else:
            out.append((str(key), "" if value is None else str(value), False))
    return out


def _payload(table: MetricsTable, title: str, generated: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
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
        "slices": [{"name": s, "n": table.slice_info[s]["n"]} for s in table.slices],
        "gate": table.gate,
        "ci_level": CI_LEVEL,
        "rows": table.rows,
        "derived": table.derived,
    }


def render_report(
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str,
    gate: Any = None,
    model_info: Mapping[str, Any] | None = None,
    sections: Sequence[Any] | None = None,
    min_slice_size: int | None = None,
) -> str:
    """The report's HTML text (write_report writes it)."""
    table = MetricsTable(rows, gate=gate, min_slice_size=min_slice_size)
    if not table.rows:
        raise ReportInputError("no metrics rows to report")
    extra = [s for s in as_sections(sections, "html") if s.html is not None]
    generated = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    metrics = [_metric(table, m, k) for k, m in enumerate(metric_order(table))]
    return render_html(
        "report/templates/page.html.j2",
        title=title,
        generated=generated,
        table=table,
        gate=table.gate,
        metrics=metrics,
        thresholds=[format_threshold(t) for t in table.thresholds],
        default_threshold=format_threshold(table.default_threshold),
        small_slices=table.small_slices(),
        empty_slices=[(s, table.slice_info[s]["note"] or "no metric values") for s in table.empty_slices],
        model_info=_model_info(model_info),
        sections=extra,
        colors=COLORS,
        ci_level=CI_LEVEL,
        css=_asset("report.css"),
        js=_asset("report.js"),
        payload=Markup(script_json(_payload(table, title, generated))),
    )


def write_report(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], **options: Any) -> str:
    """Write the report to `path` (temp file, then rename) and return the path. options: render_report's
    (title, gate, model_info, sections, min_slice_size).

    rows: the metrics table (`fairness.metrics_table` / `fairness.read_tables`). gate: FairnessGate, GateResult,
    gate config or result dict (gate_view.gate_summary). min_slice_size: slices smaller than this are marked
    unreliable (default: the gate's min_slice_size). sections: `Section`s (tfpretrain.reporting.sections) or
    (heading, html) pairs, appended after the metrics; headings are escaped, the html is inserted as given: it
    must be trusted, escaped HTML that fetches nothing (the page's Content-Security-Policy blocks it anyway).
    """
    path = os.fspath(path)
    write_text(path, render_report(rows, **options))
    return path


def read_report_data(path_or_html: str | os.PathLike) -> dict[str, Any]:
    """The embedded JSON payload of a report (a path or the HTML text): payload["rows"] are the rows."""
    text = os.fspath(path_or_html)
    if "<html" not in text[:500]:
        with open(text, encoding="utf-8") as f:
            text = f.read()
    match = _DATA.search(text)
    if match is None:
        raise ReportInputError('no embedded report data (<script id="report-data">) found')
    return json.loads(match.group(1))
