"""Labeled text for fine-tuning classifiers and for their fairness evaluation.

    data = FinetuneData("tfds:civil_comments/CivilCommentsIdentities:train", label_field="toxicity",
                        label_threshold=0.5, group_fields=("female", "male", "muslim"))
    examples = read_examples(data)                       # [{"text", "label", "female", ...}, ...]
    train = make_classifier_dataset(examples, tokenizer, sequence_length=128, batch_size=32)
    write_eval_tfrecords("eval/data.tfrecord", examples, tokenizer, 128, group_fields=data.group_fields)

Sources (local or gs://, via tf.io.gfile; a path may be a glob): CSV (`.csv`), JSON lines (`.jsonl` / `.json`), each
optionally gzipped (`.gz`); TFRecord of tf.Example (`.tfrecord`, `.tfrecords`, TFDS-style `-00000-of-00004` shards,
`.gz` for GZIP); TFDS datasets as `tfds:NAME[/CONFIG]:SPLIT` (read with download=False: prepare them first).

Inputs are encoded as BERT pairs, `[CLS] text [SEP]` or `[CLS] text [SEP] text_pair [SEP]`, truncated the way
Hugging Face's BertTokenizerFast truncates (longest-first for pairs), then right-padded with [PAD].
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import gzip
import io
import json
import math
import numbers
import posixpath
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tfpretrain.data import features as F
from tfpretrain.errors import UserError

TEXT, TEXT_PAIR, LABEL = "text", "text_pair", "label"
_RESERVED = (TEXT, TEXT_PAIR, LABEL)
_CHUNK = 4096  # examples tokenized (and written) at a time: bounds the Python-object memory of big datasets
_MISSING = object()  # a column absent from one record
_TFRECORD = re.compile(r"\.tfrecords?(-\d+-of-\d+)?$")
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
    if data.source.startswith("tfds:"):
        records = _tfds_records(data, limit)
    else:
        records = (record for path in _files(data.source) for record in _file_records(path, data))
    for where, record in records:
        examples.append(_example(record, where, data))
        if limit is not None and len(examples) >= limit:
            break
    return examples


def _files(pattern: str) -> list[str]:
    import tensorflow as tf

    try:
        files = sorted(p for p in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(p))
    except tf.errors.OpError as e:
        raise FinetuneDataError(f"{pattern}: cannot list files ({e.message})") from None
    if not files:
        raise FinetuneDataError(f"{pattern}: no such file (or no file matches the pattern)")
    return files


def _format(path: str) -> tuple[str, bool]:
    """(csv | jsonl | tfrecord, gzipped) from the file name."""
    name = path.lower()
    gzipped = name.endswith(".gz")
    name = name.removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv", gzipped
    if name.endswith((".jsonl", ".json")):
        return "jsonl", gzipped
    if _TFRECORD.search(name):
        return "tfrecord", gzipped
    raise FinetuneDataError(
        f"{path}: unknown file type; expected .csv, .jsonl, .json or .tfrecord (optionally .gz), or tfds:NAME:SPLIT"
    )


def _file_records(path: str, data: FinetuneData) -> Iterator[tuple[str, Mapping[str, Any]]]:
    kind, gzipped = _format(path)
    if kind == "tfrecord":
        records = _tfrecord_records(path, gzipped, data)
    elif kind == "csv":
        records = _csv_records(path, gzipped, data)
    else:
        records = _jsonl_records(path, gzipped)
    # Schemaless formats drop absent values per record; a group column absent from every record is a typo.
    seen: set[str] = set()
    for where, record in records:
        seen.update(g for g in data.group_fields if record.get(g, _MISSING) is not _MISSING)
        yield where, record
    if kind != "csv":
        unseen = [g for g in data.group_fields if g not in seen]
        if unseen:
            raise FinetuneDataError(f"{path}: no record has the group column(s) {unseen}")


class _GFileReader(io.RawIOBase):
    """A read-only tf.io.gfile.GFile as a standard raw stream (GFile lacks readable() / readinto())."""

    def __init__(self, gfile):
        self._gfile = gfile

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._gfile.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._gfile.close()
        super().close()


@contextlib.contextmanager
def _text_file(path: str, gzipped: bool) -> Iterator[io.TextIOWrapper]:
    """A UTF-8 text stream (BOM dropped, newlines untranslated for csv) of a local / gs:// file, maybe gzipped."""
    import tensorflow as tf

    with contextlib.ExitStack() as stack:
        binary = stack.enter_context(io.BufferedReader(_GFileReader(tf.io.gfile.GFile(path, "rb"))))
        if gzipped:
            binary = stack.enter_context(gzip.GzipFile(fileobj=binary, mode="rb"))
        yield stack.enter_context(io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""))


