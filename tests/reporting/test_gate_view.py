"""Every way of describing a gate (the gate itself, its result, a config, a plain dict) gives the same summary."""

import pytest

from tests.support.metric_rows import LIMITS
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.reporting.gate_view import failure_gap, gate_summary


def test_gate_forms_agree(rows, gate):
    result = gate.check(rows)
    by_check = gate_summary(gate, rows)
    by_result = gate_summary(result)
    by_config = gate_summary({"max_gap": LIMITS, "min_slice_size": 100}, rows)
    as_dict = gate_summary({"passed": False, "failures": [f._asdict() for f in result.failures]})
    as_tuples = gate_summary({"passed": False, "failures": [tuple(f) for f in result.failures]})
    for other in (by_result, by_config, as_dict, as_tuples):
        assert other["failures"] == by_check["failures"]
    assert by_check["max_gap"] == by_config["max_gap"] == LIMITS and by_result["max_gap"] == {}
    assert by_check["passed"] is False and by_check["threshold"] == 0.5 and by_check["min_slice_size"] == 100
    assert [(f["slice"], f["metric"]) for f in by_check["failures"]] == [
        ("gender=female", "false_positive_rate"), ("gender=female", "false_negative_rate")]
    assert {s["reason"] for s in by_check["skipped"]} == {"n=20 < min_slice_size=100"}


def test_no_gate_and_bad_gates():
    assert gate_summary(None)["configured"] is False
    with pytest.raises(ValueError, match="gate must be"):
        gate_summary(object())
    with pytest.raises(ValueError, match="needs the metrics rows"):
        gate_summary(FairnessGate(LIMITS))


def test_failure_gap_is_signed_when_value_and_overall_are_known():
    failure = {"metric": "auc", "value": 0.7, "overall": 0.9, "gap": 0.2}
    assert failure_gap(failure) == "-0.2000"
    assert failure_gap({**failure, "value": None}) == "0.2000"


def test_a_gate_that_checked_nothing_is_neither_pass_nor_fail(rows):
    result = FairnessGate(LIMITS, threshold=0.5, min_slice_size=5000).check(rows)
    summary = gate_summary(result)
    assert summary["status"] == "unchecked" and summary["passed"] is False and summary["failures"] == []
    assert summary["unchecked"] == [
        {"metric": m, "threshold": 0.5, "reason": "all 4 slices skipped (4 below min_slice_size=5000)"}
        for m in LIMITS]
    assert gate_summary({"passed": True})["status"] == "pass" and gate_summary({"passed": False})["status"] == "fail"
    assert gate_summary({"status": "unchecked", "unchecked": [("auc", None, "absent")]})["unchecked"] == [
        {"metric": "auc", "threshold": None, "reason": "absent"}]
