"""Confidence intervals of the metrics table, checked against independent references: scipy's Wilson interval
(the code uses statsmodels), the closed-form Wilson bound, and Monte-Carlo coverage of the AUC interval."""

import math

import numpy as np
import pytest
from scipy import stats

from tfpretrain.evaluation.fairness.intervals import (
    ConfusionCounts,
    add_intervals,
    auc_interval,
    wilson_interval,
)

Z = stats.norm.ppf(0.975)


def scipy_wilson(k, n):
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def closed_form_wilson(x, n):
    """Wilson (1927): (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), for fractional x too."""
    p = x / n
    centre, half = p + Z * Z / (2 * n), Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (centre - half) / (1 + Z * Z / n), (centre + half) / (1 + Z * Z / n)


@pytest.mark.parametrize("n", [1, 2, 7, 35, 400])
def test_wilson_matches_scipy_for_every_count_including_0_and_100_percent(n):
    for k in range(n + 1):
        low, high = wilson_interval(k, n)
        ref_low, ref_high = scipy_wilson(k, n)
        assert low == pytest.approx(ref_low, abs=1e-12) and high == pytest.approx(ref_high, abs=1e-12), (k, n)
        assert 0.0 <= low <= k / n <= high <= 1.0
    assert wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0
    # At the edges the interval is one-sided but not degenerate: [0, z²/(n + z²)] at 0 events.
    assert wilson_interval(0, n)[1] == pytest.approx(Z * Z / (n + Z * Z), rel=1e-12)
    assert wilson_interval(n, n)[0] == pytest.approx(n / (n + Z * Z), rel=1e-12)


def test_the_demo_false_negative_rate_gets_an_interval_inside_0_1():
    """The fine-tune that motivated this: FNR 34/35 = 0.9714, jackknife [0.9288, 1.0139]."""
    low, high = wilson_interval(34, 35)
    assert (low, high) == pytest.approx(scipy_wilson(34, 35), abs=1e-12)
    assert 0.85 < low < 34 / 35 < high < 1.0


def test_wilson_with_fractional_events_matches_the_closed_form():
    for x, n in [(0.0, 10), (3.7, 10), (9.99, 10), (10.0, 10), (123.456, 500)]:
        assert wilson_interval(x, n) == pytest.approx(closed_form_wilson(x, n), abs=1e-12)
    with pytest.raises(ValueError, match="events"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="n > 0"):
        wilson_interval(0, 0)


def _pairwise_auc(pos, neg):
    """P(score_pos > score_neg) + ties / 2, over all pairs."""
    return float(np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])))


def test_auc_interval_covers_the_true_auc_at_the_nominal_rate():
    """Binormal scores (true AUC = Phi(d / sqrt 2)), the AUC of each sample counted pair by pair."""
    rng = np.random.default_rng(0)
    for d, n_pos, n_neg in [(1.0, 40, 60), (2.5, 30, 30), (3.5, 20, 25)]:  # AUC 0.76, 0.96 and 0.99 (the edge)
        true_auc = stats.norm.cdf(d / math.sqrt(2))
        covered, aucs, widths = 0, [], []
        for _ in range(600):
            auc = _pairwise_auc(rng.normal(d, 1, n_pos), rng.normal(0, 1, n_neg))
            low, high = auc_interval(auc, n_pos, n_neg)
            assert 0.0 <= low <= auc <= high <= 1.0
            covered += low <= true_auc <= high
            aucs.append(auc)
            widths.append(high - low)
        assert 0.93 <= covered / 600 <= 0.995, (d, covered / 600)
        if d == 1.0:  # away from the edge: about 2 z standard deviations of the AUC over samples, not wider
            assert np.mean(widths) / (2 * Z) == pytest.approx(np.std(aucs), rel=0.15)


def test_auc_interval_at_the_edges_stays_in_0_1_and_contains_the_estimate():
    for auc in (0.0, 1.0, 0.5, 0.999):
        low, high = auc_interval(auc, 20, 25)
        assert 0.0 <= low <= auc <= high <= 1.0 and high - low > 0.001
    low, high = auc_interval(1.0, 20, 25)
    assert high == 1.0 and 0.85 < low < 0.95
    assert auc_interval(1.0, 200, 250)[0] > low  # more data, tighter
    with pytest.raises(ValueError, match="positives and negatives"):
        auc_interval(0.7, 0, 10)


def _row(slice_, metric, value, threshold=None, n=100, low=None, high=None):
    return {"slice": slice_, "metric": metric, "threshold": threshold, "value": value, "n": n,
            "ci_low": low, "ci_high": high}


