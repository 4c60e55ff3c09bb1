"""Fairness evaluation with TensorFlow Model Analysis 0.52 + Fairness Indicators, as one tidy metrics table.

    from tfpretrain.evaluation.fairness import tfma_runner as fairness
    result = fairness.evaluate_saved_model("export/1", "data/eval-*.tfrecord", label_key="label",
                                           slices=["gender", "religion"], intersections=[("gender", "religion")],
                                           output_dir="runs/eval/tfma")
    # or, for predictions already made:
    # result = fairness.evaluate_predictions("preds.csv", label_column="label", score_column="score",
    #                                        slices=[...], output_dir=...)
    rows = fairness.metrics_table(result)       # slice, metric, threshold, value, ci_low, ci_high, n, gap_to_overall
    fairness.write_tables(rows, "runs/eval")    # runs/eval/metrics.csv + metrics.json (temp name, then rename)

`evaluate_saved_model` lets TFMA run the SavedModel over tf.Example TFRecords on Beam: the signature (default
serving_default) takes a batch of serialized tf.Example and returns {prediction_key: probability [B]}.
`evaluate_predictions` evaluates a predictions table (CSV / JSONL / Parquet / DataFrame) with `tfma.analyze_raw_data`.
Both compute, overall and per slice: example_count, auc, binary_accuracy (at 0.5), calibration (mean prediction /
mean label), mean_label, mean_prediction and the Fairness Indicators rates (false_positive_rate, false_negative_rate,
..., recall) at each threshold; optionally with jackknife or Poisson-bootstrap 95% confidence intervals.

Slice columns come from the examples' features, or from `groups` (`groups.GroupSpec`): continuous identity
annotations binarized at a threshold, binary flags, categories, or identity terms found in a text column. They are
derived inside the TFMA pipeline (an extractor placed before slicing), the same way on both paths. A fractional label
(e.g. civil_comments toxicity) is binarized with `label_threshold` the same way.

This is the only module that imports tensorflow_model_analysis, and only inside functions: importing it is cheap.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfpretrain.atomic import write_text
from tfpretrain.config import ConfigError
from tfpretrain.errors import UserError
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.evaluation.fairness.groups import DEFAULT_TERM_LISTS, GroupSpec, check_unique_columns, load_term_lists

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from tensorflow_model_analysis.proto import config_pb2

DEFAULT_THRESHOLDS = (0.25, 0.5, 0.75)
# AUC histogram buckets. TFMA's default is 10000, but confidence intervals recompute the AUC curve per resample in
# pure Python: seconds per slice at 10000, ten times less at 1000, while the AUC moves by ~1e-5 (measured on 20k
# examples, both within 2e-5 of the exact rank AUC).
DEFAULT_AUC_NUM_THRESHOLDS = 1000
CONFIDENCE_METHODS = {"jackknife": "JACKKNIFE", "bootstrap": "POISSON_BOOTSTRAP"}
OVERALL = "overall"
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
TABLE_COLUMNS = ("slice", "metric", "threshold", "value", "ci_low", "ci_high", "n", "gap_to_overall", "note")
TABLE_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")
_TFMA_ERROR_KEY = "__ERROR__"
_SLICE_KEY_STAGE = "ExtractSliceKeys"
# Files TFMA writes into its output directory; stale ones from an earlier run would be read back with new ones.
_TFMA_OUTPUTS = re.compile(
    r"^(?:(?:metrics|plots|attributions|validations)(?:-\d{5}-of-\d{5})?\.tfrecord|eval_config\.json)$"
)


class EvaluationInputError(UserError):
    """A data / model input problem, naming the file and the column (or signature) at fault."""


# --------------------------------------------------------------------------------------------------- TFMA imports


def _tfma():
    """tensorflow_model_analysis, with the FairnessIndicators metric registered (tf-keras selected first)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import fairness_indicators.fairness_indicators_metrics  # noqa: F401  (registers FairnessIndicators)
    import tensorflow_model_analysis as tfma

    return tfma


def _config_pb2():
    _tfma()
    from tensorflow_model_analysis.proto import config_pb2

    return config_pb2


# ------------------------------------------------------------------------------------------------- validation


