"""TFMA's EvalResult -> tidy rows, on results in TFMA's own JSON view format (no pipeline): parsing, ordering, and
intervals from the confusion counts at 0 %, 100 % and the demo's 97 % rates, against scipy."""

from collections import namedtuple

import pytest
from scipy import stats

pytest.importorskip("tensorflow_model_analysis")
pytest.importorskip("fairness_indicators.fairness_indicators_metrics")

from tfpretrain.evaluation import fairness  # noqa: E402
from tfpretrain.evaluation.fairness.metrics_table import metrics_table  # noqa: E402

Result = namedtuple("Result", "slicing_metrics config")
FI = "fairness_indicators_metrics/{}@0.5"
RATES = {  # rate -> (events, trials) of the counts (tp, fp, tn, fn)
    "false_positive_rate": lambda tp, fp, tn, fn: (fp, fp + tn),
    "false_negative_rate": lambda tp, fp, tn, fn: (fn, fn + tp),
    "true_positive_rate": lambda tp, fp, tn, fn: (tp, tp + fn),
    "true_negative_rate": lambda tp, fp, tn, fn: (tn, tn + fp),
    "positive_rate": lambda tp, fp, tn, fn: (tp + fp, tp + fp + tn + fn),
    "negative_rate": lambda tp, fp, tn, fn: (tn + fn, tp + fp + tn + fn),
    "false_discovery_rate": lambda tp, fp, tn, fn: (fp, fp + tp),
    "false_omission_rate": lambda tp, fp, tn, fn: (fn, fn + tn),
    "precision": lambda tp, fp, tn, fn: (tp, tp + fp),
    "recall": lambda tp, fp, tn, fn: (tp, tp + fn),
}
# slice -> confusion counts at 0.5 (tp, fp, tn, fn)
COUNTS = {
    (): (41, 30, 60, 69),
    (("g", "perfect"),): (20, 0, 30, 0),  # FPR = FNR = 0 %, TPR = precision = 100 %
    (("g", "inverted"),): (0, 30, 0, 20),  # FPR = FNR = 100 %, TPR = precision = 0 %
    (("g", "demo"),): (1, 0, 30, 34),  # FNR 34 / 35 = 0.9714, the fine-tune whose jackknife gave [0.9288, 1.0139]
}


def by_key(rows):
    return {(r["slice"], r["metric"], r["threshold"]): r for r in rows}


def scipy_wilson(k, n):
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def _normal_interval(p, n):
    """What a normal-approximation resampler reports: p ± 1.96 sqrt(p(1-p)/n), outside [0, 1] near the edges."""
    half = 1.96 * (p * (1 - p) / n) ** 0.5 + 0.01
    return {"boundedValue": {"value": p, "lowerBound": p - half, "upperBound": p + half}}


def _tfma_view(counts):
    tp, fp, tn, fn = counts
    n = tp + fp + tn + fn
    metrics = {
        "example_count": {"doubleValue": float(n)},
        "confusion_matrix_at_thresholds": {"confusionMatrixAtThresholds": {"matrices": [
            {k: float(v) for k, v in (("threshold", 0.5), ("truePositives", tp), ("falsePositives", fp),
                                      ("trueNegatives", tn), ("falseNegatives", fn)) if v}  # TFMA leaves out 0s
        ]}},
        "auc": _normal_interval(0.9, n),
        "binary_accuracy": _normal_interval((tp + tn) / n, n),
        "mean_label": _normal_interval((tp + fn) / n, n),
        "calibration": {"boundedValue": {"value": 0.2, "lowerBound": -0.1, "upperBound": 0.5}},
    }
    for rate, events in RATES.items():
        k, trials = events(*counts)
        metrics[FI.format(rate)] = _normal_interval(k / trials, trials) if trials else {"doubleValue": "NaN"}
    return {"": {"": metrics}}


def _result(**config):
    config = fairness.build_eval_config(label_key="l", slices=["g"], thresholds=[0.5], **config)
    return Result([(key, _tfma_view(counts)) for key, counts in COUNTS.items()], config)


