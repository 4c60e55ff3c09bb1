"""Rows as they come (Python numbers, CSV strings, numpy scalars, NaN) are parsed to one form; bad rows are refused
with an error that names the row."""

import math

import numpy as np
import pytest

from tfpretrain.errors import UserError
from tfpretrain.reporting.values import json_safe, normalize_rows, number


def test_numbers_from_every_source():
    assert [number(v) for v in (1, "0.5", " 2 ", np.float32(0.25), "", None, "nan", math.inf, True, "x")] == [
        1.0, 0.5, 2.0, 0.25, None, None, None, None, None, None]


def test_csv_string_rows_equal_python_rows(rows):
    def cell(v):
        return "" if v is None else repr(v) if isinstance(v, float) else str(v)

    assert normalize_rows([{k: cell(v) for k, v in r.items()} for r in rows]) == rows


def test_json_safe_copies():
    assert json_safe({"a": (np.int64(3), np.float64(math.nan)), 1: object}) == {"a": [3, None], "1": str(object)}


@pytest.mark.parametrize(("row", "message"), [
    ({"metric": "auc", "value": 1}, "row 0 has no slice"),
    ({"slice": "overall", "metric": ""}, "row 0 has no metric"),
    ("overall,auc,1", "row 0 must be a mapping"),
])
def test_bad_rows_are_user_errors(row, message):
    with pytest.raises(UserError, match=message):
        normalize_rows([row])