def test_add_intervals_picks_the_method_per_row():
    counts = {"overall": {0.5: ConfusionCounts(tp=0, fp=3, tn=57, fn=40)}}  # 40 positives all missed, 60 negatives
    rows = [
        _row("overall", "false_negative_rate", 1.0, 0.5, low=0.97, high=1.03),  # jackknife above 1
        _row("overall", "true_positive_rate", 0.0, 0.5, low=-0.01, high=0.01),
        _row("overall", "false_positive_rate", 0.05, 0.5),
        _row("overall", "precision", 0.0, 0.5),
        _row("overall", "false_omission_rate", 40 / 97, 0.5),
        _row("overall", "positive_rate", 0.03, 0.5),
        _row("overall", "binary_accuracy", 0.57),
        _row("overall", "mean_label", 0.4),
        _row("overall", "auc", 0.62, low=0.5, high=0.74),
        _row("overall", "calibration", 1.1, low=-0.2, high=2.4),
        _row("overall", "mean_prediction", 0.97, low=0.9, high=1.04),
        _row("overall", "example_count", 100.0),
        _row("overall", "false_discovery_rate", None, 0.75),  # undefined: no interval, no method
        _row("g=a", "false_positive_rate", 0.1, 0.5, low=0.0, high=0.2),  # no counts: TFMA's interval stays
    ]
    add_intervals(rows, counts, method="jackknife (Student-t approximation)")
    got = {(r["slice"], r["metric"]): r for r in rows}
    expected_wilson = {
        "false_negative_rate": (40, 40),
        "true_positive_rate": (0, 40),
        "false_positive_rate": (3, 60),
        "precision": (0, 3),
        "false_omission_rate": (40, 97),
        "positive_rate": (3, 100),
        "binary_accuracy": (57, 100),
        "mean_label": (40, 100),
    }
    for metric, (k, n) in expected_wilson.items():
        row = got[("overall", metric)]
        assert row["ci_method"] == "wilson", metric
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(scipy_wilson(k, n), abs=1e-12), metric
    auc = got[("overall", "auc")]
    assert auc["ci_method"] == "hanley-mcneil score" and 0 < auc["ci_low"] < 0.62 < auc["ci_high"] < 1
    assert (got[("overall", "calibration")]["ci_low"], got[("overall", "calibration")]["ci_high"]) == (0.0, 2.4)
    assert got[("overall", "calibration")]["ci_method"] == "jackknife (Student-t approximation), clipped at 0"
    assert got[("overall", "mean_prediction")]["ci_high"] == 1.0
    assert got[("overall", "mean_prediction")]["ci_method"].endswith(", clipped to [0, 1]")
    assert got[("overall", "example_count")]["ci_method"] is None  # TFMA gives counts no interval
    assert got[("overall", "false_discovery_rate")]["ci_low"] is None
    assert got[("overall", "false_discovery_rate")]["ci_method"] is None
    fallback = got[("g=a", "false_positive_rate")]
    assert (fallback["ci_low"], fallback["ci_high"], fallback["ci_method"]) == (
        0.0, 0.2, "jackknife (Student-t approximation)")
    for row in rows:
        if row["ci_low"] is not None and row["metric"] != "calibration":
            assert 0.0 <= row["ci_low"] <= row["value"] <= row["ci_high"] <= 1.0, row


def test_add_intervals_weighted_rates_use_the_unweighted_n():
    counts = {"overall": {0.5: ConfusionCounts(tp=30, fp=6, tn=54, fn=10)}}
    rows = [_row("overall", "false_positive_rate", 0.0837, 0.5), _row("overall", "auc", 1.0)]
    add_intervals(rows, counts, method="poisson bootstrap (Student-t approximation)", weighted=True)
    fpr, auc = rows
    assert fpr["ci_method"] == "wilson (weighted, n unweighted)"
    assert (fpr["ci_low"], fpr["ci_high"]) == pytest.approx(closed_form_wilson(0.0837 * 60, 60), abs=1e-12)
    assert auc["ci_method"] == "hanley-mcneil score (weighted, n unweighted)" and auc["ci_high"] == 1.0


def test_no_intervals_when_the_evaluation_computed_none():
    rows = [_row("overall", "false_positive_rate", 0.05, 0.5, low=0.01, high=0.1)]
    add_intervals(rows, {"overall": {0.5: ConfusionCounts(fp=3, tn=57)}}, method=None)
    assert (rows[0]["ci_low"], rows[0]["ci_high"], rows[0]["ci_method"]) == (None, None, None)
