"""The metrics table's files: OUT/metrics.csv and OUT/metrics.json, written atomically, and read back.

CSV cells: "" for missing, floats as repr (they round-trip exactly). JSON: a list of row objects, null for missing.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfpretrain.atomic import write_text

TABLE_COLUMNS = (
    "slice",
    "metric",
    "threshold",
    "value",
    "ci_low",
    "ci_high",
    "ci_method",
    "n",
    "gap_to_overall",
    "note",
)


def _csv_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _json_cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_cell(value.item())
    return value


def write_tables(rows: Iterable[Mapping[str, Any]], out_dir: str | os.PathLike) -> dict[str, str]:
    """OUT/metrics.csv and OUT/metrics.json (a list of row objects, null for missing), each written atomically."""
    rows = [dict(r) for r in rows]
    for row in rows:
        unknown = set(row) - set(TABLE_COLUMNS)
        if unknown:
            raise ValueError(f"rows have columns {sorted(unknown)} not in {TABLE_COLUMNS}")
    out_dir = os.fspath(out_dir)
    if "://" in out_dir:
        import tensorflow as tf

        tf.io.gfile.makedirs(out_dir)
    else:
        os.makedirs(out_dir, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in TABLE_COLUMNS])
    records = [{c: _json_cell(row.get(c)) for c in TABLE_COLUMNS} for row in rows]
    paths = {"csv": os.path.join(out_dir, "metrics.csv"), "json": os.path.join(out_dir, "metrics.json")}
    write_text(paths["csv"], buffer.getvalue())
    write_text(paths["json"], json.dumps(records, indent=1, allow_nan=False) + "\n")
    return paths


def read_tables(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows back from metrics.json (or the directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8"))
