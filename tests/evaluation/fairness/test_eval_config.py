"""What TFMA computes: the EvalConfig built from the arguments (TFMA's proto), and its argument checks."""

import json

import pytest

from tfpretrain.evaluation.fairness.eval_config import (
    CONFUSION_COUNTS,
    DEFAULT_AUC_NUM_THRESHOLDS,
    FAIRNESS_METRICS_NAME,
    FAIRNESS_MODULE,
    FAIRNESS_SUB_METRICS,
    eval_config_fields,
    outcome_means_fields,
)

pytest.importorskip("tensorflow_model_analysis")
pytest.importorskip("fairness_indicators.fairness_indicators_metrics")

from tfpretrain.evaluation import fairness  # noqa: E402
from tfpretrain.evaluation.fairness import tfma_runner  # noqa: E402


def test_build_eval_config_contents():
    config = fairness.build_eval_config(
        label_key="toxic",
        prediction_key="prob",
        slices=["gender", "religion"],
        intersections=[("religion", "gender")],
        thresholds=(0.5, 0.1),
        confidence="bootstrap",
        min_slice_size=50,
        example_weight_key="w",
        auc_num_thresholds=500,
    )
    (model_spec,) = config.model_specs
    assert (model_spec.signature_name, model_spec.label_key, model_spec.prediction_key) == (
        "serving_default",
        "toxic",
        "prob",
    )
    assert model_spec.example_weight_key == "w"
    assert [list(s.feature_keys) for s in config.slicing_specs] == [
        [],
        ["gender"],
        ["religion"],
        ["religion", "gender"],
    ]
    assert config.options.compute_confidence_intervals.value
    assert config.options.confidence_intervals.method == config.options.confidence_intervals.POISSON_BOOTSTRAP
    assert config.options.min_slice_size.value == 50
    counts, main = config.metrics_specs
    # Unweighted: the slice size, and the confusion counts behind the rates' intervals (intervals.py).
    assert [m.class_name for m in counts.metrics] == ["ExampleCount", "ConfusionMatrixAtThresholds"]
    assert counts.example_weights.unweighted
    assert json.loads(counts.metrics[1].config) == {"name": CONFUSION_COUNTS, "thresholds": [0.1, 0.5]}
    assert main.example_weights.weighted
    classes = {m.class_name: m for m in main.metrics}
    assert set(classes) == {
        "ExampleCount",
        "AUC",
        "BinaryAccuracy",
        "Calibration",
        "MeanLabel",
        "MeanPrediction",
        "FairnessIndicators",
    }
    assert classes["FairnessIndicators"].module == FAIRNESS_MODULE
    assert json.loads(classes["FairnessIndicators"].config) == {"thresholds": [0.1, 0.5]}
    assert json.loads(classes["AUC"].config) == {"num_thresholds": 500}

    plain = fairness.build_eval_config(label_key="label", confidence=None, signature=None)
    assert not plain.options.compute_confidence_intervals.value and not plain.model_specs[0].signature_name
    assert len(plain.slicing_specs) == 1 and len(plain.metrics_specs[1].metrics) == 6
    assert [m.class_name for m in plain.metrics_specs[0].metrics] == ["ExampleCount"]  # no intervals: no counts
    auc = {m.class_name: m for m in plain.metrics_specs[1].metrics}["AUC"]
    assert json.loads(auc.config) == {"num_thresholds": DEFAULT_AUC_NUM_THRESHOLDS}
    tfma_default = fairness.build_eval_config(label_key="label", auc_num_thresholds=None)
    assert {m.class_name: m for m in tfma_default.metrics_specs[1].metrics}["AUC"].config == ""


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(confidence="wald"), "confidence must be one of"),
        (dict(thresholds=()), "must not be empty"),
        (dict(thresholds=(0.5, 1.5)), r"in \[0, 1\]"),
        (dict(thresholds=(0.5, 0.5)), "distinct"),
        (dict(min_slice_size=0), "min_slice_size"),
        (dict(slices=["a", "a"]), "listed twice"),
        (dict(slices=["a", "b"], intersections=[("b", "a"), ("a", "b")]), "listed twice"),
        (dict(intersections=[("a",)]), "at least two"),
        (dict(slices="gender"), "list of column names"),
        (dict(label_key=""), "label_key"),
        (dict(auc_num_thresholds=1), "auc_num_thresholds"),
    ],
)
def test_build_eval_config_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fairness.build_eval_config(**{"label_key": "label", **kwargs})


def test_fairness_metric_names_match_installed_package():
    from fairness_indicators import fairness_indicators_metrics as fim

    assert FAIRNESS_SUB_METRICS == fim.FAIRNESS_INDICATORS_SUB_METRICS
    assert FAIRNESS_METRICS_NAME == fim.FAIRNESS_INDICATORS_METRICS_NAME


def test_outcome_means_config():
    fields = outcome_means_fields(label_column="label", score_column="p", slices=["bias_type"], confidence=None)
    config = tfma_runner._to_proto(fields)  # what evaluate_outcome_means gives TFMA
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], ["bias_type"]]
    assert [m.class_name for m in config.metrics_specs[0].metrics] == ["ExampleCount", "MeanLabel", "MeanPrediction"]
    assert not config.options.compute_confidence_intervals.value
    with pytest.raises(ValueError, match="confidence must be one of"):
        outcome_means_fields(label_column="label", score_column="p", confidence="wald")


def test_fields_are_plain_json():
    """eval_config.py builds TFMA's JSON form without importing TFMA; it survives a JSON round trip."""
    fields = eval_config_fields(label_key="label", slices=["g"], example_weight_key="w")
    assert json.loads(json.dumps(fields)) == fields
