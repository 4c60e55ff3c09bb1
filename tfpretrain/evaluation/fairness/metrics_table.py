"""TFMA's EvalResult -> the tidy metrics table: one row per (slice, metric, threshold), with valid intervals.

    rows = metrics_table(result)    # or metrics_table("runs/eval/tfma"): TFMA's output directory

Columns (tables.TABLE_COLUMNS): slice ("overall", "gender=female", "religion=muslim&gender=female": columns in the
order the slicing spec lists them), metric (TFMA name; fairness indicators without their prefix and threshold),
threshold (float, None for threshold-free metrics), value, ci_low / ci_high / ci_method (None without confidence
intervals; intervals.py says which method each row gets), n (the slice's unweighted example count),
gap_to_overall (value - overall value of the same metric and threshold) and note (why a slice has no metrics, e.g.
suppressed below min_slice_size: one row with metric "example_count" and value None). Undefined values (NaN, e.g. a
false positive rate on a slice without negatives) are None. Rows are ordered: overall, then slicing specs in config
order with values sorted, and metrics in a fixed order.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

from tfpretrain.evaluation.fairness.eval_config import CONFUSION_COUNTS, FAIRNESS_METRICS_NAME, FAIRNESS_SUB_METRICS
from tfpretrain.evaluation.fairness.intervals import ConfusionCounts, add_intervals, resampling_method
from tfpretrain.evaluation.fairness.tables import TABLE_COLUMNS
from tfpretrain.evaluation.fairness.tfma_runner import load_eval_result

OVERALL = "overall"
# Threshold-free metrics, by TFMA name, in table order.
BASE_METRICS = (
    "example_count",
    "weighted_example_count",
    "auc",
    "binary_accuracy",
    "calibration",
    "mean_label",
    "mean_prediction",
)
_TFMA_ERROR_KEY = "__ERROR__"
_COUNT_FIELDS = {"tp": "truePositives", "fp": "falsePositives", "tn": "trueNegatives", "fn": "falseNegatives"}


def _slice_value(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sort_value(value: Any) -> tuple:
    return (0, float(value), "") if isinstance(value, numbers.Real) else (1, 0.0, _slice_value(value))


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _parse_metric_value(value: Mapping[str, Any]) -> tuple[float | None, float | None, float | None] | None:
    """TFMA's JSON metric value -> (value, ci_low, ci_high); None for non-scalar values (matrices, arrays)."""
    if "doubleValue" in value:
        return _number(value["doubleValue"]), None, None
    if "boundedValue" in value:
        bounded = value["boundedValue"]
        point = _number(bounded["value"]) if "value" in bounded else None
        low = _number(bounded["lowerBound"]) if "lowerBound" in bounded else None
        high = _number(bounded["upperBound"]) if "upperBound" in bounded else None
        return point, low, high
    return None


def _configured_thresholds(eval_config) -> list[float]:
    """The thresholds of the FairnessIndicators (and confusion-count) metrics of the config."""
    out: set[float] = set()
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            if metric.class_name in ("FairnessIndicators", "ConfusionMatrixAtThresholds"):
                out.update(float(t) for t in (json.loads(metric.config) if metric.config else {}).get("thresholds", ()))
    return sorted(out)


def _snap(threshold: float, spelled_decimals: int, configured: Sequence[float]) -> float:
    """A threshold as Fairness Indicators spells it ("0.50") or TFMA stores it -> the configured float."""
    tolerance = 0.5 * 10.0**-spelled_decimals + 1e-12
    nearest = min(configured, key=lambda t: abs(t - threshold), default=None)
    return nearest if nearest is not None and abs(nearest - threshold) <= tolerance else threshold


def _split_metric(name: str, configured: Sequence[float]) -> tuple[str, float | None]:
    """ "fairness_indicators_metrics/false_positive_rate@0.50" -> ("false_positive_rate", 0.5); others unchanged."""
    prefix = FAIRNESS_METRICS_NAME + "/"
    if name.startswith(prefix) and "@" in name:
        metric, _, spelled = name[len(prefix) :].rpartition("@")
        return metric, _snap(float(spelled), len(spelled.partition(".")[2]), configured)
    return name, None


def _confusion_counts(value: Mapping[str, Any], configured: Sequence[float]) -> dict[float, ConfusionCounts]:
    """TFMA's confusionMatrixAtThresholds JSON (zero counts are left out of it) -> {threshold: counts}."""
    out = {}
    for matrix in value.get("matrices", ()):
        counts = ConfusionCounts(**{k: float(matrix.get(field, 0.0)) for k, field in _COUNT_FIELDS.items()})
        out[_snap(float(matrix.get("threshold", 0.0)), 6, configured)] = counts
    return out