def _check_key(name: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _check_thresholds(thresholds: Any) -> tuple[float, ...]:
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


def _check_confidence(confidence: Any) -> str | None:
    if confidence is None or confidence in CONFIDENCE_METHODS:
        return confidence
    raise ValueError(f"confidence must be one of {sorted(CONFIDENCE_METHODS)} or None, got {confidence!r}")


def _check_count(name: str, value: Any, minimum: int, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_label_threshold(value: Any) -> float | None:
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
        specs.append((_check_key("slice column", column),))
    for cols in intersections:
        if isinstance(cols, str) or not isinstance(cols, Sequence):
            raise ValueError(f"each intersection must be a list of column names, got {cols!r}")
        cols = tuple(_check_key("intersection column", c) for c in cols)
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


# ------------------------------------------------------------------------------------------------- eval config


def _metric(config_pb2, class_name: str, module: str = "", **kwargs: Any):
    return config_pb2.MetricConfig(
        class_name=class_name, module=module, config=json.dumps(kwargs, sort_keys=True) if kwargs else ""
    )


def build_eval_config(
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
) -> config_pb2.EvalConfig:
    """A TFMA EvalConfig: one binary model, the metric set above, overall + per-column + intersection slices.

    confidence: "jackknife" (20 leave-bucket-out samples), "bootstrap" (20 Poisson-bootstrap samples) or None.
    min_slice_size: TFMA suppresses the metrics of smaller slices (privacy / noise); the table flags them.
    example_weight_key: weighted metrics; `example_count` stays the unweighted count, the weighted one is
    `weighted_example_count`. auc_num_thresholds: AUC histogram buckets (None: TFMA's 10000, much slower with
    confidence intervals; see DEFAULT_AUC_NUM_THRESHOLDS).
    `signature` None / "" for a predictions table (no model).
    """
    config_pb2 = _config_pb2()
    label_key = _check_key("label_key", label_key)
    prediction_key = _check_key("prediction_key", prediction_key)
    example_weight_key = _check_key("example_weight_key", example_weight_key, optional=True)
    if signature is not None and not isinstance(signature, str):
        raise ValueError(f"signature must be a string or None, got {signature!r}")
    thresholds = _check_thresholds(thresholds)
    confidence = _check_confidence(confidence)
    min_slice_size = _check_count("min_slice_size", min_slice_size, 1)
    auc_num_thresholds = _check_count("auc_num_thresholds", auc_num_thresholds, 2, optional=True)
    specs = slicing_columns(slices, intersections)

    model_spec = config_pb2.ModelSpec(label_key=label_key, prediction_key=prediction_key)
    if signature:
        model_spec.signature_name = signature
    if example_weight_key:
        model_spec.example_weight_key = example_weight_key

    # ExampleCount in its own unweighted spec: the view keys metrics by name only, so weighted and unweighted
    # versions of one name would collide.
    counts = config_pb2.MetricsSpec(
        metrics=[_metric(config_pb2, "ExampleCount")],
        example_weights=config_pb2.ExampleWeightOptions(unweighted=True),
    )
    auc = {"num_thresholds": auc_num_thresholds} if auc_num_thresholds else {}
    metrics = [
        _metric(config_pb2, "AUC", **auc),
        _metric(config_pb2, "BinaryAccuracy"),
        _metric(config_pb2, "Calibration"),
        _metric(config_pb2, "MeanLabel"),
        _metric(config_pb2, "MeanPrediction"),
        _metric(config_pb2, "FairnessIndicators", FAIRNESS_MODULE, thresholds=list(thresholds)),
    ]
    if example_weight_key:
        metrics.insert(0, _metric(config_pb2, "ExampleCount", name="weighted_example_count"))
    main = config_pb2.MetricsSpec(metrics=metrics)
    if example_weight_key:
        main.example_weights.weighted = True

    options = config_pb2.Options()
    options.compute_confidence_intervals.value = confidence is not None
    if confidence is not None:
        options.confidence_intervals.method = getattr(
            config_pb2.ConfidenceIntervalOptions, CONFIDENCE_METHODS[confidence]
        )
    options.min_slice_size.value = min_slice_size

    return config_pb2.EvalConfig(
        model_specs=[model_spec],
        slicing_specs=[config_pb2.SlicingSpec()] + [config_pb2.SlicingSpec(feature_keys=list(c)) for c in specs],
        metrics_specs=[counts, main],
        options=options,
    )


# ------------------------------------------------------------------------------------ derived slice columns


def _feature_array(value: Any) -> np.ndarray | None:
    """A derived slice value as the per-example feature array TFMA's slicer reads (None: not in any slice)."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if all(isinstance(v, str) for v in values):
        return np.array([v.encode("utf-8") for v in values], dtype=object)
    if all(isinstance(v, int) for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values)


class DeriveSliceColumns:
    """Beam-picklable map over unbatched TFMA extracts: add the groups' slice columns, binarize the label."""

    def __init__(self, groups: Sequence[GroupSpec] = (), label_threshold: float | None = None):
        self.groups = tuple(g for g in groups if not g.is_passthrough)
        self.label_threshold = label_threshold

    def __call__(self, extracts: Mapping[str, Any]) -> dict[str, Any]:
        extracts = dict(extracts)
        if self.groups:
            features = dict(extracts.get("features") or {})
            for spec in self.groups:
                features[spec.column] = _feature_array(spec.derive(features.get(spec.input_column)))
            extracts["features"] = features
        if self.label_threshold is not None and extracts.get("labels") is not None:
            labels = np.asarray(extracts["labels"], dtype=np.float64)
            extracts["labels"] = (labels >= self.label_threshold).astype(np.int64)
        return extracts


def _with_derived_columns(extractors: list, groups: Sequence[GroupSpec], label_threshold: float | None) -> list:
    """TFMA's extractors with DeriveSliceColumns placed right before slicing (after unbatching)."""
    stage = DeriveSliceColumns(groups, label_threshold)
    if not stage.groups and label_threshold is None:
        return extractors
    import apache_beam as beam
    from tensorflow_model_analysis.extractors import extractor

    names = [e.stage_name for e in extractors]
    if _SLICE_KEY_STAGE not in names:  # pragma: no cover - TFMA layout changed
        raise RuntimeError(f"TFMA extractors have no {_SLICE_KEY_STAGE!r} stage: {names}")
    derived = extractor.Extractor(stage_name="DeriveSliceColumns", ptransform=beam.Map(stage))
    i = names.index(_SLICE_KEY_STAGE)
    return extractors[:i] + [derived] + extractors[i:]


def _used_groups(groups: Iterable[GroupSpec], specs: list[tuple[str, ...]]) -> tuple[GroupSpec, ...]:
    used = {c for cols in specs for c in cols}
    return tuple(g for g in check_unique_columns(groups) if g.column in used)


def _input_columns(groups: Sequence[GroupSpec], specs: list[tuple[str, ...]]) -> list[str]:
    """The input columns an evaluation reads for slicing: raw slice columns + the groups' sources."""
    produced = {g.column for g in groups}
    columns = [c for cols in specs for c in cols if c not in produced] + [g.input_column for g in groups]
    return list(dict.fromkeys(columns))


# ------------------------------------------------------------------------------------------ output directory


def _is_remote(path: str) -> bool:
    return "://" in str(path)


def _prepare_output_dir(output_dir: str) -> str:
    """Create the TFMA output directory and remove TFMA outputs of an earlier run (they would be read back)."""
    output_dir = os.fspath(output_dir)
    if _is_remote(output_dir):
        import tensorflow as tf

        tf.io.gfile.makedirs(output_dir)
        for name in tf.io.gfile.listdir(output_dir):
            if _TFMA_OUTPUTS.match(name.rstrip("/")):
                tf.io.gfile.remove(f"{output_dir.rstrip('/')}/{name}")
        return output_dir
    os.makedirs(output_dir, exist_ok=True)
    for name in os.listdir(output_dir):
        if _TFMA_OUTPUTS.match(name):
            os.remove(os.path.join(output_dir, name))
    return output_dir


def _pipeline_options(options: Any):
    """None (in-process DirectRunner), a list of flags, or an apache_beam PipelineOptions."""
    if options is None:
        return None
    from apache_beam.options.pipeline_options import PipelineOptions

    if isinstance(options, PipelineOptions):
        return options
    if isinstance(options, str) or not isinstance(options, Iterable):
        raise ValueError(f"pipeline_options must be a list of flags such as ['--runner=DirectRunner'], got {options!r}")
    return PipelineOptions(list(options))


# --------------------------------------------------------------------------------------------- SavedModel path


def _check_saved_model(path: str, signature: str, prediction_key: str) -> None:
    import tensorflow as tf

    if not any(tf.io.gfile.exists(os.path.join(path, f)) for f in ("saved_model.pb", "saved_model.pbtxt")):
        raise EvaluationInputError(f"{path}: not a SavedModel directory (no saved_model.pb)")
    try:
        from tensorflow.python.saved_model import loader_impl

        saved_model = loader_impl.parse_saved_model(path)
    except Exception:  # pragma: no cover - private API moved: TFMA reports signature problems itself
        return
    signatures = {}
    for meta_graph in saved_model.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            signatures.update(meta_graph.signature_def)
    if signature not in signatures:
        raise EvaluationInputError(f"{path}: no signature {signature!r}; it has {sorted(signatures)}")
    outputs = sorted(signatures[signature].outputs)
    if prediction_key not in outputs:
        raise EvaluationInputError(
            f"{path}: signature {signature!r} has no output {prediction_key!r} (prediction_key); outputs: {outputs}"
        )


def _compression(path: str) -> str:
    return "GZIP" if path.endswith(".gz") else "ZLIB" if path.endswith((".zz", ".zlib")) else ""


def _check_tfrecords(pattern: str, label_key: str, columns: Sequence[str], weight_key: str | None, peek: int) -> None:
    """Fail early, naming the file and column, when the label or a slice column is absent from the data."""
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise EvaluationInputError(f"no TFRecord files match {pattern!r}")
    first = files[0]
    seen: set[str] = set()
    records = tf.data.TFRecordDataset(first, compression_type=_compression(first)).take(peek)
    try:
        for i, record in enumerate(records):
            keys = set(tf.train.Example.FromString(record.numpy()).features.feature)
            if i == 0:
                for name, key in (("label_key", label_key), ("example_weight_key", weight_key)):
                    if key and key not in keys:
                        raise EvaluationInputError(
                            f"{first}: {name} {key!r} is not a feature of the first tf.Example "
                            f"(features: {sorted(keys)})"
                        )
            seen |= keys
    except tf.errors.OpError as e:
        raise EvaluationInputError(f"{first}: cannot read TFRecords of tf.Example: {e.message}") from None
    if not seen:
        raise EvaluationInputError(f"{first}: no records")
    missing = [c for c in columns if c not in seen]
    if missing:
        raise EvaluationInputError(
            f"{first}: slice column(s) {missing} are not features of the first {peek} examples "
            f"(features: {sorted(seen)})"
        )


def evaluate_saved_model(
    saved_model_path: str | os.PathLike,
    tfrecord_pattern: str,
    *,
    label_key: str,
    output_dir: str | os.PathLike,
    slices: Iterable[str] = (),
    intersections: Iterable[Sequence[str]] = (),
    groups: Iterable[GroupSpec] = (),
    prediction_key: str = "score",
    signature: str = "serving_default",
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    confidence: str | None = "jackknife",
    min_slice_size: int = 1,
    example_weight_key: str | None = None,
    label_threshold: float | None = None,
    auc_num_thresholds: int | None = DEFAULT_AUC_NUM_THRESHOLDS,
    pipeline_options: Any = None,
    random_seed: int | None = None,
    check_records: int = 100,
):
    """Run TFMA on a SavedModel over tf.Example TFRecords; returns TFMA's EvalResult (also written to output_dir).

    pipeline_options: None for the in-process DirectRunner, or Beam flags, e.g. ["--runner=DirectRunner",
    "--direct_running_mode=multi_processing", "--direct_num_workers=2"] (or a PipelineOptions). random_seed makes
    the confidence-interval sampling reproducible. Before the (slow) pipeline starts, the signature/output and the
    first `check_records` examples are checked for the label and slice columns.
    """
    saved_model_path = os.fspath(saved_model_path)
    _check_key("tfrecord_pattern", tfrecord_pattern)
    signature = _check_key("signature", signature)
    label_threshold = _check_label_threshold(label_threshold)
    check_records = _check_count("check_records", check_records, 1)
    specs = slicing_columns(slices, intersections)
    groups = _used_groups(groups, specs)
    options = _pipeline_options(pipeline_options)
    eval_config = build_eval_config(
        label_key=label_key,
        prediction_key=prediction_key,
        signature=signature,
        slices=slices,
        intersections=intersections,
        thresholds=thresholds,
        confidence=confidence,
        min_slice_size=min_slice_size,
        example_weight_key=example_weight_key,
        auc_num_thresholds=auc_num_thresholds,
    )
    _check_saved_model(saved_model_path, signature, prediction_key)
    _check_tfrecords(tfrecord_pattern, label_key, _input_columns(groups, specs), example_weight_key, check_records)

    tfma = _tfma()
    shared_model = tfma.default_eval_shared_model(eval_saved_model_path=saved_model_path, eval_config=eval_config)
    extractors = _with_derived_columns(
        tfma.default_extractors(eval_shared_model=shared_model, eval_config=eval_config), groups, label_threshold
    )
    output_dir = _prepare_output_dir(output_dir)
    return tfma.run_model_analysis(
        eval_shared_model=shared_model,
        eval_config=eval_config,
        data_location=tfrecord_pattern,
        output_path=output_dir,
        extractors=extractors,
        pipeline_options=options,
        random_seed_for_testing=random_seed,
    )


# -------------------------------------------------------------------------------------------- predictions path


def _table_format(path: str) -> str:
    name = path.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    fmt = TABLE_SUFFIXES.get(os.path.splitext(name)[1])
    if fmt is None:
        raise EvaluationInputError(f"{path}: unknown table format; use one of {sorted(TABLE_SUFFIXES)}")
    return fmt


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """CSV / TSV / JSONL (JSON lines; .json: lines or records) / Parquet, optionally compressed (.gz, ...)."""
    import pandas as pd

    path = os.fspath(path)
    fmt = _table_format(path)
    try:
        if fmt == "csv":
            return pd.read_csv(path)
        if fmt == "tsv":
            return pd.read_csv(path, sep="\t")
        if fmt == "jsonl":
            return pd.read_json(path, lines=True)
        if fmt == "json":
            try:
                return pd.read_json(path, lines=True)
            except ValueError:
                return pd.read_json(path)
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise EvaluationInputError(f"{path}: file not found") from None
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise EvaluationInputError(f"{path}: cannot read as {fmt}: {e}") from None


def _clean_slice_column(series: pd.Series) -> pd.Series:
    """A slice/group-input column TFMA (Arrow) can take: missing -> None, bools -> ints, integral floats -> Int64."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return series.astype("int64")
    if pd.api.types.is_float_dtype(series):
        finite = series.dropna()
        if len(finite) and np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)):
            return series.astype("Int64")
        return series
    if pd.api.types.is_numeric_dtype(series):
        return series
    return series.astype(object).where(series.notna(), None)


def _prepare_predictions(
    df: pd.DataFrame,
    source: str,
    label: str,
    score: str,
    weight: str | None,
    columns: Sequence[str],
    label_threshold: float | None,
) -> pd.DataFrame:
    import pandas as pd

    wanted = list(dict.fromkeys([label, score] + ([weight] if weight else []) + list(columns)))
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise EvaluationInputError(
            f"{source}: column(s) {missing} not found; columns are {[str(c) for c in df.columns]}"
        )
    if len(df) == 0:
        raise EvaluationInputError(f"{source}: no rows")
    out = pd.DataFrame(index=range(len(df)))

    def numeric(column: str, role: str) -> np.ndarray:
        values = pd.to_numeric(df[column].reset_index(drop=True), errors="coerce")
        bad = values.isna() & df[column].reset_index(drop=True).notna()
        if bad.any():
            example = df[column].reset_index(drop=True)[bad].iloc[0]
            raise EvaluationInputError(f"{source}: {role} column {column!r} has non-numeric values, e.g. {example!r}")
        if values.isna().any():
            raise EvaluationInputError(
                f"{source}: {role} column {column!r} has {int(values.isna().sum())} missing values"
            )
        values = values.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise EvaluationInputError(f"{source}: {role} column {column!r} has infinite values")
        return values

    labels = numeric(label, "label")
    if label_threshold is None:
        odd = labels[(labels != 0) & (labels != 1)]
        if odd.size:
            raise EvaluationInputError(
                f"{source}: label column {label!r} must be 0/1, got {odd[0]!r}; "
                "pass label_threshold (e.g. 0.5) to binarize a fractional label"
            )
        out[label] = labels.astype(np.int64)
    else:
        out[label] = labels
    scores = numeric(score, "score")
    if scores.min() < 0 or scores.max() > 1:
        raise EvaluationInputError(
            f"{source}: score column {score!r} must hold probabilities in [0, 1], got values in "
            f"[{scores.min():g}, {scores.max():g}] (apply a sigmoid to logits first)"
        )
    out[score] = scores
    if weight:
        weights = numeric(weight, "example weight")
        if weights.min() < 0:
            raise EvaluationInputError(f"{source}: example weight column {weight!r} has negative values")
        out[weight] = weights
    for column in columns:
        if column not in out.columns:
            out[column] = _clean_slice_column(df[column].reset_index(drop=True))
    return out


def evaluate_predictions(
    table: str | os.PathLike | pd.DataFrame,
    *,
    label_column: str,
    score_column: str = "score",
    output_dir: str | os.PathLike,
    slices: Iterable[str] = (),
    intersections: Iterable[Sequence[str]] = (),
    groups: Iterable[GroupSpec] = (),
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    confidence: str | None = "jackknife",
    min_slice_size: int = 1,
    example_weight_column: str | None = None,
    label_threshold: float | None = None,
    auc_num_thresholds: int | None = DEFAULT_AUC_NUM_THRESHOLDS,
):
    """Evaluate a predictions table (path or DataFrame: label, score in [0, 1], slice/group columns) with TFMA.

    Uses `tfma.analyze_raw_data` (in-process Beam, the whole table in memory; TFMA takes no pipeline options
    there). Column problems raise one EvaluationInputError naming the file and the column(s).
    """
    import pandas as pd

    source = "<DataFrame>" if isinstance(table, pd.DataFrame) else os.fspath(table)
    df = table if isinstance(table, pd.DataFrame) else read_table(source)
    label_column = _check_key("label_column", label_column)
    score_column = _check_key("score_column", score_column)
    example_weight_column = _check_key("example_weight_column", example_weight_column, optional=True)
    label_threshold = _check_label_threshold(label_threshold)
    specs = slicing_columns(slices, intersections)
    groups = _used_groups(groups, specs)
    eval_config = build_eval_config(
        label_key=label_column,
        prediction_key=score_column,
        signature=None,
        slices=slices,
        intersections=intersections,
        thresholds=thresholds,
        confidence=confidence,
        min_slice_size=min_slice_size,
        example_weight_key=example_weight_column,
        auc_num_thresholds=auc_num_thresholds,
    )
    data = _prepare_predictions(
        df, source, label_column, score_column, example_weight_column, _input_columns(groups, specs), label_threshold
    )
    tfma = _tfma()
    extractors = _with_derived_columns(tfma.default_extractors(eval_config=eval_config), groups, label_threshold)
    output_dir = _prepare_output_dir(output_dir)
    return tfma.analyze_raw_data(data, eval_config, output_path=output_dir, extractors=extractors)


OUTCOME_METRICS = ("ExampleCount", "MeanLabel", "MeanPrediction")


def evaluate_outcome_means(
    table: pd.DataFrame,
    *,
    label_column: str,
    score_column: str,
    output_dir: str | os.PathLike,
    slices: Iterable[str] = (),
    confidence: str | None = "jackknife",
):
    """TFMA's predictions-only path with only example_count, mean_label and mean_prediction (overall + per slice).

    For per-example 0/1 outcomes that are not classifier decisions, e.g. bias probes (label 1 = the model preferred
    the stereotypical option, score = a probability of that preference), where AUC and the Fairness Indicators
    rates mean nothing and would only cost time. Same input checks and output directory handling as
    evaluate_predictions; returns TFMA's EvalResult (metrics_table reads it).
    """
    config_pb2 = _config_pb2()
    label_column = _check_key("label_column", label_column)
    score_column = _check_key("score_column", score_column)
    confidence = _check_confidence(confidence)
    specs = slicing_columns(slices)
    options = config_pb2.Options()
    options.compute_confidence_intervals.value = confidence is not None
    if confidence is not None:
        options.confidence_intervals.method = getattr(
            config_pb2.ConfidenceIntervalOptions, CONFIDENCE_METHODS[confidence]
        )
    eval_config = config_pb2.EvalConfig(
        model_specs=[config_pb2.ModelSpec(label_key=label_column, prediction_key=score_column)],
        slicing_specs=[config_pb2.SlicingSpec()] + [config_pb2.SlicingSpec(feature_keys=list(c)) for c in specs],
        metrics_specs=[config_pb2.MetricsSpec(metrics=[_metric(config_pb2, m) for m in OUTCOME_METRICS])],
        options=options,
    )
    data = _prepare_predictions(
        table, "<DataFrame>", label_column, score_column, None, [c[0] for c in specs], None
    )
    tfma = _tfma()
    output_dir = _prepare_output_dir(output_dir)
    return tfma.analyze_raw_data(data, eval_config, output_path=output_dir)


# ----------------------------------------------------------------------------------------------- metrics table


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


def _threshold_names(thresholds: Sequence[float]) -> dict[str, float]:
    """The "@<t>" spelling Fairness Indicators uses for each threshold (digits shared across thresholds)."""
    from fairness_indicators.fairness_indicators_metrics import calculate_digits

    digits = calculate_digits(list(thresholds))
    return {f"{t:.{digits}f}": t for t in thresholds}  # fairness_indicators spells them "%.*f" % (digits, t)


def _fairness_thresholds(eval_config) -> dict[str, float]:
    names: dict[str, float] = {}
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            if metric.class_name == "FairnessIndicators":
                config = json.loads(metric.config) if metric.config else {}
                names.update(_threshold_names(config.get("thresholds", ())))
    return names


def _split_metric(name: str, threshold_names: Mapping[str, float]) -> tuple[str, float | None]:
    """ "fairness_indicators_metrics/false_positive_rate@0.50" -> ("false_positive_rate", 0.5); others unchanged."""
    prefix = FAIRNESS_METRICS_NAME + "/"
    if name.startswith(prefix) and "@" in name:
        metric, _, spelled = name[len(prefix) :].rpartition("@")
        return metric, threshold_names.get(spelled, float(spelled))
    return name, None


def _metric_order(metric: str, threshold: float | None) -> tuple:
    if threshold is None:
        rank = BASE_METRICS.index(metric) if metric in BASE_METRICS else len(BASE_METRICS)
        return (0, rank, 0.0, metric)
    rank = FAIRNESS_SUB_METRICS.index(metric) if metric in FAIRNESS_SUB_METRICS else len(FAIRNESS_SUB_METRICS)
    return (1, threshold, rank, metric)


def metrics_table(eval_result: Any, overall_label: str = OVERALL) -> list[dict[str, Any]]:
    """TFMA's EvalResult (or its output directory) -> tidy rows, one per (slice, metric, threshold).

    Columns (TABLE_COLUMNS): slice ("overall", "gender=female", "religion=muslim&gender=female": columns in the
    order the slicing spec lists them), metric (TFMA name; fairness indicators without their prefix and threshold),
    threshold (float, None for threshold-free metrics), value, ci_low / ci_high (None without confidence
    intervals), n (the slice's unweighted example count), gap_to_overall (value - overall value of the same metric
    and threshold) and note (why a slice has no metrics, e.g. suppressed below min_slice_size: one row with
    metric "example_count" and value None). Undefined values (NaN, e.g. a false positive rate on a slice without
    negatives) are None. Rows are ordered: overall, then slicing specs in config order with values sorted, and
    metrics in a fixed order.
    """
    if isinstance(eval_result, str | os.PathLike):
        eval_result = _tfma().load_eval_result(os.fspath(eval_result))
    config = eval_result.config
    spec_order: dict[frozenset, tuple[int, tuple[str, ...]]] = {}
    for i, spec in enumerate(config.slicing_specs if config is not None else ()):
        spec_order.setdefault(frozenset(spec.feature_keys), (i, tuple(spec.feature_keys)))
    threshold_names = _fairness_thresholds(config) if config is not None else {}

    slices = []
    for slice_key, metrics_by_output in eval_result.slicing_metrics:
        if slice_key and isinstance(slice_key[0], tuple) and slice_key[0] and isinstance(slice_key[0][0], tuple):
            continue  # a cross-slice key (baseline vs comparison): not produced by build_eval_config
        values = dict(slice_key)
        columns = frozenset(values)
        rank, ordered = spec_order.get(columns, (len(spec_order), tuple(sorted(columns))))
        name = "&".join(f"{c}={_slice_value(values[c])}" for c in ordered) if ordered else overall_label
        slices.append(((rank, tuple(_sort_value(values[c]) for c in ordered)), name, metrics_by_output or {}))
    slices.sort(key=lambda s: s[0])

    rows: list[dict[str, Any]] = []
    for _, name, metrics_by_output in slices:
        entries = {}
        note = None
        for output_name, by_sub_key in metrics_by_output.items():
            for sub_key, metrics in by_sub_key.items():
                prefix = "/".join(p for p in (output_name, sub_key) if p)
                for metric_name, metric_value in metrics.items():
                    if metric_name == _TFMA_ERROR_KEY:
                        note = metric_value.get("debugMessage", str(metric_value))
                        continue
                    parsed = _parse_metric_value(metric_value)
                    if parsed is None:
                        continue
                    metric, threshold = _split_metric(metric_name, threshold_names)
                    entries[(f"{prefix}/{metric}" if prefix else metric, threshold)] = parsed
        count = entries.get(("example_count", None))
        n = None if count is None or count[0] is None else int(round(count[0]))
        if not entries:
            rows.append(dict(zip(TABLE_COLUMNS, (name, "example_count", None, None, None, None, None, None, note))))
            continue
        for (metric, threshold), (value, low, high) in sorted(entries.items(), key=lambda e: _metric_order(*e[0])):
            rows.append(dict(zip(TABLE_COLUMNS, (name, metric, threshold, value, low, high, n, None, note))))

    overall = {(r["metric"], r["threshold"]): r["value"] for r in rows if r["slice"] == overall_label}
    for row in rows:
        base = overall.get((row["metric"], row["threshold"]))
        if row["value"] is not None and base is not None:
            row["gap_to_overall"] = row["value"] - base
    return rows


# ------------------------------------------------------------------------------------------------ table files


def _csv_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _json_cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_cell(value.item())
    return value


def write_tables(rows: Iterable[Mapping[str, Any]], out_dir: str | os.PathLike) -> dict[str, str]:
    """OUT/metrics.csv and OUT/metrics.json (a list of row objects, null for missing), each written atomically."""
    rows = [dict(r) for r in rows]
    for row in rows:
        unknown = set(row) - set(TABLE_COLUMNS)
        if unknown:
            raise ValueError(f"rows have columns {sorted(unknown)} not in {TABLE_COLUMNS}")
    out_dir = os.fspath(out_dir)
    if _is_remote(out_dir):
        import tensorflow as tf

        tf.io.gfile.makedirs(out_dir)
    else:
        os.makedirs(out_dir, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in TABLE_COLUMNS])
    records = [{c: _json_cell(row.get(c)) for c in TABLE_COLUMNS} for row in rows]
    paths = {"csv": os.path.join(out_dir, "metrics.csv"), "json": os.path.join(out_dir, "metrics.json")}
    write_text(paths["csv"], buffer.getvalue())
    write_text(paths["json"], json.dumps(records, indent=1, allow_nan=False) + "\n")
    return paths


def read_tables(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows back from metrics.json (or the directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------- evaluation settings

_SETTINGS_KEYS = (
    "label_key",
    "prediction_key",
    "signature",
    "thresholds",
    "confidence",
    "min_slice_size",
    "example_weight_key",
    "label_threshold",
    "auc_num_thresholds",
    "term_lists",
    "groups",
    "slices",
    "intersections",
    "gate",
)


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """An evaluation config file (configs/eval/*.yaml), validated; `*_kwargs()` feed the two evaluate functions."""

    label_key: str = "label"
    prediction_key: str = "score"
    signature: str = "serving_default"
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    confidence: str | None = "jackknife"
    min_slice_size: int = 1
    example_weight_key: str | None = None
    label_threshold: float | None = None
    auc_num_thresholds: int | None = DEFAULT_AUC_NUM_THRESHOLDS
    slices: tuple[str, ...] = ()
    intersections: tuple[tuple[str, ...], ...] = ()
    groups: tuple[GroupSpec, ...] = ()
    gate: FairnessGate | None = None

    def _common(self) -> dict[str, Any]:
        return {
            "slices": self.slices,
            "intersections": self.intersections,
            "groups": self.groups,
            "thresholds": self.thresholds,
            "confidence": self.confidence,
            "min_slice_size": self.min_slice_size,
            "label_threshold": self.label_threshold,
            "auc_num_thresholds": self.auc_num_thresholds,
        }

    def saved_model_kwargs(self) -> dict[str, Any]:
        return {
            "label_key": self.label_key,
            "prediction_key": self.prediction_key,
            "signature": self.signature,
            "example_weight_key": self.example_weight_key,
            **self._common(),
        }

    def predictions_kwargs(self) -> dict[str, Any]:
        return {
            "label_column": self.label_key,
            "score_column": self.prediction_key,
            "example_weight_column": self.example_weight_key,
            **self._common(),
        }


def load_settings(config: str | os.PathLike | Mapping[str, Any]) -> EvalSettings:
    """configs/eval/<name>.yaml (or a mapping) -> EvalSettings. Every mistake is one ConfigError naming the key.

    `term_lists` (for derived groups) is a path relative to the config file (default: identity_terms.yaml).
    """
    import yaml

    if isinstance(config, Mapping):
        source, base, data = "<config>", Path.cwd(), config
    else:
        path = Path(config)
        source, base = str(path), path.resolve().parent
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(source, "", "file not found") from None
        except yaml.YAMLError as e:
            raise ConfigError(source, "", f"invalid YAML: {e}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(source, "", f"must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_SETTINGS_KEYS))
    if unknown:
        raise ConfigError(source, unknown[0], f"unknown key; allowed: {list(_SETTINGS_KEYS)}")

    def check(key: str, fn, *args):
        try:
            return fn(*args)
        except (TypeError, ValueError) as e:
            raise ConfigError(source, key, str(e)) from None

    kwargs: dict[str, Any] = {}
    for key in ("label_key", "prediction_key", "signature"):
        if key in data:
            kwargs[key] = check(key, _check_key, key, data[key])
    if "example_weight_key" in data:
        kwargs["example_weight_key"] = check(
            "example_weight_key",
            lambda v: _check_key("example_weight_key", v, optional=True),
            data["example_weight_key"],
        )
    if "thresholds" in data:
        kwargs["thresholds"] = check("thresholds", _check_thresholds, data["thresholds"])
    if "confidence" in data:
        kwargs["confidence"] = check("confidence", _check_confidence, data["confidence"])
    if "min_slice_size" in data:
        kwargs["min_slice_size"] = check("min_slice_size", _check_count, "min_slice_size", data["min_slice_size"], 1)
    if "label_threshold" in data:
        kwargs["label_threshold"] = check("label_threshold", _check_label_threshold, data["label_threshold"])
    if "auc_num_thresholds" in data:  # null: TFMA's default
        kwargs["auc_num_thresholds"] = check(
            "auc_num_thresholds",
            lambda v: _check_count("auc_num_thresholds", v, 2, optional=True),
            data["auc_num_thresholds"],
        )
    slices = data.get("slices") or ()
    intersections = data.get("intersections") or ()
    specs = check("slices", slicing_columns, slices, intersections)
    kwargs["slices"] = tuple(c[0] for c in specs[: len(list(slices))])
    kwargs["intersections"] = tuple(specs[len(kwargs["slices"]) :])

    groups_config = data.get("groups") or ()
    if isinstance(groups_config, Mapping | str) or not isinstance(groups_config, Sequence):
        raise ConfigError(source, "groups", "must be a list of {column, kind, source?, threshold?, terms?}")
    term_lists = None
    if any(
        isinstance(g, Mapping) and g.get("kind") == "derived" and not isinstance(g.get("terms"), Mapping)
        for g in groups_config
    ):
        term_path = data.get("term_lists")
        term_path = DEFAULT_TERM_LISTS if term_path is None else base / term_path
        term_lists = load_term_lists(term_path)
    groups = tuple(GroupSpec.from_config(g, term_lists, source) for g in groups_config)
    kwargs["groups"] = check("groups", check_unique_columns, groups)

    if data.get("gate") is not None:
        try:
            kwargs["gate"] = FairnessGate.from_config(data["gate"], source)
        except ConfigError as e:
            raise ConfigError(source, e.key if e.key.startswith("gate") else f"gate.{e.key}", e.message) from None
    return EvalSettings(**kwargs)