def _csv_records(path: str, gzipped: bool, data: FinetuneData) -> Iterator[tuple[str, Mapping[str, Any]]]:
    with _text_file(path, gzipped) as f:
        reader = csv.DictReader(f)
        try:
            header = reader.fieldnames or []
            missing = [c for c in data.columns if c not in header]
            if missing:
                raise FinetuneDataError(f"{path}:1: no column(s) {missing} in the CSV header; columns: {header}")
            start = reader.line_num + 1
            for row in reader:
                # Cells of a short row are None: reported as missing, like empty cells.
                cells = {c: row.get(c) for c in data.columns}
                yield f"{path}:{start}", {c: _csv_cell(v) if c in data.group_fields else v for c, v in cells.items()}
                start = reader.line_num + 1
        except csv.Error as e:
            raise FinetuneDataError(f"{path}:{reader.line_num}: malformed CSV ({e})") from None
        except UnicodeDecodeError as e:
            raise FinetuneDataError(f"{path}: not valid UTF-8 ({e.reason})") from None
        except (gzip.BadGzipFile, EOFError) as e:
            raise FinetuneDataError(f"{path}: cannot decompress ({e})") from None


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


def _jsonl_records(path: str, gzipped: bool) -> Iterator[tuple[str, Mapping[str, Any]]]:
    with _text_file(path, gzipped) as f:
        try:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise FinetuneDataError(f"{path}:{number}: not valid JSON ({e.msg})") from None
                if not isinstance(record, dict):
                    raise FinetuneDataError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
                yield f"{path}:{number}", record
        except UnicodeDecodeError as e:
            raise FinetuneDataError(f"{path}: not valid UTF-8 ({e.reason})") from None
        except (gzip.BadGzipFile, EOFError) as e:
            raise FinetuneDataError(f"{path}: cannot decompress ({e})") from None


def _tfrecord_records(path: str, gzipped: bool, data: FinetuneData) -> Iterator[tuple[str, Mapping[str, Any]]]:
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    dataset = tf.data.TFRecordDataset(path, compression_type="GZIP" if gzipped else "")
    number = 0
    try:
        for serialized in dataset.as_numpy_iterator():
            number += 1
            where = f"{path}: record {number}"
            try:
                feature = tf.train.Example.FromString(serialized).features.feature
            except DecodeError:
                raise FinetuneDataError(f"{where}: not a serialized tf.Example") from None
            yield where, {c: _feature_value(feature, c, where) for c in data.columns}
    except tf.errors.OpError as e:
        raise FinetuneDataError(f"{path}: cannot read TFRecords after record {number} ({e.message})") from None


def _feature_value(features: Mapping[str, Any], column: str, where: str) -> Any:
    if column not in features:
        return _MISSING
    feature = features[column]
    kind = feature.WhichOneof("kind")
    values = list(getattr(feature, kind).value) if kind else []
    if not values:
        return _MISSING
    if len(values) > 1:
        raise FinetuneDataError(f"{where}: column {column!r} has {len(values)} values, expected one")
    return values[0]


def _tfds_name_split(data: FinetuneData) -> tuple[str, str]:
    rest = data.source.removeprefix("tfds:")
    if data.split is not None:
        name, split = rest, data.split
    else:  # the split follows the last ':' outside brackets: "tfds:imdb_reviews:train[:10%]"
        depth, cut = 0, -1
        for i, ch in enumerate(rest):
            depth += (ch == "[") - (ch == "]")
            if ch == ":" and depth == 0:
                cut = i
        name, split = (rest[:cut], rest[cut + 1 :]) if cut > 0 else (rest, "")
    if not name or not split:
        raise FinetuneDataError(f"{data.source}: expected tfds:NAME[/CONFIG]:SPLIT (or set split=)")
    return name, split


def _tfds_records(data: FinetuneData, limit: int | None) -> Iterator[tuple[str, Mapping[str, Any]]]:
    import tensorflow_datasets as tfds

    name, split = _tfds_name_split(data)
    label = f"tfds:{name}:{split}"
    try:
        features = tfds.builder(name, data_dir=data.data_dir).info.features
    except tfds.core.registered.DatasetNotFoundError:
        raise FinetuneDataError(f"{label}: unknown TFDS dataset {name!r}") from None
    except (ValueError, AssertionError) as e:  # unknown config or version
        raise FinetuneDataError(f"{label}: {e}") from None
    missing = [c for c in data.columns if c not in features]
    if missing:
        raise FinetuneDataError(f"{label}: no feature(s) {missing}; features: {sorted(features)}")
    try:
        dataset = tfds.load(name, split=split, data_dir=data.data_dir, download=False, shuffle_files=False)
    except AssertionError as e:  # TFDS's way of saying "not prepared"
        raise FinetuneDataError(f"{label}: not prepared; run `tfds build {name}` first ({e})") from None
    except ValueError as e:
        raise FinetuneDataError(f"{label}: cannot load ({e})") from None
    columns = data.columns
    dataset = dataset.map(lambda example: {c: example[c] for c in columns})
    if limit is not None:
        dataset = dataset.take(limit)
    for number, example in enumerate(tfds.as_numpy(dataset), start=1):
        yield f"{label}: example {number}", example


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


