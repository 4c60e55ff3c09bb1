"""Numbers as the report and the card print them: written out by hand here, not recomputed."""

import pytest

from tfpretrain.reporting import formatting as F


@pytest.mark.parametrize(("value", "digits", "text"), [
    (0.25, 4, "0.2500"), (0.123456, 3, "0.123"), (2.0, 0, "2"), (-0.0001, 3, "0.000"), (-0.0, 2, "0.00"),
    (-0.25, 2, "-0.25"), (1e-12, 4, "0.0000"),
])
def test_fixed_never_prints_minus_zero(value, digits, text):
    assert F.fixed(value, digits) == text


def test_values_counts_gaps_and_thresholds():
    assert F.format_value(1234567.0, "example_count") == "1,234,567"
    assert F.format_value(999.6, "weighted_example_count") == "1,000"
    assert F.format_value(0.25, "auc") == "0.250" and F.format_value(0.25, "auc", 4) == "0.2500"
    assert F.format_value(None, "auc") == "n/a"
    assert F.format_gap(0.15, "false_positive_rate") == "+0.1500"
    assert F.format_gap(-0.25, "auc") == "-0.2500"
    assert F.format_gap(0.0, "auc") == "0.0000" and F.format_gap(-0.00001, "auc") == "0.0000", "no sign on zero"
    assert F.format_gap(None, "auc") == "n/a"
    assert F.format_gap(-1500.0, "example_count") == "-1,500"
    assert [F.format_threshold(t) for t in (0.5, 0.75, 0.1 + 0.2, None)] == ["0.5", "0.75", "0.3", ""]
    assert F.format_count(None) == "?" and F.format_count(None, "") == "" and F.format_count(12000) == "12,000"


def test_metric_labels_and_descriptions():
    from tfpretrain.reporting.metric_info import is_count_metric, metric_description, metric_label

    assert metric_label("false_positive_rate") == "False positive rate"
    assert metric_label("fairness/auc") == "fairness/AUC", "a TFMA output prefix is kept"
    assert metric_label("my_custom_thing") == "My custom thing"
    assert "negatives" in metric_description("false_positive_rate") and metric_description("unknown") == ""
    assert is_count_metric("example_count") and is_count_metric("x/weighted_example_count")
    assert not is_count_metric("auc")
