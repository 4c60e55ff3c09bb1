"""Labeled text for fine-tuning classifiers and for their fairness evaluation.

    data = FinetuneData("tfds:civil_comments/CivilCommentsIdentities:train", label_field="toxicity",
                        label_threshold=0.5, group_fields=("female", "male", "muslim"))
    examples = read_examples(data)                       # [{"text", "label", "female", ...}, ...]
    train = make_classifier_dataset(examples, tokenizer, sequence_length=128, batch_size=32)
    write_eval_tfrecords("eval/data.tfrecord", examples, tokenizer, 128, group_fields=data.group_fields)

Sources (read by data/sources.py; local or gs://; a path may be a glob): CSV (`.csv`), JSON lines (`.jsonl` /
`.json`), TFRecord of tf.Example (`.tfrecord`, `.tfrecords`, TFDS-style `-00000-of-00004` shards), each optionally
gzipped (`.gz`); TFDS datasets as `tfds:NAME[/CONFIG]:SPLIT` (read with download=False: prepare them first).
The evaluation TFRecords written for TFMA are data/eval_records.py.

Inputs are encoded as BERT pairs, `[CLS] text [SEP]` or `[CLS] text [SEP] text_pair [SEP]`, truncated the way
Hugging Face's BertTokenizerFast truncates (longest-first for pairs), then right-padded with [PAD].
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tfpretrain.data import features as F
from tfpretrain.data.formats import BERT
from tfpretrain.data.sources import CorpusError, Source, file_type, parse_source, plan_reads, read_records
from tfpretrain.data.tokenizer import load_tokenizer, special_token_ids
from tfpretrain.errors import UserError

TEXT, TEXT_PAIR, LABEL = "text", "text_pair", "label"
_RESERVED = (TEXT, TEXT_PAIR, LABEL)
CHUNK = 4096  # examples tokenized (and written) at a time: bounds the Python-object memory of big datasets
_MISSING = object()  # a column absent from one record
_CSV_INT = re.compile(r"[+-]?(0|[1-9]\d*)")
_CSV_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+|\.\d+[eE][+-]?\d+)")


class FinetuneDataError(UserError):
    """A source, record or value that cannot be read as a labeled example; names the file, row and column."""


@dataclasses.dataclass(frozen=True)
class FinetuneData:
    """Where labeled text lives and which columns hold the text, label and fairness group annotations.

    label_threshold: binarize a continuous label (1 if value >= threshold else 0), e.g. civil_comments "toxicity".
    Without it labels must be integer class ids in 0..max(2, num_classes) - 1 (num_classes=1: binary, sigmoid).
    split: the TFDS split when `source` is "tfds:NAME[/CONFIG]" (else given in the source string).
    data_dir: the TFDS data directory (default: TFDS's own).
    """

    source: str
    text_field: str = TEXT
    label_field: str = LABEL
    label_threshold: float | None = None
    group_fields: tuple[str, ...] = ()
    text_pair_field: str | None = None
    split: str | None = None
    num_classes: int = 2
    data_dir: str | None = None

    def __post_init__(self):
        if not isinstance(self.source, str) or not self.source:
            raise FinetuneDataError(f"source must be a non-empty string, got {self.source!r}")
        if isinstance(self.group_fields, str):
            object.__setattr__(self, "group_fields", (self.group_fields,))
        object.__setattr__(self, "group_fields", tuple(self.group_fields))
        columns = [self.text_field, self.label_field, *self.group_fields]
        if self.text_pair_field is not None:
            columns.append(self.text_pair_field)
        for column in columns:
            if not isinstance(column, str) or not column:
                raise FinetuneDataError(f"{self.source}: column names must be non-empty strings, got {column!r}")
        clash = [g for g in self.group_fields if g in _RESERVED]
        if clash:
            raise FinetuneDataError(f"{self.source}: group fields {clash} clash with the example keys {_RESERVED}")
        if len(set(self.group_fields)) != len(self.group_fields):
            raise FinetuneDataError(f"{self.source}: repeated group fields {list(self.group_fields)}")
        if self.label_threshold is not None:
            if isinstance(self.label_threshold, bool) or not isinstance(self.label_threshold, numbers.Real):
                raise FinetuneDataError(f"label_threshold must be a number, got {self.label_threshold!r}")
            if not math.isfinite(self.label_threshold):
                raise FinetuneDataError(f"label_threshold must be finite, got {self.label_threshold!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise FinetuneDataError(f"num_classes must be an int >= 1, got {self.num_classes!r}")

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column read: text, text pair (if any), label, groups."""
        pair = (self.text_pair_field,) if self.text_pair_field is not None else ()
        return (self.text_field, *pair, self.label_field, *self.group_fields)


# ---------------------------------------------------------------------------------------------------- reading


def read_examples(data: FinetuneData, limit: int | None = None) -> list[dict[str, Any]]:
    """[{"text": str, ["text_pair": str,] "label": int, group: raw value or None, ...}] in file / split order.

    Group values stay raw (str, int or float; missing -> None); CSV cells that are number literals become numbers.
    Raises FinetuneDataError naming the file, line / record and column of the first bad value: a text or label
    missing from a record, a non-numeric or out-of-range label, or a group column absent from a CSV header, a TFDS
    dataset, or every record of a JSONL / TFRecord file (those formats drop missing values per record).
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise FinetuneDataError(f"limit must be None or an int >= 0, got {limit!r}")
    examples: list[dict[str, Any]] = []
    if limit == 0:
        return examples
    try:
        for where, record in _records(data):
            examples.append(_example(record, where, data))
            if limit is not None and len(examples) >= limit:
                break
    except CorpusError as e:  # the sources' reader names file, line and column; say it as fine-tuning data
        raise FinetuneDataError(str(e)) from None
    return examples


def _plan(data: FinetuneData) -> list[tuple[Source, str]]:
    """(source, unit) pairs to read, in order: matched files (each typed by its name) or one TFDS split."""
    if data.source.startswith("tfds:"):
        if data.split is not None:
            source = Source("tfds", name=data.source.removeprefix("tfds:"), split=data.split)
        else:
            source = parse_source(data.source)
        source = dataclasses.replace(source, text_field=data.text_field, data_dir=data.data_dir)
        return plan_reads(source, tfds_parts=1)
    plan = []
    for _, path in plan_reads(parse_source(data.source)):
        if file_type(path) == "text":
            raise FinetuneDataError(f"{path}: unknown file type; expected .csv, .jsonl, .json or .tfrecord "
                                    "(optionally .gz), or tfds:NAME:SPLIT")
        plan.append((dataclasses.replace(parse_source(path), text_field=data.text_field), path))
    return plan


def _records(data: FinetuneData) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, record) of every source unit; CSV group cells that are number literals become numbers."""
    for source, unit in _plan(data):
        seen: set[str] = set()
        for where, record in read_records(source, unit, data.columns):
            if source.type == "csv":
                record = {c: _csv_cell(v) if c in data.group_fields else v for c, v in record.items()}
            seen.update(g for g in data.group_fields if g in record)
            yield where, record
        # Schemaless formats drop absent values per record; a group column absent from every record is a typo.
        unseen = [g for g in data.group_fields if g not in seen]
        if unseen and source.type in ("jsonl", "tfrecord"):
            raise FinetuneDataError(f"{unit}: no record has the group column(s) {unseen}")


def _csv_cell(value: str | None) -> Any:
    """A CSV group cell as its raw value: "" -> None, integer / decimal literals -> int / float, else the string."""
    if value is None or value == "":
        return None
    stripped = value.strip()
    if _CSV_INT.fullmatch(stripped):
        return int(stripped)
    if _CSV_FLOAT.fullmatch(stripped):
        return float(stripped)
    return value


def _scalar(value: Any, where: str, column: str) -> Any:
    """A raw cell as None, str, int or float (bytes decoded, numpy scalars unwrapped, bools as ints)."""
    if value is _MISSING or value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise FinetuneDataError(f"{where}: column {column!r} has shape {value.shape}, expected a scalar")
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FinetuneDataError(f"{where}: column {column!r} is not valid UTF-8 ({e.reason})") from None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str | int | float):
        return value
    raise FinetuneDataError(f"{where}: column {column!r} holds a {type(value).__name__}, expected a scalar")


