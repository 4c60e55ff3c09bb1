"""End to end through TFMA (predictions path): scores exactly at a threshold, and a planted bias that the gate
must catch and the report must flag, next to an unbiased twin that must pass; a gate that can check nothing on
the same table is neither a pass nor a fail, in the result, the report and the model card."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfpretrain.evaluation import fairness
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.reporting import read_report_data, write_model_card, write_report


def _rates(rows, metric, threshold):
    return {r["slice"]: r["value"] for r in rows if r["metric"] == metric and r["threshold"] == threshold}


def test_a_score_equal_to_the_threshold_is_negative_as_in_tfma(tmp_path):
    """TFMA's confusion matrices count `prediction > threshold` as positive; ties at 0.5 are negatives."""
    label = np.array([0] * 6 + [1] * 4)
    score = np.array([0.5, 0.5, 0.5, 0.2, 0.7, 0.1, 0.5, 0.9, 0.8, 0.3])
    df = pd.DataFrame({"label": label, "score": score, "group": ["a"] * 10})
    rows = fairness.metrics_table(fairness.evaluate_predictions(
        df, label_column="label", output_dir=tmp_path, slices=["group"], thresholds=[0.5], confidence=None))
    negatives, positives = score[label == 0], score[label == 1]
    strict_fpr, strict_fnr = (negatives > 0.5).mean(), (positives <= 0.5).mean()
    assert strict_fpr != (negatives >= 0.5).mean()  # the data can tell the two conventions apart
    assert _rates(rows, "false_positive_rate", 0.5)["overall"] == pytest.approx(strict_fpr)
    assert _rates(rows, "false_negative_rate", 0.5)["overall"] == pytest.approx(strict_fnr)


def _scores(bias, seed=0, n=1200):
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(int)
    group = rng.choice(["A", "B"], n)
    shift = np.where((group == "B") & (label == 0), bias, 0.0)  # group B's negatives score higher
    score = np.clip(0.3 + 0.4 * label + shift + rng.normal(0, 0.12, n), 0, 1)
    return pd.DataFrame({"label": label, "score": score, "group": group})


@pytest.mark.parametrize("bias, passes", [(0.25, False), (0.0, True)])
def test_planted_bias_fails_the_gate_and_is_flagged_in_the_report(bias, passes, tmp_path):
    df = _scores(bias)
    rows = fairness.metrics_table(fairness.evaluate_predictions(
        df, label_column="label", output_dir=tmp_path / "tfma", slices=["group"], thresholds=[0.5], confidence=None))
    fpr = _rates(rows, "false_positive_rate", 0.5)
    negatives = df[df.label == 0]
    for g in ("A", "B"):  # numpy agreement on the data the gate judges
        part = negatives[negatives.group == g]
        assert fpr[f"group={g}"] == pytest.approx((part.score > 0.5).mean(), abs=1e-6)
    gate = FairnessGate({"false_positive_rate": 0.1}, threshold=0.5, min_slice_size=100)
    result = gate.check(rows)
    assert result.passed is passes
    if not passes:
        assert "group=B" in result.failing_slices() and "group=B" in result.message()
    data = read_report_data(write_report(tmp_path / "report.html", rows, title="planted", gate=gate))
    assert data["gate"]["passed"] is passes
    flagged = {f["slice"] for f in data["gate"]["failures"]}
    assert ("group=B" in flagged) is (not passes)
    # The same table under a gate whose min_slice_size no slice reaches: nothing checked, exit 3, shown as such.
    strict = FairnessGate({"false_positive_rate": 0.1}, threshold=0.5, min_slice_size=10_000)
    result = strict.check(rows)
    assert (result.status, result.exit_code, result.checked) == ("unchecked", 3, 0)
    assert result.message() == (
        "fairness gate NOT CHECKED (0 slice/metric gaps checked, 2 skipped): "
        "false_positive_rate@0.5: all 2 slices skipped (2 below min_slice_size=10000)"
    )
    data = read_report_data(write_report(tmp_path / "strict.html", rows, title="strict", gate=strict))
    assert data["gate"]["status"] == "unchecked" and data["gate"]["passed"] is False
    card = write_model_card(tmp_path / "card.md", model_info={"name": "m"}, training=None, data=None,
                            evaluation_rows=rows, gate=strict)
    assert "NOT CHECKED" in (tmp_path / "card.md").read_text()
    assert json.loads(Path(card["json"]).read_text())["quantitative_analyses"]["gate"]["status"] == "unchecked"