def test_rates_get_wilson_intervals_from_the_confusion_counts_at_0_and_100_percent():
    rows = metrics_table(_result())
    table = by_key(rows)
    checked = 0
    for key, counts in COUNTS.items():
        name = "&".join(f"{c}={v}" for c, v in key) or "overall"
        for rate, events in RATES.items():
            k, n = events(*counts)
            row = table[(name, rate, 0.5)]
            if n == 0:
                assert row["value"] is None and (row["ci_low"], row["ci_high"], row["ci_method"]) == (None,) * 3
                continue
            assert row["value"] == k / n and row["ci_method"] == "wilson", row
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(scipy_wilson(k, n), abs=1e-12), row
            checked += 1
        tp, fp, tn, fn = counts
        for metric, k in (("binary_accuracy", tp + tn), ("mean_label", tp + fn)):
            row = table[(name, metric, None)]
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(scipy_wilson(k, sum(counts)), abs=1e-12)
        auc = table[(name, "auc", None)]
        assert auc["ci_method"] == "hanley-mcneil score" and 0 < auc["ci_low"] < 0.9 < auc["ci_high"] < 1
        calibration = table[(name, "calibration", None)]
        assert (calibration["ci_low"], calibration["ci_high"]) == (0.0, 0.5)
        assert calibration["ci_method"] == "jackknife (Student-t approximation), clipped at 0"
    assert checked == 40
    assert table[("g=perfect", "false_positive_rate", 0.5)]["ci_low"] == 0.0  # 0 events: [0, z²/(n+z²)]
    assert table[("g=inverted", "false_negative_rate", 0.5)]["ci_high"] == 1.0
    demo = table[("g=demo", "false_negative_rate", 0.5)]
    assert demo["value"] == pytest.approx(0.9714, abs=1e-4) and 0.85 < demo["ci_low"] < demo["ci_high"] < 1.0
    for row in rows:
        if row["ci_low"] is not None:
            assert 0.0 <= row["ci_low"] <= row["value"] <= row["ci_high"], row
            assert row["ci_high"] <= 1.0 or row["metric"] == "calibration", row


def test_weighted_and_bootstrap_evaluations_say_so():
    rows = by_key(metrics_table(_result(example_weight_key="w", confidence="bootstrap")))
    assert rows[("g=demo", "false_negative_rate", 0.5)]["ci_method"] == "wilson (weighted, n unweighted)"
    assert rows[("overall", "auc", None)]["ci_method"] == "hanley-mcneil score (weighted, n unweighted)"
    assert rows[("overall", "calibration", None)]["ci_method"] == (
        "poisson bootstrap (Student-t approximation), clipped at 0"
    )
    rows = metrics_table(_result(confidence=None))  # no intervals asked for: none given, whatever TFMA's JSON holds
    assert all((r["ci_low"], r["ci_high"], r["ci_method"]) == (None, None, None) for r in rows)


def test_metrics_table_parsing_without_pipeline():
    """TFMA's view format: doubleValue / boundedValue / NaN / __ERROR__, sorted slices, FI names split."""
    config = fairness.build_eval_config(label_key="l", slices=["g"], intersections=[("r", "g")], thresholds=[0.5, 0.25])
    fi = "fairness_indicators_metrics/false_positive_rate@0.50"
    result = namedtuple("Result", "slicing_metrics config")(
        [
            ((("g", "m"),), {"": {"": {"example_count": {"doubleValue": 4.0}, fi: {"doubleValue": "NaN"}}}}),
            (
                (),
                {
                    "": {
                        "": {
                            "example_count": {"doubleValue": 10.0},
                            fi: {"doubleValue": 0.25},
                            "auc": {"boundedValue": {"lowerBound": 0.5, "upperBound": 0.9, "value": 0.7}},
                            "confusion": {"confusionMatrixAtThresholds": {}},
                        }
                    }
                },
            ),
            ((("g", "f"), ("r", 3)), {"": {"": {"__ERROR__": {"debugMessage": "too small"}}}}),
            ((("g", "f"),), {"": {"": {"example_count": {"doubleValue": 6.0}, fi: {"doubleValue": 0.5}}}}),
        ],
        config,
    )
    rows = metrics_table(result, overall_label="all")
    assert [(r["slice"], r["metric"], r["threshold"]) for r in rows] == [
        ("all", "example_count", None),
        ("all", "auc", None),
        ("all", "false_positive_rate", 0.5),
        ("g=f", "example_count", None),
        ("g=f", "false_positive_rate", 0.5),
        ("g=m", "example_count", None),
        ("g=m", "false_positive_rate", 0.5),
        ("r=3&g=f", "example_count", None),
    ]
    table = by_key(rows)
    assert table[("all", "auc", None)] | {} == {
        "slice": "all",
        "metric": "auc",
        "threshold": None,
        "value": 0.7,
        "ci_low": 0.5,
        "ci_high": 0.9,
        "ci_method": "jackknife (Student-t approximation)",  # no confusion counts here: TFMA's interval stays
        "n": 10,
        "gap_to_overall": 0.0,
        "note": None,
    }
    assert table[("g=f", "false_positive_rate", 0.5)]["gap_to_overall"] == 0.25
    assert table[("g=m", "false_positive_rate", 0.5)]["value"] is None
    assert table[("g=m", "false_positive_rate", 0.5)]["gap_to_overall"] is None
    assert table[("r=3&g=f", "example_count", None)]["note"] == "too small"