def _text(record: Mapping[str, Any], column: str, where: str) -> str:
    value = _scalar(record.get(column, _MISSING), where, column)
    if value is None:
        raise FinetuneDataError(f"{where}: missing text column {column!r}")
    if not isinstance(value, str):
        raise FinetuneDataError(f"{where}: text column {column!r} is a {type(value).__name__}, expected a string")
    return value


def _label(record: Mapping[str, Any], data: FinetuneData, where: str) -> int:
    column = data.label_field
    value = _scalar(record.get(column, _MISSING), where, column)
    if value is None or value == "":
        raise FinetuneDataError(f"{where}: missing label column {column!r}")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise FinetuneDataError(f"{where}: label column {column!r} is not numeric: {value!r}") from None
    if not math.isfinite(number):
        raise FinetuneDataError(f"{where}: label column {column!r} is not finite: {value!r}")
    if data.label_threshold is not None:
        return int(number >= data.label_threshold)
    classes = max(2, data.num_classes)
    if number != int(number) or not 0 <= number < classes:
        hint = "" if number == int(number) else " (set label_threshold to binarize a continuous label)"
        raise FinetuneDataError(
            f"{where}: label column {column!r} is {value!r}, not a class id in 0..{classes - 1}{hint}"
        )
    return int(number)


