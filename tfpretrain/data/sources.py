"""Raw corpus sources (text files, JSON lines, TFDS) split into parallel read units, and text normalisation.

A source is a `Source` parsed from a config dict or a CLI string; `plan_reads` expands sources into
(source, unit) pairs - one per file, or one per TFDS sub-split - that Beam reads independently with
`read_documents`. Files may be local or gs:// (tf.io.gfile) and gzip-compressed (name ending in .gz).
"""

import dataclasses
import gzip
import json
import re
import unicodedata

from tfpretrain.errors import UserError

SOURCE_TYPES = ("text", "jsonl", "tfds")
SPLIT_BY = ("line", "blank_line")
_KEYS = {
    "text": ("type", "path", "split_by"),
    "jsonl": ("type", "path", "text_field"),
    "tfds": ("type", "name", "split", "text_field", "data_dir"),
}


class CorpusError(UserError):
    """A source spec, input file or TFDS dataset that cannot be read as documents."""


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
    """One corpus source. text: path, split_by; jsonl: path, text_field; tfds: name, split, text_field, data_dir."""

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
        if self.type == "jsonl":
            return f"jsonl:{self.path} text_field={self.text_field}"
        return f"text:{self.path} split_by={self.split_by}"


def parse_source(spec):
    """A Source from a dict ({"type": "text" | "jsonl" | "tfds", ...}) or a string shorthand.

    Strings: "tfds:NAME[/CONFIG]:SPLIT", a path/glob ending in .jsonl or .json (optionally .gz), or any other
    path/glob (text, one document per line).
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
        return Source(
            "tfds",
            name=spec["name"],
            split=spec.get("split", "train"),
            text_field=spec.get("text_field", "text"),
            data_dir=spec.get("data_dir"),
        )
    if "path" not in spec:
        raise CorpusError(f"source {spec!r}: {kind} source lacks key 'path'")
    if kind == "jsonl":
        return Source("jsonl", path=spec["path"], text_field=spec.get("text_field", "text"))
    split_by = spec.get("split_by", "line")
    if split_by not in SPLIT_BY:
        raise CorpusError(f"source {spec!r}: key 'split_by' must be one of {SPLIT_BY}, got {split_by!r}")
    return Source("text", path=spec["path"], split_by=split_by)


def _parse_string(spec):
    if spec.startswith("tfds:"):
        rest = spec.removeprefix("tfds:")
        # The split follows the last ':' outside brackets: "tfds:imdb_reviews:train[:10%]".
        depth, cut = 0, -1
        for i, ch in enumerate(rest):
            depth += (ch == "[") - (ch == "]")
            if ch == ":" and depth == 0:
                cut = i
        if cut <= 0 or cut == len(rest) - 1:
            raise CorpusError(f"source {spec!r}: expected tfds:NAME[/CONFIG]:SPLIT")
        return Source("tfds", name=rest[:cut], split=rest[cut + 1 :], text_field="text")
    if not spec:
        raise CorpusError("source is an empty string")
    if spec.removesuffix(".gz").endswith((".jsonl", ".json")):
        return Source("jsonl", path=spec, text_field="text")
    return Source("text", path=spec, split_by="line")


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
        parts = _tfds_units(source, tfds_parts) if source.type == "tfds" else _glob(source.path)
        units.extend((source, unit) for unit in parts)
    return units


def read_documents(source, unit):
    """Yield the raw (not normalised) document texts of one read unit from `plan_reads`."""
    source = parse_source(source)
    if source.type == "tfds":
        yield from _read_tfds(source, unit)
    elif source.type == "jsonl":
        yield from _read_jsonl(unit, source.text_field)
    elif source.split_by == "line":
        yield from (line for _, line in _lines(unit) if line.strip())
    else:
        block = []
        for _, line in _lines(unit):
            if line.strip():
                block.append(line)
            elif block:
                yield "\n".join(block)
                block = []
        if block:
            yield "\n".join(block)


def _glob(pattern):
    import tensorflow as tf

    files = sorted(p for p in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(p))
    if not files:
        raise CorpusError(f"input pattern {pattern!r} matches no files")
    return files


def _lines(path):
    """(line number, line without its newline) of a UTF-8 file; gzip-decompressed when the name ends in .gz."""
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "rb") as raw:
        f = gzip.GzipFile(fileobj=raw, mode="rb") if path.endswith(".gz") else raw
        for number, data in enumerate(f, start=1):
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CorpusError(f"{path}:{number}: not valid UTF-8 ({e.reason})") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\r\n")


def _read_jsonl(path, field):
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{number}: not valid JSON ({e.msg}); expected an object with {field!r}") from None
        if not isinstance(record, dict) or field not in record:
            raise CorpusError(f"{path}:{number}: record has no text field {field!r}")
        if not isinstance(record[field], str):
            kind = type(record[field]).__name__
            raise CorpusError(f"{path}:{number}: text field {field!r} is a {kind}, expected a string")
        yield record[field]


def _tfds_builder(source):
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(source.name, data_dir=source.data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise CorpusError(f"unknown TFDS dataset {source.name!r}") from None
    features = builder.info.features
    if source.text_field not in features:
        raise CorpusError(
            f"TFDS dataset {source.name!r} has no feature {source.text_field!r}; available: {sorted(features)}"
        )
    return builder


def _tfds_units(source, parts):
    import tensorflow_datasets as tfds

    builder = _tfds_builder(source)
    splits = builder.info.splits
    if not splits:  # sizes unknown: dataset not prepared here (or mocked)
        if not re.fullmatch(r"\w+", source.split):
            return [source.split]
        n = min(parts, 100)  # percent slices; adjacent ones share a rounded boundary, so they partition
        return [f"{source.split}[{100 * i // n}%:{100 * (i + 1) // n}%]" for i in range(n)]
    try:
        total = splits[source.split].num_examples
    except ValueError as e:
        raise CorpusError(f"TFDS dataset {source.name!r}: bad split {source.split!r} ({e})") from None
    units = []
    for sub in tfds.even_splits(source.split, n=max(1, min(parts, total))):
        spans = [
            (s.splitname, s.from_ or 0, splits[s.splitname].num_examples if s.to is None else s.to)
            for s in sub.to_absolute(splits)
        ]
        units.append("+".join(f"{name}[{start}:{end}]" for name, start, end in spans))
    return units


def _read_tfds(source, unit):
    import tensorflow_datasets as tfds

    _tfds_builder(source)
    try:
        # download=False: many workers must not race to download and prepare the same dataset.
        ds = tfds.load(source.name, split=unit, data_dir=source.data_dir, shuffle_files=False, download=False)
    except AssertionError as e:  # TFDS's way of saying "not prepared"
        raise CorpusError(
            f"TFDS dataset {source.name!r} is not prepared in {source.data_dir or 'the default data_dir'}; "
            f"run `tfds build {source.name}` first ({e})"
        ) from None
    field = source.text_field
    for value in tfds.as_numpy(ds.map(lambda example: example[field])):
        if isinstance(value, bytes):
            yield value.decode("utf-8")
        elif isinstance(value, str):
            yield value
        else:
            raise CorpusError(f"TFDS dataset {source.name!r}: feature {field!r} is not text ({type(value).__name__})")
