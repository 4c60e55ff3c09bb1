"""How the files of every source type are read: text lines or blank-line blocks, JSON lines, CSV, TFRecords of
tf.Example; local or gs:// (tf.io.gfile), gzip-decompressed when the name ends in .gz.

Each reader yields (where, value) with `where` naming the file and line or record, for error messages; every
problem is one CorpusError naming them. data/sources.py says what to read and dispatches here.
"""

import contextlib
import csv
import gzip
import io
import json
import zlib

from tfpretrain.errors import UserError

TEXT = "text"  # the field holding a text source's documents, and every source's default text field


class CorpusError(UserError):
    """A source spec, input file, record or TFDS dataset that cannot be read; names the file, line and field."""


def glob(pattern):
    import tensorflow as tf

    try:
        files = sorted(p for p in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(p))
    except tf.errors.OpError as e:
        raise CorpusError(f"{pattern}: cannot list files ({e.message})") from None
    if not files:
        raise CorpusError(f"{pattern}: no such file (or no file matches the pattern)")
    return files


class _GFileReader(io.RawIOBase):
    """A read-only tf.io.gfile.GFile as a standard raw stream (GFile lacks readable() / readinto())."""

    def __init__(self, gfile):
        self._gfile = gfile

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._gfile.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self):
        self._gfile.close()
        super().close()


@contextlib.contextmanager
def _binary(path):
    """A binary stream of a local / gs:// file, gzip-decompressed when the name ends in .gz; a corrupt gzip
    stream or bad UTF-8 while it is read is one CorpusError naming the file."""
    import tensorflow as tf

    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(io.BufferedReader(_GFileReader(tf.io.gfile.GFile(path, "rb"))))
        if path.endswith(".gz"):
            stream = stack.enter_context(gzip.GzipFile(fileobj=stream, mode="rb"))
        try:
            yield stream
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
            raise CorpusError(f"{path}: cannot decompress ({e})") from None
        except UnicodeDecodeError as e:
            raise CorpusError(f"{path}: not valid UTF-8 ({e.reason})") from None


def lines(path):
    """(line number, line without its newline) of a UTF-8 file."""
    with _binary(path) as f:
        for number, data in enumerate(f, start=1):
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CorpusError(f"{path}:{number}: not valid UTF-8 ({e.reason})") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\r\n")


def text_documents(path, split_by):
    """(path:line, document) per non-blank line, or per block of lines between blank lines."""
    if split_by == "line":
        yield from ((f"{path}:{n}", line) for n, line in lines(path) if line.strip())
        return
    block, start = [], 0
    for number, line in lines(path):
        if line.strip():
            start = start or number
            block.append(line)
        elif block:
            yield f"{path}:{start}", "\n".join(block)
            block, start = [], 0
    if block:
        yield f"{path}:{start}", "\n".join(block)


def jsonl_records(path):
    for number, line in lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{number}: not valid JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise CorpusError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        yield f"{path}:{number}", record


def csv_records(path, columns):
    with _binary(path) as binary, io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        try:
            header = reader.fieldnames or []
            missing = [c for c in columns or () if c not in header]
            if missing:
                raise CorpusError(f"{path}:1: no column(s) {missing} in the CSV header; columns: {header}")
            start = reader.line_num + 1
            for row in reader:  # a multi-line quoted cell: `where` is the line the row starts on
                yield f"{path}:{start}", {c: row.get(c) for c in columns} if columns else row
                start = reader.line_num + 1
        except csv.Error as e:
            raise CorpusError(f"{path}:{reader.line_num}: malformed CSV ({e})") from None


def tfrecord_records(path, columns):
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    dataset = tf.data.TFRecordDataset(path, compression_type="GZIP" if path.endswith(".gz") else "")
    number = 0
    try:
        for serialized in dataset.as_numpy_iterator():
            number += 1
            where = f"{path}: record {number}"
            try:
                features = tf.train.Example.FromString(serialized).features.feature
            except DecodeError:
                raise CorpusError(f"{where}: not a serialized tf.Example") from None
            record = {}
            for key in features if columns is None else [c for c in columns if c in features]:
                kind = features[key].WhichOneof("kind")
                values = list(getattr(features[key], kind).value) if kind else []
                if values:  # an empty feature is a missing value
                    record[key] = values[0] if len(values) == 1 else values
            yield where, record
    except tf.errors.OpError as e:
        raise CorpusError(f"{path}: cannot read TFRecords after record {number} ({e.message})") from None
