"""FairnessGate over tidy metrics rows (pure Python; no TensorFlow)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpretrain.config import ConfigError
from tfpretrain.evaluation.fairness.gate import FairnessGate, GateFailure, GateSkip, Unchecked


def row(slice_, metric, value, n, threshold=None, note=None):
    return {"slice": slice_, "metric": metric, "threshold": threshold, "value": value, "n": n, "note": note}


def table():
    """overall FPR@0.5 = 0.20; slices at various gaps, sizes and states."""
    rows = [row("overall", "example_count", 1000, 1000)]
    for t, fpr in ((0.25, 0.40), (0.5, 0.20)):
        rows.append(row("overall", "false_positive_rate", fpr, 1000, t))
    rows.append(row("overall", "false_negative_rate", 0.30, 1000, 0.5))
    rows.append(row("overall", "auc", 0.80, 1000))
    slices = {
        # name: (n, fpr@0.5, fnr@0.5, auc)
        "gender=female": (400, 0.35, 0.31, 0.70),  # FPR gap 0.15 -> fails at 0.1
        "gender=male": (450, 0.10, 0.45, 0.83),  # FPR gap 0.10 exactly -> passes; FNR gap 0.15 fails
        "gender=nonbinary": (40, 0.90, 0.90, 0.20),  # huge gaps but small: skipped at min_slice_size=100
        "religion=muslim": (150, None, 0.25, 0.79),  # FPR undefined (no negatives): skipped
        "religion=jewish": (120, 0.21, 0.29, 0.81),
    }
    for name, (n, fpr, fnr, auc) in slices.items():
        rows.append(row(name, "example_count", n, n))
        rows.append(row(name, "false_positive_rate", 0.5 if fpr is None else fpr + 0.2, n, 0.25))
        rows.append(row(name, "false_positive_rate", fpr, n, 0.5))
        rows.append(row(name, "false_negative_rate", fnr, n, 0.5))
        rows.append(row(name, "auc", auc, n))
    rows.append(row("gender=nonbinary&religion=muslim", "example_count", None, None, note="below minimum: 30"))
    return rows


def test_gate_failures_and_skips():
    gate = FairnessGate({"false_positive_rate": 0.1, "false_negative_rate": 0.1}, threshold=0.5, min_slice_size=100)
    result = gate.check(table())
    assert not result.passed
    assert result.failures == (
        GateFailure("gender=female", "false_positive_rate", 0.5, 0.35, 0.20, pytest.approx(0.15), 400),
        GateFailure("gender=male", "false_negative_rate", 0.5, 0.45, 0.30, pytest.approx(0.15), 450),
    )
    skipped = {(s.slice, s.metric): s for s in result.skipped}
    assert skipped[("gender=nonbinary", "false_positive_rate")].reason == "n=40 < min_slice_size=100"
    assert "undefined value" in skipped[("religion=muslim", "false_positive_rate")].reason
    assert skipped[("gender=nonbinary&religion=muslim", "false_negative_rate")] == GateSkip(
        "gender=nonbinary&religion=muslim", "false_negative_rate", 0.5, None, "below minimum: 30"
    )
    assert len(result.skipped) == 5
    assert result.checked == 6 * 2 - 5  # 6 slices (one suppressed) x 2 metrics, minus the 5 skips
    assert result.failing_slices() == ["gender=female", "gender=male"]
    message = result.message()
    assert message.startswith("fairness gate FAILED: 2 of 7 slice/metric gaps over the limit, 5 skipped")
    assert "gender=female: false_positive_rate@0.5 = 0.3500 vs overall 0.2000 (gap 0.1500, n=400)" in message
    assert "gender=male: false_negative_rate@0.5" in message and "nonbinary" not in message


def test_gate_threshold_selection_and_threshold_free_metrics():
    rows = table()
    # At 0.25 every FPR is its 0.5 value + 0.2 (overall 0.40): same gaps, so the same failure.
    result = FairnessGate({"false_positive_rate": 0.1}, threshold=0.25, min_slice_size=100).check(rows)
    assert [(f.slice, f.threshold, f.value) for f in result.failures] == [("gender=female", 0.25, pytest.approx(0.55))]
    assert [f.slice for f in FairnessGate({"auc": 0.05}, min_slice_size=100).check(rows).failures] == ["gender=female"]
    assert FairnessGate({"auc": 0.2}, threshold=None, min_slice_size=100).check(rows).passed
    # min_slice_size 0: the small slice is checked (and fails); the suppressed one stays skipped.
    result = FairnessGate({"false_positive_rate": 0.1}).check(rows)
    assert {f.slice for f in result.failures} == {"gender=female", "gender=nonbinary"}
    assert {s.slice for s in result.skipped} == {"religion=muslim", "gender=nonbinary&religion=muslim"}


def test_gate_passes_with_loose_limits_and_equal_gap_passes():
    gate = FairnessGate({"false_positive_rate": 0.15, "false_negative_rate": 0.15}, min_slice_size=100)
    result = gate.check(table())
    assert result.passed and result.failures == () and result.checked == 7
    assert result.message() == "fairness gate passed: 7 slice/metric gaps within limits, 5 skipped"


def test_gate_reads_csv_strings():
    rows = [
        {k: "" if v is None else str(v) for k, v in r.items()}  # what csv.DictReader gives for metrics.csv
        for r in table()
    ]
    gate = FairnessGate({"false_positive_rate": 0.1, "false_negative_rate": 0.1}, min_slice_size=100)
    assert gate.check(rows).failing_slices() == ["gender=female", "gender=male"]
    nan_rows = [dict(r, value=float("nan")) if r["slice"] == "gender=female" else r for r in table()]
    assert gate.check(nan_rows).failing_slices() == ["gender=male"]


def test_gate_outcomes_and_exit_codes():
    rows = table()
    passed = FairnessGate({"false_positive_rate": 0.15}, min_slice_size=100).check(rows)
    failed = FairnessGate({"false_positive_rate": 0.1}, min_slice_size=100).check(rows)
    unchecked = FairnessGate({"false_positive_rate": 0.1}, min_slice_size=10_000).check(rows)
    assert [(r.status, r.passed, r.exit_code) for r in (passed, failed, unchecked)] == [
        ("pass", True, 0),
        ("fail", False, 1),
        ("unchecked", False, 3),
    ]
    assert passed.reason is None and failed.reason is None and passed.unchecked == failed.unchecked == ()


def _unchecked(gate, rows):
    result = gate.check(rows)
    assert (result.status, result.exit_code, result.checked, result.failures) == ("unchecked", 3, 0, ())
    assert result.message().startswith("fairness gate NOT CHECKED") and result.reason in result.message()
    return result


def test_unchecked_when_every_slice_is_below_min_slice_size():
    result = _unchecked(FairnessGate({"false_positive_rate": 0.1}, min_slice_size=1000), table())
    # 5 slices too small, 1 suppressed by TFMA (its note says why).
    assert result.unchecked == (
        Unchecked(
            "false_positive_rate", 0.5, "all 6 slices skipped (5 below min_slice_size=1000, 1 below minimum: 30)"
        ),
    )
    assert len(result.skipped) == 6


def test_unchecked_when_the_gated_metric_is_absent():
    result = _unchecked(FairnessGate({"equal_opportunity": 0.1}), table())
    (item,) = result.unchecked
    assert item.metric == "equal_opportunity" and item.threshold is None
    assert item.reason.startswith("not in the metrics table; available: ['auc', 'example_count'")
    assert result.message().endswith("equal_opportunity: not in the metrics table; available: "
                                      "['auc', 'example_count', 'false_negative_rate', 'false_positive_rate']")


def test_unchecked_when_the_threshold_was_not_evaluated():
    result = _unchecked(FairnessGate({"false_positive_rate": 0.1}, threshold=0.7), table())
    assert result.reason == (
        "false_positive_rate@0.7: computed at thresholds [0.25, 0.5], not at the gate threshold 0.7"
    )
    none = _unchecked(FairnessGate({"false_positive_rate": 0.1}, threshold=None), table())
    assert "not at the gate threshold None" in none.reason


def test_unchecked_without_an_overall_slice_or_other_slices():
    result = _unchecked(FairnessGate({"auc": 0.1}, overall_label="all"), table())
    assert "no overall slice 'all'" in result.reason
    overall_only = [r for r in table() if r["slice"] == "overall"]
    result = _unchecked(FairnessGate({"auc": 0.1}), overall_only)
    assert result.reason == "auc: the metrics table has no slices besides 'overall'"
    assert _unchecked(FairnessGate({"auc": 0.1}), []).unchecked[0].reason == "not in the metrics table; available: []"


def test_unchecked_when_values_are_undefined():
    rows = [row("overall", "false_positive_rate", None, 1000, 0.5)]  # no negatives at all: every FPR undefined
    rows += [row(f"g={i}", "false_positive_rate", None, 500, 0.5) for i in range(2)]
    result = _unchecked(FairnessGate({"false_positive_rate": 0.1}), rows)
    assert result.reason == (
        "false_positive_rate@0.5: all 2 slices skipped "
        "(2 undefined value (e.g. no positives/negatives in the slice))"
    )
    rows = [row("overall", "auc", None, 1000)] + [row("g=a", "auc", 0.7, 500)]
    reason = _unchecked(FairnessGate({"auc": 0.1}), rows).reason
    assert reason == "auc: all 1 slices skipped (1 undefined overall value)"


def test_one_unchecked_metric_keeps_the_gate_from_passing():
    """A misspelled or unmeasurable metric next to a passing one: not a pass. A failure still wins."""
    result = FairnessGate({"false_positive_rate": 0.15, "false_negative_rte": 0.1}, min_slice_size=100).check(table())
    assert result.status == "unchecked" and result.exit_code == 3 and result.checked == 3
    assert [u.metric for u in result.unchecked] == ["false_negative_rte"]
    result = FairnessGate({"false_positive_rate": 0.1, "false_negative_rte": 0.1}, min_slice_size=100).check(table())
    assert result.status == "fail" and result.exit_code == 1
    assert result.message().splitlines()[-1].startswith("  not checked: false_negative_rte: not in the metrics table")


@pytest.mark.parametrize(
    "config, match",
    [
        ({"max_gap": {"false_positive_rate": -0.1}}, r"max_gap.false_positive_rate: must be >= 0"),
        ({"max_gap": {"false_positive_rate": "0.1"}}, "finite number"),
        ({"max_gap": {"false_positive_rate": float("inf")}}, "finite number"),
        ({"max_gap": {}}, "non-empty mapping"),
        ({"max_gap": {"auc": 0.1}, "threshold": 1.5}, r"threshold: must be a number in \[0, 1\]"),
        ({"max_gap": {"auc": 0.1}, "min_slice_size": -1}, "min_slice_size"),
        ({"max_gap": {"auc": 0.1}, "min_gap": 0.1}, r"unknown keys \['min_gap'\]"),
        ({"threshold": 0.5}, "max_gap: required"),
    ],
)
def test_gate_config_errors(config, match):
    with pytest.raises(ConfigError, match=match):
        FairnessGate.from_config(config, source="eval.yaml")


def test_gate_from_config_round_trip():
    gate = FairnessGate.from_config({"max_gap": {"false_positive_rate": 0.1}, "threshold": 0.5, "min_slice_size": 50})
    assert gate == FairnessGate({"false_positive_rate": 0.1}, 0.5, 50)
    assert FairnessGate.from_config(gate.to_config()) == gate
    hash(gate)
    with pytest.raises(ConfigError, match="eval.yaml: max_gap.auc"):
        FairnessGate.from_config({"max_gap": {"auc": -1}}, source="eval.yaml")


values = st.one_of(st.none(), st.floats(0, 1))


@settings(max_examples=150, deadline=None)
@given(
    overall=st.floats(0, 1),
    slices=st.lists(st.tuples(values, st.integers(0, 500)), max_size=12),
    limit=st.floats(0, 1),
    min_size=st.integers(0, 300),
)
def test_gate_matches_an_independent_check(overall, slices, limit, min_size):
    rows = [row("overall", "false_negative_rate", overall, 1000, 0.5)]
    rows += [row(f"s={i}", "false_negative_rate", v, n, 0.5) for i, (v, n) in enumerate(slices)]
    result = FairnessGate({"false_negative_rate": limit}, min_slice_size=min_size).check(rows)
    expected_fail = {
        f"s={i}"
        for i, (v, n) in enumerate(slices)
        if v is not None and n >= min_size and abs(v - overall) > limit + 1e-12
    }
    expected_skip = {f"s={i}" for i, (v, n) in enumerate(slices) if v is None or n < min_size}
    assert {f.slice for f in result.failures} == expected_fail
    assert {s.slice for s in result.skipped} == expected_skip
    assert result.checked == len(slices) - len(expected_skip)
    checked_any = len(expected_skip) < len(slices)
    assert result.status == ("fail" if expected_fail else "pass" if checked_any else "unchecked")
    assert result.exit_code == (1 if expected_fail else 0 if checked_any else 3)
    assert all(math.isclose(f.gap, abs(f.value - overall)) for f in result.failures)
