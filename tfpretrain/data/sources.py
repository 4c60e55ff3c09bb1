"""Sources: the one reader of raw text and labeled records, for corpus preparation and fine-tuning data alike.

    source = parse_source("docs/*.txt")    # or "x.jsonl", "x.csv.gz", "x.tfrecord", "tfds:imdb_reviews:train", a dict
    for source, unit in plan_reads([source, ...]):       # one unit per matched file, or per TFDS sub-split
        for where, record in read_records(source, unit, columns=("text", "label")): ...   # "file:line", a mapping
        for text in read_documents(source, unit): ...                                       # the text field only

Types: text (one document per line, or blank-line separated blocks), jsonl, csv (header row), tfrecord (tf.Example),
tfds (`tfds:NAME[/CONFIG]:SPLIT`, data/tfds_source.py). Files are local or gs:// (tf.io.gfile), gzip-decompressed
when the name ends in .gz. Every problem is one CorpusError naming the file and line (or record) and the field.
"""

import dataclasses
import re
import unicodedata

from tfpretrain.data import source_files as files
from tfpretrain.data import tfds_source
from tfpretrain.data.source_files import TEXT, CorpusError

SOURCE_TYPES = ("text", "jsonl", "csv", "tfrecord", "tfds")
SPLIT_BY = ("line", "blank_line")
_KEYS = {
    "text": ("type", "path", "split_by"),
    "jsonl": ("type", "path", "text_field"),
    "csv": ("type", "path", "text_field"),
    "tfrecord": ("type", "path", "text_field"),
    "tfds": ("type", "name", "split", "text_field", "data_dir"),
}
_TFRECORD = re.compile(r"\.tfrecords?(-\d+-of-\d+)?$")

__all__ = ["TEXT", "CorpusError", "Source", "file_type", "normalize", "parse_source", "plan_reads",
           "read_documents", "read_records"]


def normalize(text):
    """Unicode NFC, no control/format characters, single spaces within lines, at most one blank line, stripped.

    Line breaks are those of str.splitlines (\\r\\n, \\r, \\u2028, ...), all written as "\\n".
    """
    lines = []
    for line in text.splitlines():
        kept = "".join(ch for ch in line if ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cf"))
        lines.append(" ".join(kept.split()))  # str.split() knows every Unicode space: \t, \u00a0, \u2009, ...
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    # NFC last: dropping a format character can put a base letter next to its combining mark.
    return unicodedata.normalize("NFC", text)


@dataclasses.dataclass(frozen=True)
class Source:
    """One source. text: path, split_by; jsonl / csv / tfrecord: path, text_field; tfds: name, split, text_field,
    data_dir."""

    type: str
    path: str | None = None
    split_by: str | None = None
    text_field: str | None = None
    name: str | None = None
    split: str | None = None
    data_dir: str | None = None

    def describe(self):
        """One line for the manifest, e.g. 'tfds:wikipedia/20230601.en:train text_field=text'."""
        if self.type == "tfds":
            extra = f" data_dir={self.data_dir}" if self.data_dir else ""
            return f"tfds:{self.name}:{self.split} text_field={self.text_field}{extra}"
        if self.type == "text":
            return f"text:{self.path} split_by={self.split_by}"
        return f"{self.type}:{self.path} text_field={self.text_field}"


def file_type(path):
    """The source type a file name says: jsonl (.jsonl / .json), csv, tfrecord (.tfrecord[s], TFDS-style
    -00000-of-00004 shards), else text; a .gz suffix is looked through."""
    name = path.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    return "tfrecord" if _TFRECORD.search(name) else "text"


def parse_source(spec):
    """A Source from a dict ({"type": "text" | "jsonl" | "csv" | "tfrecord" | "tfds", ...}) or a string shorthand.

    Strings: "tfds:NAME[/CONFIG]:SPLIT", or a path/glob whose name says its type (file_type; text files hold one
    document per line).
    """
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, str):
        return _parse_string(spec)
    if not isinstance(spec, dict):
        raise CorpusError(f"source must be a dict or a string, got {type(spec).__name__}: {spec!r}")
    kind = spec.get("type")
    if kind not in SOURCE_TYPES:
        raise CorpusError(f"source {spec!r}: key 'type' must be one of {SOURCE_TYPES}, got {kind!r}")
    unknown = [k for k in spec if k not in _KEYS[kind]]
    if unknown:
        raise CorpusError(f"source {spec!r}: unknown key {unknown[0]!r} for type {kind!r}; allowed: {_KEYS[kind]}")
    for key, value in spec.items():
        if not (isinstance(value, str) and value) and not (key == "data_dir" and value is None):
            raise CorpusError(f"source {spec!r}: key {key!r} must be a non-empty string, got {value!r}")
    if kind == "tfds":
        if "name" not in spec:
            raise CorpusError(f"source {spec!r}: tfds source lacks key 'name'")
        return Source("tfds", name=spec["name"], split=spec.get("split", "train"),
                      text_field=spec.get("text_field", TEXT), data_dir=spec.get("data_dir"))
    if "path" not in spec:
        raise CorpusError(f"source {spec!r}: {kind} source lacks key 'path'")
    if kind != "text":
        return Source(kind, path=spec["path"], text_field=spec.get("text_field", TEXT))
    split_by = spec.get("split_by", "line")
    if split_by not in SPLIT_BY:
        raise CorpusError(f"source {spec!r}: key 'split_by' must be one of {SPLIT_BY}, got {split_by!r}")
    return Source("text", path=spec["path"], split_by=split_by)


