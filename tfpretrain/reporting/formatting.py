"""Numbers as the report and the model card print them: fixed decimals (never "-0.000"), grouped counts, signed
gaps, thresholds as written ("0.5", "0.75")."""

from __future__ import annotations

from tfpretrain.reporting.metric_info import is_count_metric

CI_LEVEL = "95%"


def fixed(value: float, digits: int) -> str:
    """`value` with `digits` decimals; a value that rounds to zero has no minus sign."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def grouped(value: float) -> str:
    """A count with thousands separators: 1234567 -> "1,234,567"."""
    text = f"{value:,.0f}"
    return text[1:] if text == "-0" else text


def format_value(value: float | None, metric: str, digits: int = 3) -> str:
    """A metric value as shown in charts (digits=3) and tables (digits=4); counts as grouped integers."""
    if value is None:
        return "n/a"
    return grouped(value) if is_count_metric(metric) else fixed(value, digits)


def format_gap(gap: float | None, metric: str, digits: int = 4) -> str:
    """A gap to overall with its sign ("+0.1500", "-0.0200"); one that rounds to zero has none."""
    if gap is None:
        return "n/a"
    text = format_value(abs(gap), metric, digits)
    if not text.strip("0.,"):
        return text
    return ("+" if gap > 0 else "-") + text


def format_threshold(threshold: float | None) -> str:
    return "" if threshold is None else f"{threshold:g}"


def format_count(n: int | None, missing: str = "?") -> str:
    return missing if n is None else grouped(n)
