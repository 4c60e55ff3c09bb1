"""The Jinja2 environments every report, section and card template is rendered with.

HTML templates autoescape everything (data text can never become markup; fragments that are already HTML are
markupsafe.Markup). Markdown templates escape nothing by themselves: data text goes through the `md` filter.
Template names are paths below the reporting package, e.g. "report/templates/page.html.j2".
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jinja2

from tfpretrain.reporting import formatting
from tfpretrain.reporting.gate_view import failure_gap
from tfpretrain.reporting.markdown import key_label, md_escape, plain
from tfpretrain.reporting.metric_info import is_count_metric, metric_label

FILTERS = {
    "fixed": formatting.fixed,
    "grouped": formatting.grouped,
    "value": formatting.format_value,
    "gap": formatting.format_gap,
    "threshold": formatting.format_threshold,
    "count": formatting.format_count,
    "label": metric_label,
    "signed_gap": failure_gap,
    "md": md_escape,
    "plain": plain,
    "key_label": key_label,
}


def script_json(payload: Any) -> str:
    """JSON safe inside <script>: every <, > and & escaped (so no "</script>" or "<!--" can end the element)."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tfpretrain.reporting", "."),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(FILTERS)
    env.tests["count_metric"] = is_count_metric
    return env


@functools.cache
def html_environment() -> jinja2.Environment:
    return _environment(autoescape=True)


@functools.cache
def markdown_environment() -> jinja2.Environment:
    return _environment(autoescape=False)


def render_html(template: str, /, **context: Any) -> str:
    return html_environment().get_template(template).render(**context)


def render_markdown(template: str, /, **context: Any) -> str:
    return markdown_environment().get_template(template).render(**context)