def _metric_order(metric: str, threshold: float | None) -> tuple:
    if threshold is None:
        rank = BASE_METRICS.index(metric) if metric in BASE_METRICS else len(BASE_METRICS)
        return (0, rank, 0.0, metric)
    rank = FAIRNESS_SUB_METRICS.index(metric) if metric in FAIRNESS_SUB_METRICS else len(FAIRNESS_SUB_METRICS)
    return (1, threshold, rank, metric)


def _ordered_slices(eval_result: Any, overall_label: str) -> list[tuple[str, Mapping]]:
    """(slice name, TFMA metrics by output) in table order; cross-slice keys (not produced here) are left out."""
    config = eval_result.config
    spec_order: dict[frozenset, tuple[int, tuple[str, ...]]] = {}
    for i, spec in enumerate(config.slicing_specs if config is not None else ()):
        spec_order.setdefault(frozenset(spec.feature_keys), (i, tuple(spec.feature_keys)))
    slices = []
    for slice_key, metrics_by_output in eval_result.slicing_metrics:
        if slice_key and isinstance(slice_key[0], tuple) and slice_key[0] and isinstance(slice_key[0][0], tuple):
            continue  # a cross-slice key (baseline vs comparison)
        values = dict(slice_key)
        columns = frozenset(values)
        rank, ordered = spec_order.get(columns, (len(spec_order), tuple(sorted(columns))))
        name = "&".join(f"{c}={_slice_value(values[c])}" for c in ordered) if ordered else overall_label
        slices.append(((rank, tuple(_sort_value(values[c]) for c in ordered)), name, metrics_by_output or {}))
    slices.sort(key=lambda s: s[0])
    return [(name, metrics) for _, name, metrics in slices]


def metrics_table(eval_result: Any, overall_label: str = OVERALL) -> list[dict[str, Any]]:
    """TFMA's EvalResult (or its output directory) -> tidy rows; see the module docstring."""
    if isinstance(eval_result, str | os.PathLike):
        eval_result = load_eval_result(eval_result)
    config = eval_result.config
    configured = _configured_thresholds(config) if config is not None else []
    rows: list[dict[str, Any]] = []
    counts: dict[str, dict[float, ConfusionCounts]] = {}
    for name, metrics_by_output in _ordered_slices(eval_result, overall_label):
        entries = {}
        note = None
        for output_name, by_sub_key in metrics_by_output.items():
            for sub_key, metrics in by_sub_key.items():
                prefix = "/".join(p for p in (output_name, sub_key) if p)
                for metric_name, metric_value in metrics.items():
                    if metric_name == _TFMA_ERROR_KEY:
                        note = metric_value.get("debugMessage", str(metric_value))
                        continue
                    if metric_name == CONFUSION_COUNTS and not prefix and "confusionMatrixAtThresholds" in metric_value:
                        counts[name] = _confusion_counts(metric_value["confusionMatrixAtThresholds"], configured)
                        continue
                    parsed = _parse_metric_value(metric_value)
                    if parsed is None:
                        continue
                    metric, threshold = _split_metric(metric_name, configured)
                    entries[(f"{prefix}/{metric}" if prefix else metric, threshold)] = parsed
        count = entries.get(("example_count", None))
        n = None if count is None or count[0] is None else int(round(count[0]))
        if not entries:
            rows.append(_row(name, "example_count", None, (None, None, None), None, note))
            continue
        for (metric, threshold), parsed in sorted(entries.items(), key=lambda e: _metric_order(*e[0])):
            rows.append(_row(name, metric, threshold, parsed, n, note))

    weighted = bool(config is not None and any(s.example_weight_key for s in config.model_specs))
    add_intervals(rows, counts, method=resampling_method(config), weighted=weighted)
    overall = {(r["metric"], r["threshold"]): r["value"] for r in rows if r["slice"] == overall_label}
    for row in rows:
        base = overall.get((row["metric"], row["threshold"]))
        if row["value"] is not None and base is not None:
            row["gap_to_overall"] = row["value"] - base
    return rows


def _row(name: str, metric: str, threshold: float | None, parsed: tuple, n: int | None, note: str | None) -> dict:
    value, low, high = parsed
    values = {"slice": name, "metric": metric, "threshold": threshold, "value": value, "ci_low": low, "ci_high": high,
              "ci_method": None, "n": n, "gap_to_overall": None, "note": note}
    return {column: values[column] for column in TABLE_COLUMNS}
