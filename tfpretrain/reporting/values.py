"""Values as they come in metrics rows and gate records (numbers, CSV strings, numpy scalars, None / "" / NaN),
parsed once: floats or None, integer counts, JSON-safe copies, and the normalised rows every view is built from."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from tfpretrain.errors import UserError

_FLOAT_KEYS = ("threshold", "value", "ci_low", "ci_high", "gap_to_overall")


class ReportInputError(UserError):
    """Metrics rows, a gate or sections a report or model card cannot be made from."""


def number(value: Any) -> float | None:
    """float, or None for None / "" / NaN / inf (values from JSON, CSV strings, numpy or Python rows)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value.strip() or "nan") if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def count(value: Any) -> int | None:
    value = number(value)
    return None if value is None else int(round(value))


def json_safe(value: Any) -> Any:
    """A JSON-able copy: numpy scalars as Python numbers, NaN / inf as None, tuples as lists, other objects as str."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return json_safe(value.item())
    return str(value)


def normalize_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with numbers parsed (CSV strings, numpy scalars), missing values as None and everything JSON-safe.

    Python rows from `fairness.metrics_table` come back equal; unknown keys are kept (JSON-safe).
    """
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ReportInputError(f"metrics row {i} must be a mapping, got {type(row).__name__}")
        missing = [k for k in ("slice", "metric") if row.get(k) in (None, "")]
        if missing:
            raise ReportInputError(f"metrics row {i} has no {' / '.join(missing)}: {dict(row)!r}")
        clean: dict[str, Any] = {}
        for key, value in row.items():
            key = str(key)
            if key in ("slice", "metric"):
                clean[key] = str(value)
            elif key in _FLOAT_KEYS:
                clean[key] = number(value)
            elif key == "n":
                clean[key] = count(value)
            elif key == "note":
                clean[key] = None if value is None or (isinstance(value, str) and not value.strip()) else str(value)
            else:
                clean[key] = json_safe(value)
        clean.setdefault("threshold", None)
        clean.setdefault("value", None)
        out.append(clean)
    return out
