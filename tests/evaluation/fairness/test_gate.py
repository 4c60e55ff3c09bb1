"""FairnessGate over tidy metrics rows (pure Python; no TensorFlow)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpretrain.config import ConfigError
from tfpretrain.evaluation.fairness.gate import FairnessGate, GateFailure, GateSkip


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


def test_gate_table_errors():
    rows = table()
    with pytest.raises(ValueError, match=r"'equal_opportunity' is not in the metrics table; available: \['auc'"):
        FairnessGate({"equal_opportunity": 0.1}).check(rows)
    with pytest.raises(ValueError, match=r"computed at thresholds \[0.25, 0.5\], not at the gate threshold 0.7"):
        FairnessGate({"false_positive_rate": 0.1}, threshold=0.7).check(rows)
    with pytest.raises(ValueError, match="no overall slice 'all'"):
        FairnessGate({"auc": 0.1}, overall_label="all").check(rows)


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
    assert result.passed == (not expected_fail)
    assert all(math.isclose(f.gap, abs(f.value - overall)) for f in result.failures)
