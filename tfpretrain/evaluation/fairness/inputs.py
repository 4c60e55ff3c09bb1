"""The inputs of a fairness evaluation, checked before the (slow) TFMA pipeline starts.

A SavedModel (signature and prediction output), tf.Example TFRecords (label, weight and slice features), or a
predictions table (CSV / TSV / JSONL / JSON / Parquet, optionally compressed; or a DataFrame) cleaned into the
columns TFMA's predictions-only path can take. Every problem is one EvaluationInputError naming the file and the
column (or signature) at fault.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tfpretrain.errors import UserError
from tfpretrain.evaluation.fairness.groups import GroupSpec, check_unique_columns

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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


class EvaluationInputError(UserError):
    """A data / model input problem, naming the file and the column (or signature) at fault."""


def used_groups(groups: Iterable[GroupSpec], specs: list[tuple[str, ...]]) -> tuple[GroupSpec, ...]:
    """The groups whose slice column some slicing spec uses."""
    used = {c for cols in specs for c in cols}
    return tuple(g for g in check_unique_columns(groups) if g.column in used)


def input_columns(groups: Sequence[GroupSpec], specs: list[tuple[str, ...]]) -> list[str]:
    """The input columns an evaluation reads for slicing: raw slice columns + the groups' sources."""
    produced = {g.column for g in groups}
    columns = [c for cols in specs for c in cols if c not in produced] + [g.input_column for g in groups]
    return list(dict.fromkeys(columns))


# --------------------------------------------------------------------------------------- SavedModel + TFRecords


def check_saved_model(path: str, signature: str, prediction_key: str) -> None:
    """The directory holds a SavedModel whose `signature` returns `prediction_key`."""
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


def check_tfrecords(pattern: str, label_key: str, columns: Sequence[str], weight_key: str | None, peek: int) -> None:
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


# ------------------------------------------------------------------------------------------- predictions table


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


def _numeric(df: pd.DataFrame, column: str, role: str, source: str) -> np.ndarray:
    """A label / score / weight column as finite float64, or one error naming the file and the column."""
    import pandas as pd

    raw = df[column].reset_index(drop=True)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        example = raw[bad].iloc[0]
        raise EvaluationInputError(f"{source}: {role} column {column!r} has non-numeric values, e.g. {example!r}")
    if values.isna().any():
        raise EvaluationInputError(f"{source}: {role} column {column!r} has {int(values.isna().sum())} missing values")
    values = values.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise EvaluationInputError(f"{source}: {role} column {column!r} has infinite values")
    return values


def prepare_predictions(
    df: pd.DataFrame,
    source: str,
    label: str,
    score: str,
    weight: str | None,
    columns: Sequence[str],
    label_threshold: float | None,
) -> pd.DataFrame:
    """The columns TFMA reads (label 0/1 unless label_threshold binarizes it later, score in [0, 1], weight >= 0,
    slice inputs cleaned), checked row by row."""
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
    labels = _numeric(df, label, "label", source)
    if label_threshold is None:
        odd = labels[(labels != 0) & (labels != 1)]
        if odd.size:
            raise EvaluationInputError(
                f"{source}: label column {label!r} must be 0/1, got {float(odd[0])!r}; "
                "pass label_threshold (e.g. 0.5) to binarize a fractional label"
            )
        out[label] = labels.astype(np.int64)
    else:
        out[label] = labels
    scores = _numeric(df, score, "score", source)
    if scores.min() < 0 or scores.max() > 1:
        raise EvaluationInputError(
            f"{source}: score column {score!r} must hold probabilities in [0, 1], got values in "
            f"[{scores.min():g}, {scores.max():g}] (apply a sigmoid to logits first)"
        )
    out[score] = scores
    if weight:
        weights = _numeric(df, weight, "example weight", source)
        if weights.min() < 0:
            raise EvaluationInputError(f"{source}: example weight column {weight!r} has negative values")
        out[weight] = weights
    for column in columns:
        if column not in out.columns:
            out[column] = _clean_slice_column(df[column].reset_index(drop=True))
    return out
