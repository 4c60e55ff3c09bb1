"""TensorFlow Datasets as a source: `tfds:NAME[/CONFIG]:SPLIT`, cut into even sub-splits, read without downloads.

TFDS is imported only when a tfds source is planned or read. Datasets are loaded with download=False (many Beam
workers must not race to download and prepare the same dataset): build them first with `tfds build NAME`.
"""

import re

from tfpretrain.data.source_files import CorpusError


def parse_name_split(spec):
    """"tfds:NAME[/CONFIG]:SPLIT" -> (name, split); the split follows the last ':' outside brackets, so
    "tfds:imdb_reviews:train[:10%]" and "tfds:imdb_reviews:1.0.0:train" work."""
    rest = spec.removeprefix("tfds:")
    depth, cut = 0, -1
    for i, ch in enumerate(rest):
        depth += (ch == "[") - (ch == "]")
        if ch == ":" and depth == 0:
            cut = i
    if cut <= 0 or cut == len(rest) - 1:
        raise CorpusError(f"source {spec!r}: expected tfds:NAME[/CONFIG]:SPLIT")
    return rest[:cut], rest[cut + 1 :]


def _label(source, split=None):
    return f"tfds:{source.name}:{split or source.split}"


def _builder(source, columns):
    """The dataset's builder, after checking it exists and has every column as a feature."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(source.name, data_dir=source.data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise CorpusError(f"{_label(source)}: unknown TFDS dataset {source.name!r}") from None
    except (ValueError, AssertionError) as e:  # unknown config or version
        raise CorpusError(f"{_label(source)}: {e}") from None
    features = builder.info.features
    missing = [c for c in columns if c not in features]
    if missing:
        raise CorpusError(f"{_label(source)}: no feature(s) {missing}; features: {sorted(features)}")
    return builder


def units(source, parts):
    """TFDS split specs that partition the source's split into at most `parts` even pieces."""
    import tensorflow_datasets as tfds

    builder = _builder(source, (source.text_field,))
    splits = builder.info.splits
    if not splits:  # sizes unknown: dataset not prepared here (or mocked)
        if not re.fullmatch(r"\w+", source.split) or parts == 1:
            return [source.split]
        n = min(parts, 100)  # percent slices; adjacent ones share a rounded boundary, so they partition
        return [f"{source.split}[{100 * i // n}%:{100 * (i + 1) // n}%]" for i in range(n)]
    try:
        total = splits[source.split].num_examples
    except ValueError as e:
        raise CorpusError(f"{_label(source)}: bad split {source.split!r} ({e})") from None
    if parts == 1:
        return [source.split]
    pieces = []
    for sub in tfds.even_splits(source.split, n=max(1, min(parts, total))):
        spans = [
            (s.splitname, s.from_ or 0, splits[s.splitname].num_examples if s.to is None else s.to)
            for s in sub.to_absolute(splits)
        ]
        pieces.append("+".join(f"{name}[{start}:{end}]" for name, start, end in spans))
    return pieces


def records(source, unit, columns=None):
    """(where, {column: value}) of one sub-split, values as numpy scalars / bytes; `columns` default: the text
    field."""
    import tensorflow_datasets as tfds

    columns = tuple(columns or (source.text_field,))
    _builder(source, columns)
    label = _label(source, unit)
    try:
        dataset = tfds.load(source.name, split=unit, data_dir=source.data_dir, shuffle_files=False, download=False)
    except AssertionError as e:  # TFDS's way of saying "not prepared"
        raise CorpusError(f"{label}: not prepared in {source.data_dir or 'the default data_dir'}; run "
                          f"`tfds build {source.name}` first ({e})") from None
    except ValueError as e:
        raise CorpusError(f"{label}: cannot load ({e})") from None
    dataset = dataset.map(lambda example: {c: example[c] for c in columns})
    for number, example in enumerate(tfds.as_numpy(dataset), start=1):
        yield f"{label}: example {number}", example