def _resolve_tokenizer(tokenizer):
    """A tokenizer (or a vocab.txt / tokenizer.json path) with truncation and padding off; the caller's is untouched."""
    if isinstance(tokenizer, str):
        from tfpretrain.data.tokenizer import load_tokenizer

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


def _texts(examples: Sequence[Any]) -> tuple[list[str], list[str | None]]:
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
    from tfpretrain.data.tokenizer import special_token_ids

    tokenizer = _resolve_tokenizer(tokenizer)
    special = special_token_ids(tokenizer, "bert")
    cls, sep, pad = special["cls"], special["sep"], special["pad"]
    length = int(sequence_length)
    firsts, seconds = _texts(examples)
    has_pairs = any(s is not None for s in seconds)
    if length < (3 if has_pairs else 2):  # room for the special tokens
        raise FinetuneDataError(f"sequence_length {sequence_length} is too short for [CLS] text [SEP] inputs")
    n = len(firsts)
    token_ids = np.full((n, length), pad, np.int32)  # [N, S]
    segment_ids = np.zeros((n, length), np.int32)  # [N, S]
    padding_mask = np.zeros((n, length), np.int32)  # [N, S]
    for start in range(0, n, _CHUNK):
        chunk = slice(start, start + _CHUNK)
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


def _labels(examples: Sequence[Mapping[str, Any]]) -> np.ndarray:
    labels = np.empty(len(examples), np.int32)  # [N]
    for i, example in enumerate(examples):
        label = example.get(LABEL) if isinstance(example, Mapping) else None
        if isinstance(label, bool) or not isinstance(label, numbers.Integral):
            raise FinetuneDataError(f"example {i}: 'label' must be an int class id, got {label!r}")
        labels[i] = int(label)
    return labels


def make_classifier_dataset(
    examples: Sequence[Mapping[str, Any]],
    tokenizer,
    sequence_length: int,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
    drop_remainder: bool = True,
):
    """A tf.data.Dataset of {token_ids, segment_ids, padding_mask: int32 [B, S], labels: int32 [B]} for
    `BertClassifier.fit`. Shuffling covers the whole set and reshuffles every epoch (reproducibly, from `seed`)."""
    import tensorflow as tf

    if not examples:
        raise FinetuneDataError("no examples to build a dataset from")
    if int(batch_size) < 1:
        raise FinetuneDataError(f"batch_size must be >= 1, got {batch_size}")
    labels = _labels(examples)
    features = {**encode(examples, tokenizer, sequence_length), F.LABELS: labels}
    dataset = tf.data.Dataset.from_tensor_slices(features)
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(int(batch_size), drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------------------------------- evaluation data


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

    Features: token_ids / segment_ids / padding_mask int64 [S], `label_key` int64, "text" (and "text_pair") bytes,
    and each group field as-is: strings as bytes, numbers as float (a field mixing the two is all bytes); None
    leaves the feature out. Written under a temporary name, then renamed into place.
    """
    import tensorflow as tf

    path = str(path)
    group_fields = tuple(group_fields)
    reserved = {*F.BERT_INPUTS, label_key, TEXT, TEXT_PAIR}
    clash = [g for g in group_fields if g in reserved]
    if clash:
        raise FinetuneDataError(f"{path}: group fields {clash} clash with the record's features {sorted(reserved)}")
    _labels(examples)  # validated up front: nothing is written for a bad example
    _texts(examples)
    tokenizer = _resolve_tokenizer(tokenizer)
    kinds = _group_kinds(examples, group_fields)
    tf.io.gfile.makedirs(posixpath.dirname(path) or ".")
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    options = tf.io.TFRecordOptions(compression_type="GZIP" if path.endswith(".gz") else "")
    try:
        with tf.io.TFRecordWriter(tmp, options) as writer:
            for start in range(0, len(examples), _CHUNK):
                chunk = examples[start : start + _CHUNK]
                tokens = encode(chunk, tokenizer, sequence_length)
                for row, example in enumerate(chunk):
                    writer.write(_tf_example(tokens, row, example, label_key, kinds).SerializeToString())
        tf.io.gfile.rename(tmp, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(tmp):
            tf.io.gfile.remove(tmp)
        raise
    return len(examples)
