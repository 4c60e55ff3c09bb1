"""metrics.csv / metrics.json: written atomically, strict about columns, read back unchanged."""

import csv
import json

import pytest

from tfpretrain.evaluation.fairness.tables import TABLE_COLUMNS, read_tables, write_tables

ROWS = [
    {"slice": "overall", "metric": "false_negative_rate", "threshold": 0.5, "value": 34 / 35, "ci_low": 0.8547,
     "ci_high": 0.9949, "ci_method": "wilson", "n": 70, "gap_to_overall": 0.0, "note": None},
    {"slice": "gender=female", "metric": "calibration", "threshold": None, "value": 1.2, "ci_low": 0.0,
     "ci_high": 2.5, "ci_method": "jackknife (Student-t approximation), clipped at 0", "n": 35,
     "gap_to_overall": None, "note": None},
    {"slice": "gender=x", "metric": "example_count", "threshold": None, "value": None, "ci_low": None,
     "ci_high": None, "ci_method": None, "n": None, "gap_to_overall": None, "note": "below minimum: 30, got 4"},
]


def test_write_tables_is_atomic_and_strict(tmp_path):
    rows = [{"slice": "overall", "metric": "auc", "threshold": None, "value": float("nan"), "n": 3}]
    paths = write_tables(rows, tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text())[0]["value"] is None
    assert (tmp_path / "metrics.csv").read_text().splitlines() == [",".join(TABLE_COLUMNS), "overall,auc,,,,,,3,,"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    assert set(paths) == {"csv", "json"}
    with pytest.raises(ValueError, match="not in"):
        write_tables([{"slice": "overall", "colour": "red"}], tmp_path)


def test_tables_round_trip_with_the_interval_method(tmp_path):
    paths = write_tables(ROWS, tmp_path / "out")
    assert read_tables(paths["json"]) == ROWS == read_tables(tmp_path / "out")
    with open(paths["csv"], newline="") as f:
        read = list(csv.DictReader(f))
    assert [list(r) for r in read] == [list(TABLE_COLUMNS)] * len(ROWS)
    for got, row in zip(read, ROWS):
        for column in TABLE_COLUMNS:
            value = row[column]
            expected = "" if value is None else repr(value) if isinstance(value, float) else str(value)
            assert got[column] == expected, column
    assert read[1]["ci_method"] == "jackknife (Student-t approximation), clipped at 0"  # the comma is quoted
