"""TensorFlow Model Analysis 0.52 + Fairness Indicators runs: the one module that imports them (lazily, so importing
this module stays cheap).

    from tfpretrain.evaluation import fairness
    result = fairness.evaluate_saved_model("export/1", "data/eval-*.tfrecord", label_key="label",
                                           slices=["gender", "religion"], intersections=[("gender", "religion")],
                                           output_dir="runs/eval/tfma")
    # or, for predictions already made:
    # result = fairness.evaluate_predictions("preds.csv", label_column="label", score_column="score",
    #                                        slices=[...], output_dir=...)
    rows = fairness.metrics_table(result)       # metrics_table.py: one row per (slice, metric, threshold)

`evaluate_saved_model` lets TFMA run the SavedModel over tf.Example TFRecords on Beam: the signature (default
serving_default) takes a batch of serialized tf.Example and returns {prediction_key: probability [B]}.
`evaluate_predictions` evaluates a predictions table (CSV / JSONL / Parquet / DataFrame) with `tfma.analyze_raw_data`.
Both compute the metrics of eval_config.py overall and per slice, optionally with jackknife or Poisson-bootstrap
confidence intervals (metrics_table.py replaces those of rates and AUC by intervals that stay in [0, 1]).

Slice columns come from the examples' features, or from `groups` (`groups.GroupSpec`): continuous identity
annotations binarized at a threshold, binary flags, categories, or identity terms found in a text column. They are
derived inside the TFMA pipeline (DeriveSliceColumns, an extractor placed before slicing), the same way on both
paths. A fractional label (e.g. civil_comments toxicity) is binarized with `label_threshold` the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tfpretrain.evaluation.fairness import eval_config as spec
from tfpretrain.evaluation.fairness import inputs
from tfpretrain.evaluation.fairness.groups import GroupSpec

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from tensorflow_model_analysis.proto import config_pb2

_SLICE_KEY_STAGE = "ExtractSliceKeys"
# Files TFMA writes into its output directory; stale ones from an earlier run would be read back with new ones.
_TFMA_OUTPUTS = re.compile(
    r"^(?:(?:metrics|plots|attributions|validations)(?:-\d{5}-of-\d{5})?\.tfrecord|eval_config\.json)$"
)


def _tfma():
    """tensorflow_model_analysis, with the FairnessIndicators metric registered (tf-keras selected first)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import fairness_indicators.fairness_indicators_metrics  # noqa: F401  (registers FairnessIndicators)
    import tensorflow_model_analysis as tfma

    return tfma


def _to_proto(fields: Mapping[str, Any]) -> config_pb2.EvalConfig:
    _tfma()
    from google.protobuf import json_format
    from tensorflow_model_analysis.proto import config_pb2

    return json_format.ParseDict(fields, config_pb2.EvalConfig())


def build_eval_config(**kwargs: Any) -> config_pb2.EvalConfig:
    """A TFMA EvalConfig: one binary model, the metric set of the table, overall + per-column + intersection slices.

    Keyword arguments (eval_config.eval_config_fields): label_key, prediction_key ("score"), signature
    ("serving_default"; None / "" for a predictions table), slices, intersections, thresholds, confidence
    ("jackknife": 20 leave-bucket-out samples, "bootstrap": 20 Poisson-bootstrap samples, or None),
    min_slice_size (TFMA suppresses the metrics of smaller slices; the table flags them), example_weight_key
    (weighted metrics; `example_count` stays the unweighted count, the weighted one is `weighted_example_count`),
    auc_num_thresholds (AUC histogram buckets; None: TFMA's 10000, much slower with confidence intervals).
    """
    return _to_proto(spec.eval_config_fields(**kwargs))


def load_eval_result(output_dir: str | os.PathLike):
    """TFMA's EvalResult read back from an evaluation's output directory."""
    return _tfma().load_eval_result(os.fspath(output_dir))


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
            for group in self.groups:
                features[group.column] = _feature_array(group.derive(features.get(group.input_column)))
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


# ------------------------------------------------------------------------------------------ run environment


def _is_remote(path: str) -> bool:
    return "://" in str(path)


def _prepare_output_dir(output_dir: str | os.PathLike) -> str:
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


LOCAL_RUNNER = ("--runner=FnApiRunner", "--direct_running_mode=in_memory")