def _example(record: Mapping[str, Any], where: str, data: FinetuneData) -> dict[str, Any]:
    example = {TEXT: _text(record, data.text_field, where)}
    if data.text_pair_field is not None:
        example[TEXT_PAIR] = _text(record, data.text_pair_field, where)
    example[LABEL] = _label(record, data, where)
    for column in data.group_fields:
        example[column] = _scalar(record.get(column, _MISSING), where, column)
    return example


# --------------------------------------------------------------------------------------------------- encoding


def resolve_tokenizer(tokenizer):
    """A tokenizer (or a vocab.txt / tokenizer.json path) with truncation and padding off; the caller's is untouched."""
    if isinstance(tokenizer, str):
        tokenizer = load_tokenizer(tokenizer)
    if tokenizer.truncation is None and tokenizer.padding is None:
        return tokenizer
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(tokenizer.to_str())  # e.g. a tokenizer.json saved with Fixed(128) padding
    plain.no_truncation()
    plain.no_padding()
    return plain


def _truncate_longest_first(first: list[int], second: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Hugging Face tokenizers' LongestFirst truncation of a pair to `budget` tokens in all.

    The shorter sequence is kept whole if it fits in half the budget, else both get half (the longer one the odd
    token); the same lengths BertTokenizerFast(truncation="longest_first") produces.
    """
    n1, n2 = len(first), len(second)
    if n1 + n2 <= budget:
        return first, second
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > budget else max(n1, budget - n1)
    if n1 + n2 > budget:
        n1 = budget // 2
        n2 = n1 + budget % 2
    if swap:
        n1, n2 = n2, n1
    return first[:n1], second[:n2]


def texts_of(examples: Sequence[Any]) -> tuple[list[str], list[str | None]]:
    """(texts, text pairs or None) of examples given as strings or dicts."""
    firsts, seconds = [], []
    for i, example in enumerate(examples):
        if isinstance(example, str):
            firsts.append(example)
            seconds.append(None)
            continue
        text, pair = (example.get(TEXT), example.get(TEXT_PAIR)) if isinstance(example, Mapping) else (None, None)
        if not isinstance(text, str) or not (pair is None or isinstance(pair, str)):
            raise FinetuneDataError(f"example {i}: expected a string or a dict with string 'text' (and 'text_pair')")
        firsts.append(text)
        seconds.append(pair)
    return firsts, seconds


def encode(examples: Sequence[Mapping[str, Any] | str], tokenizer, sequence_length: int) -> dict[str, np.ndarray]:
    """Examples (dicts with "text" and optional "text_pair", or plain strings) -> BERT inputs.

    Returns int32 arrays [N, S]: token_ids `[CLS] text [SEP] (text_pair [SEP]) [PAD]...`, segment_ids (1 on the
    text_pair and its [SEP]), padding_mask. `tokenizer`: a `tokenizers` WordPiece tokenizer or a path for it.
    """
    tokenizer = resolve_tokenizer(tokenizer)
    special = special_token_ids(tokenizer, BERT)  # classifiers fine-tune BERT encoders
    cls, sep, pad = special["cls"], special["sep"], special["pad"]
    length = int(sequence_length)
    firsts, seconds = texts_of(examples)
    has_pairs = any(s is not None for s in seconds)
    if length < (3 if has_pairs else 2):  # room for the special tokens
        raise FinetuneDataError(f"sequence_length {sequence_length} is too short for [CLS] text [SEP] inputs")
    n = len(firsts)
    token_ids = np.full((n, length), pad, np.int32)  # [N, S]
    segment_ids = np.zeros((n, length), np.int32)  # [N, S]
    padding_mask = np.zeros((n, length), np.int32)  # [N, S]
    for start in range(0, n, CHUNK):
        chunk = slice(start, start + CHUNK)
        first_ids = [e.ids for e in tokenizer.encode_batch(firsts[chunk], add_special_tokens=False)]
        pair_rows = [i for i, s in enumerate(seconds[chunk]) if s is not None]
        pair_ids = dict(
            zip(
                pair_rows,
                (e.ids for e in tokenizer.encode_batch([seconds[start + i] for i in pair_rows],
                                                       add_special_tokens=False)),
            )
        )
        for offset, a in enumerate(first_ids):
            if offset in pair_ids:
                a, b = _truncate_longest_first(a, pair_ids[offset], length - 3)
                tokens = [cls, *a, sep, *b, sep]
                segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
            else:
                tokens = [cls, *a[: length - 2], sep]
                segments = [0] * len(tokens)
            row, used = start + offset, len(tokens)
            token_ids[row, :used] = tokens
            segment_ids[row, :used] = segments
            padding_mask[row, :used] = 1
    return {F.TOKEN_IDS: token_ids, F.SEGMENT_IDS: segment_ids, F.PADDING_MASK: padding_mask}


def labels_of(examples: Sequence[Mapping[str, Any]]) -> np.ndarray:
    labels = np.empty(len(examples), np.int32)  # [N]
    for i, example in enumerate(examples):
        label = example.get(LABEL) if isinstance(example, Mapping) else None
        if isinstance(label, bool) or not isinstance(label, numbers.Integral):
            raise FinetuneDataError(f"example {i}: 'label' must be an int class id, got {label!r}")
        labels[i] = int(label)
    return labels


def classifier_arrays(examples: Sequence[Mapping[str, Any]], tokenizer, sequence_length: int) -> dict[str, np.ndarray]:
    """{token_ids, segment_ids, padding_mask: int32 [N, S], labels: int32 [N]} of the examples."""
    if not examples:
        raise FinetuneDataError("no examples to build a dataset from")
    labels = labels_of(examples)
    return {**encode(examples, tokenizer, sequence_length), F.LABELS: labels}


def make_classifier_dataset(
    examples: Sequence[Mapping[str, Any]],
    tokenizer,
    sequence_length: int,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
    drop_remainder: bool = True,
    epoch_aligned: bool = False,
):
    """A tf.data.Dataset of {token_ids, segment_ids, padding_mask: int32 [B, S], labels: int32 [B]} for
    `BertClassifier.fit`. Shuffling covers the whole set and reshuffles every epoch (reproducibly, from `seed`).
    `epoch_aligned` (with repeat): batch each epoch on its own, so no batch spans two epochs (DP-SGD's bound)."""
    import tensorflow as tf

    if int(batch_size) < 1:
        raise FinetuneDataError(f"batch_size must be >= 1, got {batch_size}")
    if epoch_aligned and repeat and drop_remainder and len(examples) < int(batch_size):
        raise FinetuneDataError(f"{len(examples)} examples make no epoch-aligned batch of {batch_size}")
    dataset = tf.data.Dataset.from_tensor_slices(classifier_arrays(examples, tokenizer, sequence_length))
    if shuffle:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    if repeat and not epoch_aligned:
        dataset = dataset.repeat()
    dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
    if repeat and epoch_aligned:
        dataset = dataset.repeat()
    return dataset.prefetch(tf.data.AUTOTUNE)
