"""The table the report and the card share: slices, thresholds, gaps and the flag of every row."""

import pytest

from tests.support.metric_rows import SLICES, XSS
from tfpretrain.reporting.metrics_view import MetricsTable, metric_order, metric_view


def test_slices_thresholds_and_default(rows, gate):
    table = MetricsTable(rows, gate=gate)
    assert table.slices == list(SLICES) and table.thresholds == [0.5, 0.75]
    assert table.default_threshold == 0.5 and table.min_slice_size == 100, "both from the gate"
    assert table.thresholded == {"example_count": False, "auc": False, "false_positive_rate": True,
                                 "false_negative_rate": True}
    assert MetricsTable([r for r in rows if r["threshold"] != 0.5]).default_threshold == 0.75
    assert table.small_slices() == [XSS]


def test_flags_gaps_and_status(rows, gate):
    view = metric_view(MetricsTable(rows, gate=gate), "false_positive_rate", 0.5)
    bars = {b["slice"]: b for b in view["bars"]}
    assert [b["slice"] for b in view["bars"]] == list(SLICES), "overall first, then the table's order"
    assert {name: b["flag"] for name, b in bars.items()} == {
        "overall": "overall", "gender=female": "fail", "gender=male": "", XSS: "small",
        "gender=female&religion=muslim": ""}
    assert bars["gender=male"]["gap"] == pytest.approx(0.08 - 0.10)
    assert bars["gender=female"]["status"] == "exceeds gate limit (0.1000)"
    assert bars[XSS]["status"] == "small slice (n < 100)" and bars["overall"]["status"] == "reference"
    assert view["overall"] == 0.10 and view["limit"] == 0.1


def test_over_the_limit_at_another_threshold_is_flagged_for_information(rows):
    gate = {"max_gap": {"false_positive_rate": 0.07}, "threshold": 0.5, "min_slice_size": 100}
    view = metric_view(MetricsTable(rows, gate=gate), "false_positive_rate", 0.75)
    assert {b["slice"]: b["flag"] for b in view["bars"]}["gender=female"] == "fail"  # gap 0.075 > 0.07


def test_undefined_values_and_gaps_computed_when_absent(rows):
    rows = [dict(r, gap_to_overall=None) for r in rows]
    rows[2]["value"] = None  # overall's false_positive_rate at 0.5 is missing: no gaps for that metric there
    table = MetricsTable(rows)
    fnr = metric_view(table, "false_negative_rate", 0.5)
    assert {b["slice"]: b["gap"] for b in fnr["bars"]}["gender=female"] == pytest.approx(0.15)
    fpr = metric_view(table, "false_positive_rate", 0.5)
    assert all(b["gap"] is None for b in fpr["bars"])


def test_metric_order_and_errors(rows, gate):
    table = MetricsTable(rows, gate=gate)
    assert metric_order(table) == ["false_positive_rate", "false_negative_rate", "auc", "example_count"]
    with pytest.raises(ValueError, match="not in the metrics table"):
        metric_view(table, "false_positive_rate", 0.6)
    with pytest.raises(ValueError, match="available"):
        metric_view(table, "precision", 0.5)
    with pytest.raises(ValueError, match="min_slice_size"):
        MetricsTable(rows, min_slice_size=-1)