def _pipeline_options(options: Any):
    """None (in process: Beam's FnApiRunner, in memory), a list of flags, or an apache_beam PipelineOptions.

    Not Beam's default DirectRunner: in Beam 2.77 it first tries to download the Prism runner from GitHub."""
    from apache_beam.options.pipeline_options import PipelineOptions

    if options is None:
        return PipelineOptions(list(LOCAL_RUNNER))

    if isinstance(options, PipelineOptions):
        return options
    if isinstance(options, str) or not isinstance(options, Iterable):
        raise ValueError(f"pipeline_options must be a list of flags such as ['--runner=DirectRunner'], got {options!r}")
    return PipelineOptions(list(options))


# ------------------------------------------------------------------------------------------- entry points


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
    thresholds: Iterable[float] = spec.DEFAULT_THRESHOLDS,
    confidence: str | None = "jackknife",
    min_slice_size: int = 1,
    example_weight_key: str | None = None,
    label_threshold: float | None = None,
    auc_num_thresholds: int | None = spec.DEFAULT_AUC_NUM_THRESHOLDS,
    pipeline_options: Any = None,
    random_seed: int | None = None,
    check_records: int = 100,
):
    """Run TFMA on a SavedModel over tf.Example TFRecords; returns TFMA's EvalResult (also written to output_dir).

    pipeline_options: None for the in-process FnApiRunner (LOCAL_RUNNER), or Beam flags, e.g. ["--runner=DirectRunner",
    "--direct_running_mode=multi_processing", "--direct_num_workers=2"] (or a PipelineOptions). random_seed makes
    the confidence-interval sampling reproducible. Before the (slow) pipeline starts, the signature/output and the
    first `check_records` examples are checked for the label and slice columns.
    """
    saved_model_path = os.fspath(saved_model_path)
    spec.check_key("tfrecord_pattern", tfrecord_pattern)
    signature = spec.check_key("signature", signature)
    label_threshold = spec.check_label_threshold(label_threshold)
    check_records = spec.check_count("check_records", check_records, 1)
    specs = spec.slicing_columns(slices, intersections)
    groups = inputs.used_groups(groups, specs)
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
    inputs.check_saved_model(saved_model_path, signature, prediction_key)
    columns = inputs.input_columns(groups, specs)
    inputs.check_tfrecords(tfrecord_pattern, label_key, columns, example_weight_key, check_records)

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


def evaluate_predictions(
    table: str | os.PathLike | pd.DataFrame,
    *,
    label_column: str,
    score_column: str = "score",
    output_dir: str | os.PathLike,
    slices: Iterable[str] = (),
    intersections: Iterable[Sequence[str]] = (),
    groups: Iterable[GroupSpec] = (),
    thresholds: Iterable[float] = spec.DEFAULT_THRESHOLDS,
    confidence: str | None = "jackknife",
    min_slice_size: int = 1,
    example_weight_column: str | None = None,
    label_threshold: float | None = None,
    auc_num_thresholds: int | None = spec.DEFAULT_AUC_NUM_THRESHOLDS,
):
    """Evaluate a predictions table (path or DataFrame: label, score in [0, 1], slice/group columns) with TFMA.

    Uses `tfma.analyze_raw_data` (in-process Beam, the whole table in memory; TFMA takes no pipeline options
    there). Column problems raise one EvaluationInputError naming the file and the column(s).
    """
    import pandas as pd

    source = "<DataFrame>" if isinstance(table, pd.DataFrame) else os.fspath(table)
    df = table if isinstance(table, pd.DataFrame) else inputs.read_table(source)
    label_column = spec.check_key("label_column", label_column)
    score_column = spec.check_key("score_column", score_column)
    example_weight_column = spec.check_key("example_weight_column", example_weight_column, optional=True)
    label_threshold = spec.check_label_threshold(label_threshold)
    specs = spec.slicing_columns(slices, intersections)
    groups = inputs.used_groups(groups, specs)
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
    columns = inputs.input_columns(groups, specs)
    data = inputs.prepare_predictions(
        df, source, label_column, score_column, example_weight_column, columns, label_threshold
    )
    tfma = _tfma()
    extractors = _with_derived_columns(tfma.default_extractors(eval_config=eval_config), groups, label_threshold)
    output_dir = _prepare_output_dir(output_dir)
    return tfma.analyze_raw_data(data, eval_config, output_path=output_dir, extractors=extractors)


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
    fields = spec.outcome_means_fields(
        label_column=label_column, score_column=score_column, slices=slices, confidence=confidence
    )
    eval_config = _to_proto(fields)
    columns = [c[0] for c in spec.slicing_columns(slices)]
    data = inputs.prepare_predictions(table, "<DataFrame>", label_column, score_column, None, columns, None)
    tfma = _tfma()
    output_dir = _prepare_output_dir(output_dir)
    return tfma.analyze_raw_data(data, eval_config, output_path=output_dir)
