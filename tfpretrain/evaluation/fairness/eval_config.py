"""What a fairness evaluation computes, as TFMA's EvalConfig in its JSON form: model spec, slicing specs, metric specs.

Pure Python (no TFMA import): `eval_config_fields` / `outcome_means_fields` return the mapping that
`google.protobuf.json_format.ParseDict` turns into `tensorflow_model_analysis.proto.config_pb2.EvalConfig`;
`tfma_runner.build_eval_config` does that conversion, so tfma_runner stays the one module that imports TFMA.
The argument checks here are shared by the evaluate functions and the settings file (settings.py).
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

DEFAULT_THRESHOLDS = (0.25, 0.5, 0.75)
# AUC histogram buckets. TFMA's default is 10000, but confidence intervals recompute the AUC curve per resample in
# pure Python: seconds per slice at 10000, ten times less at 1000, while the AUC moves by ~1e-5 (measured on 20k
# examples, both within 2e-5 of the exact rank AUC).
DEFAULT_AUC_NUM_THRESHOLDS = 1000
CONFIDENCE_METHODS = {"jackknife": "JACKKNIFE", "bootstrap": "POISSON_BOOTSTRAP"}
FAIRNESS_MODULE = "fairness_indicators.fairness_indicators_metrics"
FAIRNESS_METRICS_NAME = "fairness_indicators_metrics"  # TFMA key prefix: fairness_indicators_metrics/<metric>@<t>
# The Fairness Indicators sub-metrics, in the order fairness_indicators_metrics.FAIRNESS_INDICATORS_SUB_METRICS has.
FAIRNESS_SUB_METRICS = (
    "false_positive_rate",
    "false_negative_rate",
    "true_positive_rate",
    "true_negative_rate",
    "positive_rate",
    "negative_rate",
    "false_discovery_rate",
    "false_omission_rate",
    "precision",
    "recall",
)
# Unweighted confusion counts per slice and threshold: the n of every rate's confidence interval (intervals.py).
# Computed only with confidence intervals; not a row of the metrics table.
CONFUSION_COUNTS = "confusion_matrix_at_thresholds"
OUTCOME_METRICS = ("ExampleCount", "MeanLabel", "MeanPrediction")


# ------------------------------------------------------------------------------------------------------- checks


def check_key(name: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def check_thresholds(thresholds: Any) -> tuple[float, ...]:
    if isinstance(thresholds, str | bytes) or not isinstance(thresholds, Iterable):
        raise ValueError(f"thresholds must be a list of numbers in [0, 1], got {thresholds!r}")
    out = []
    for t in thresholds:
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not 0.0 <= t <= 1.0:
            raise ValueError(f"thresholds must be numbers in [0, 1], got {t!r}")
        out.append(float(t))
    if not out:
        raise ValueError("thresholds must not be empty (Fairness Indicators needs at least one)")
    if len(set(out)) != len(out):
        raise ValueError(f"thresholds must be distinct, got {out}")
    return tuple(sorted(out))


def check_confidence(confidence: Any) -> str | None:
    if confidence is None or confidence in CONFIDENCE_METHODS:
        return confidence
    raise ValueError(f"confidence must be one of {sorted(CONFIDENCE_METHODS)} or None, got {confidence!r}")


def check_count(name: str, value: Any, minimum: int, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_label_threshold(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"label_threshold must be a finite number or None, got {value!r}")
    return float(value)


def slicing_columns(slices: Iterable[str] = (), intersections: Iterable[Sequence[str]] = ()) -> list[tuple[str, ...]]:
    """The per-spec column tuples, in order: one per slice column, then each intersection (columns as given).

    Rejects empty/duplicate names, intersections of fewer than two columns, and a column set listed twice (TFMA
    would compute it twice).
    """
    if isinstance(slices, str):
        raise ValueError(f"slices must be a list of column names, got the string {slices!r}")
    specs: list[tuple[str, ...]] = []
    for column in slices:
        specs.append((check_key("slice column", column),))
    for cols in intersections:
        if isinstance(cols, str) or not isinstance(cols, Sequence):
            raise ValueError(f"each intersection must be a list of column names, got {cols!r}")
        cols = tuple(check_key("intersection column", c) for c in cols)
        if len(cols) < 2:
            raise ValueError(f"an intersection needs at least two columns, got {list(cols)}")
        if len(set(cols)) != len(cols):
            raise ValueError(f"intersection {list(cols)} repeats a column")
        specs.append(cols)
    seen: dict[frozenset, tuple[str, ...]] = {}
    for cols in specs:
        key = frozenset(cols)
        if key in seen:
            raise ValueError(f"slice {list(cols)} is listed twice (also as {list(seen[key])})")
        seen[key] = cols
    return specs


# ------------------------------------------------------------------------------------------------- the specs


def metric(class_name: str, module: str = "", **config: Any) -> dict[str, str]:
    """One MetricConfig: TFMA class name, its module (for metrics outside TFMA) and its JSON-encoded arguments."""
    out = {"class_name": class_name}
    if module:
        out["module"] = module
    if config:
        out["config"] = json.dumps(config, sort_keys=True)
    return out


def slicing_specs(specs: Iterable[Sequence[str]]) -> list[dict[str, Any]]:
    """Overall first, then one SlicingSpec per column tuple."""
    return [{}] + [{"feature_keys": list(columns)} for columns in specs]


def options(confidence: str | None, min_slice_size: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"compute_confidence_intervals": confidence is not None}
    if confidence is not None:
        out["confidence_intervals"] = {"method": CONFIDENCE_METHODS[confidence]}
    if min_slice_size is not None:
        out["min_slice_size"] = min_slice_size
    return out


def eval_config_fields(
    *,
    label_key: str,
    prediction_key: str = "score",
    signature: str | None = "serving_default",
    slices: Iterable[str] = (),
    intersections: Iterable[Sequence[str]] = (),
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    confidence: str | None = "jackknife",
    min_slice_size: int = 1,
    example_weight_key: str | None = None,
    auc_num_thresholds: int | None = DEFAULT_AUC_NUM_THRESHOLDS,
) -> dict[str, Any]:
    """One binary model, the metric set of the metrics table, overall + per-column + intersection slices.

    See `tfma_runner.build_eval_config` for the arguments. With confidence intervals, the unweighted spec also
    holds the confusion counts at the thresholds (CONFUSION_COUNTS) that the rates' intervals need.
    """
    label_key = check_key("label_key", label_key)
    prediction_key = check_key("prediction_key", prediction_key)
    example_weight_key = check_key("example_weight_key", example_weight_key, optional=True)
    if signature is not None and not isinstance(signature, str):
        raise ValueError(f"signature must be a string or None, got {signature!r}")
    thresholds = check_thresholds(thresholds)
    confidence = check_confidence(confidence)
    min_slice_size = check_count("min_slice_size", min_slice_size, 1)
    auc_num_thresholds = check_count("auc_num_thresholds", auc_num_thresholds, 2, optional=True)
    specs = slicing_columns(slices, intersections)

    model_spec = {"label_key": label_key, "prediction_key": prediction_key}
    if signature:
        model_spec["signature_name"] = signature
    if example_weight_key:
        model_spec["example_weight_key"] = example_weight_key

    # ExampleCount in its own unweighted spec: the view keys metrics by name only, so weighted and unweighted
    # versions of one name would collide.
    counts = [metric("ExampleCount")]
    if confidence is not None:
        counts.append(metric("ConfusionMatrixAtThresholds", name=CONFUSION_COUNTS, thresholds=list(thresholds)))
    auc = {"num_thresholds": auc_num_thresholds} if auc_num_thresholds else {}
    metrics = [
        metric("AUC", **auc),
        metric("BinaryAccuracy"),
        metric("Calibration"),
        metric("MeanLabel"),
        metric("MeanPrediction"),
        metric("FairnessIndicators", FAIRNESS_MODULE, thresholds=list(thresholds)),
    ]
    if example_weight_key:
        metrics.insert(0, metric("ExampleCount", name="weighted_example_count"))
    main: dict[str, Any] = {"metrics": metrics}
    if example_weight_key:
        main["example_weights"] = {"weighted": True}
    return {
        "model_specs": [model_spec],
        "slicing_specs": slicing_specs(specs),
        "metrics_specs": [{"metrics": counts, "example_weights": {"unweighted": True}}, main],
        "options": options(confidence, min_slice_size),
    }


def outcome_means_fields(
    *, label_column: str, score_column: str, slices: Iterable[str] = (), confidence: str | None = "jackknife"
) -> dict[str, Any]:
    """example_count, mean_label and mean_prediction only, overall and per slice (see evaluate_outcome_means)."""
    label_column = check_key("label_column", label_column)
    score_column = check_key("score_column", score_column)
    confidence = check_confidence(confidence)
    return {
        "model_specs": [{"label_key": label_column, "prediction_key": score_column}],
        "slicing_specs": slicing_specs(slicing_columns(slices)),
        "metrics_specs": [{"metrics": [metric(m) for m in OUTCOME_METRICS]}],
        "options": options(confidence),
    }
