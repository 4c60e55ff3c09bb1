"""The evaluation TFRecords of a fine-tuned classifier: written for TFMA and read back for explanations.

    write_eval_tfrecords("RUN/eval.tfrecord", examples, tokenizer, 128, group_fields=("gender",))
    records = read_eval_records("RUN/eval.tfrecord", max_examples=5000)   # [{token_ids: int32 [S], "label", ...}]

One tf.Example per example: token_ids / segment_ids / padding_mask int64 [S], the label (int64, under `label_key`),
"text" (and "text_pair") bytes, and each group column as-is (strings as bytes, numbers as float; a column mixing
the two as bytes; None leaves the feature out, TFMA's missing value). GZIP when the path ends in .gz.
"""

import numbers
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfpretrain.data import features as F
from tfpretrain.data.labeled import (
    CHUNK,
    LABEL,
    TEXT,
    TEXT_PAIR,
    FinetuneDataError,
    encode,
    labels_of,
    resolve_tokenizer,
    texts_of,
)
from tfpretrain.data.shards import write_shard
from tfpretrain.data.source_files import CorpusError, tfrecord_records


class EvalRecordsError(FinetuneDataError):
    """Evaluation records that are missing, unreadable or empty."""


def _group_kinds(examples: Sequence[Mapping[str, Any]], group_fields: Sequence[str]) -> dict[str, str]:
    """Per group field: "float" when every present value is a number, else "bytes" (numbers written as text)."""
    kinds = {}
    for field in group_fields:
        numeric = all(
            example.get(field) is None or isinstance(example.get(field), numbers.Real) for example in examples
        )
        kinds[field] = "float" if numeric else "bytes"
    return kinds


def _tf_example(tokens: Mapping[str, np.ndarray], row: int, example: Mapping[str, Any], label_key: str, kinds):
    import tensorflow as tf

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def text(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(value).encode("utf-8")]))

    feature = {key: ints(tokens[key][row].tolist()) for key in F.BERT_INPUTS}  # int64 [S] each
    feature[label_key] = ints([int(example[LABEL])])
    feature[TEXT] = text(example[TEXT])
    if example.get(TEXT_PAIR) is not None:
        feature[TEXT_PAIR] = text(example[TEXT_PAIR])
    for field, kind in kinds.items():
        value = example.get(field)
        if value is None:
            continue  # an absent feature is TFMA's missing value
        if kind == "float":
            feature[field] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        else:
            feature[field] = text(value)
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_eval_tfrecords(
    path: str,
    examples: Sequence[Mapping[str, Any]],
    tokenizer,
    sequence_length: int,
    *,
    label_key: str = LABEL,
    group_fields: Sequence[str] = (),
) -> int:
    """Write one TFRecord file of tf.Example for TFMA (GZIP when `path` ends in .gz); returns the record count.

    Every example is checked before anything is written; the file appears under its name only when complete.
    """
    import tensorflow as tf

    path = str(path)
    group_fields = tuple(group_fields)
    reserved = {*F.BERT_INPUTS, label_key, TEXT, TEXT_PAIR}
    clash = [g for g in group_fields if g in reserved]
    if clash:
        raise FinetuneDataError(f"{path}: group fields {clash} clash with the record's features {sorted(reserved)}")
    labels_of(examples)  # validated up front: nothing is written for a bad example
    texts_of(examples)
    tokenizer = resolve_tokenizer(tokenizer)
    kinds = _group_kinds(examples, group_fields)

    def serialized():
        for start in range(0, len(examples), CHUNK):
            chunk = examples[start : start + CHUNK]
            tokens = encode(chunk, tokenizer, sequence_length)
            for row, example in enumerate(chunk):
                yield _tf_example(tokens, row, example, label_key, kinds).SerializeToString()

    tf.io.gfile.makedirs(posixpath.dirname(path) or ".")
    return write_shard(path, serialized(), "GZIP" if path.endswith(".gz") else "")


def read_eval_records(path, max_examples=None):
    """An eval TFRecord (write_eval_tfrecords' format; .gz = GZIP) -> a list of dicts: the token features as int32
    arrays [S], one-value features as scalars (bytes decoded), others as lists."""
    import tensorflow as tf

    path = str(path)
    if not tf.io.gfile.exists(path):
        raise EvalRecordsError(f"evaluation data {path} does not exist")
    records = []
    try:
        for _, raw in tfrecord_records(path, None):
            if max_examples is not None and len(records) >= max_examples:
                break
            records.append({key: _value(key, value) for key, value in raw.items()})
    except CorpusError as e:
        raise EvalRecordsError(str(e)) from None
    if not records:
        raise EvalRecordsError(f"{path}: no records")
    return records


def _value(key, value):
    values = value if isinstance(value, list) else [value]
    values = [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in values]
    if key in F.BERT_INPUTS:
        return np.asarray(values, np.int32)
    return values[0] if len(values) == 1 else values