def _parse_string(spec):
    if spec.startswith("tfds:"):
        name, split = tfds_source.parse_name_split(spec)
        return Source("tfds", name=name, split=split, text_field=TEXT)
    if not spec:
        raise CorpusError("source is an empty string")
    kind = file_type(spec)
    if kind == "text":
        return Source("text", path=spec, split_by="line")
    return Source(kind, path=spec, text_field=TEXT)


def plan_reads(sources, tfds_parts=8):
    """[(Source, unit), ...]: one unit per matched file (sorted) or per TFDS sub-split, in source order.

    `sources` is one spec or a list of specs. TFDS splits are cut into `tfds_parts` even sub-splits (fewer for
    a split with fewer examples); their unit strings are TFDS split specs such as "train[0:3125]".
    """
    if isinstance(sources, (str, dict, Source)):
        sources = [sources]
    if tfds_parts < 1:
        raise CorpusError(f"tfds_parts must be >= 1, got {tfds_parts}")
    units = []
    for source in map(parse_source, sources):
        parts = tfds_source.units(source, tfds_parts) if source.type == "tfds" else files.glob(source.path)
        units.extend((source, unit) for unit in parts)
    return units


def read_records(source, unit, columns=None):
    """Yield (where, record) of one read unit: `where` names file:line / record / example for error messages.

    Records are mappings of column -> raw value: text documents as {"text": str}; JSONL objects as parsed; CSV
    rows as strings (None for a short row's missing cells); tf.Example / TFDS features as scalars (bytes, int,
    float; a multi-value feature as a list). `columns` (where given) must exist in a CSV header or a TFDS
    dataset's features, and limit what tf.Example / TFDS records carry.
    """
    source = parse_source(source)
    if source.type == "tfds":
        yield from tfds_source.records(source, unit, columns)
    elif source.type == "jsonl":
        yield from files.jsonl_records(unit)
    elif source.type == "csv":
        yield from files.csv_records(unit, columns)
    elif source.type == "tfrecord":
        yield from files.tfrecord_records(unit, columns)
    else:
        yield from ((where, {TEXT: text}) for where, text in files.text_documents(unit, source.split_by))


def read_documents(source, unit):
    """Yield the raw (not normalised) document texts of one read unit from `plan_reads`."""
    source = parse_source(source)
    if source.type == "text":
        yield from (text for _, text in files.text_documents(unit, source.split_by))
        return
    field = source.text_field
    for where, record in read_records(source, unit, (field,)):
        value = record.get(field) if isinstance(record, dict) else None
        if value is None:
            raise CorpusError(f"{where}: record has no text field {field!r}")
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CorpusError(f"{where}: text field {field!r} is not valid UTF-8 ({e.reason})") from None
        if not isinstance(value, str):
            raise CorpusError(f"{where}: text field {field!r} is a {type(value).__name__}, expected a string")
        yield value
