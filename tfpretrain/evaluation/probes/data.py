"""Bias-probe data: CrowS-Pairs (published CSV or masked templates) and StereoSet (published JSON), validated.

    data = load_probe_data("crows_pairs_anonymized.csv", "crows_pairs")   # or a template CSV, or "stereoset"
    data.layout, len(data.examples)                                       # "crows_pairs", 1508

Layouts:
  * CrowS-Pairs CSV (Nangia et al. 2020, crows_pairs_anonymized.csv): columns sent_more, sent_less,
    stereo_antistereo (stereo | antistereo), bias_type; others (the unnamed index, annotations, ...) are ignored.
    sent_more is the more stereotypical sentence of the pair in both directions.
  * Masked-template CSV: template (one sentence with a single [MASK]), filler_more (the stereotypical filler),
    filler_less, bias_type, optional stereo_antistereo (default stereo). Each row becomes the CrowS pair of the
    template filled both ways, so both layouts are scored and summarised the same way.
  * StereoSet JSON (Nadeem et al. 2021, dev.json): {"data": {"intrasentence": [...], "intersentence": [...]}}, items
    {id, target, bias_type, context, sentences: [{id, sentence, gold_label}]} with one sentence per gold label
    (stereotype, anti-stereotype, unrelated); an intrasentence context holds the word BLANK once.

Every problem raises one ProbeDataError naming the file, the row (CSV) or JSON path, and the column or key.
Small original example files ship in probe_data/ (`sample_path`). Pure Python.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import string
from importlib import resources

from tfpretrain.errors import UserError

PROBES = ("crows_pairs", "stereoset")
DIRECTIONS = ("stereo", "antistereo")
GOLD_LABELS = ("stereotype", "anti-stereotype", "unrelated")
SPLITS = ("intrasentence", "intersentence")
MASK = "[MASK]"
BLANK = "BLANK"
PAIR_COLUMNS = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")
TEMPLATE_COLUMNS = ("template", "filler_more", "filler_less", "bias_type")
SAMPLES = {
    "crows_pairs": "crows_pairs_sample.csv",
    "crows_pairs_template": "crows_pairs_template_sample.csv",
    "stereoset": "stereoset_sample.json",
}
_PUNCTUATION = str.maketrans("", "", string.punctuation)


class ProbeDataError(UserError):
    """A probe data file problem, naming the file, the row or JSON path, and the column or key."""


@dataclasses.dataclass(frozen=True)
class CrowsPair:
    id: str
    sent_more: str  # the more stereotypical sentence
    sent_less: str
    direction: str  # "stereo" | "antistereo"
    bias_type: str
    where: str  # "FILE: row N" for messages
    template: str | None = None  # masked-template layout: the template the pair was filled from


@dataclasses.dataclass(frozen=True)
class StereoSetSentence:
    id: str
    sentence: str
    gold_label: str  # stereotype | anti-stereotype | unrelated


@dataclasses.dataclass(frozen=True)
class StereoSetItem:
    id: str
    split: str  # intrasentence | intersentence
    target: str
    bias_type: str
    context: str
    sentences: tuple[StereoSetSentence, ...]  # stereotype, anti-stereotype, unrelated (in GOLD_LABELS order)
    where: str

    def sentence(self, gold_label: str) -> StereoSetSentence:
        return self.sentences[GOLD_LABELS.index(gold_label)]

    def blank_parts(self) -> tuple[str, str]:
        """Intrasentence: the context's text before and after BLANK."""
        before, _, after = self.context.partition(BLANK)
        return before, after

    def filler(self, gold_label: str) -> str:
        """Intrasentence: the word that fills BLANK, as the official StereoSet loader finds it (the sentence's word
        at BLANK's whitespace-separated index, punctuation removed)."""
        index = [i for i, w in enumerate(self.context.split(" ")) if BLANK in w][-1]
        return self.sentence(gold_label).sentence.split(" ")[index].translate(_PUNCTUATION)


@dataclasses.dataclass(frozen=True)
class ProbeData:
    probe: str  # crows_pairs | stereoset
    layout: str  # crows_pairs | masked_template | stereoset
    path: str
    examples: tuple  # CrowsPair or StereoSetItem

    def bias_type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for example in self.examples:
            counts[example.bias_type] = counts.get(example.bias_type, 0) + 1
        return dict(sorted(counts.items()))


def sample_path(name: str) -> str:
    """The path of a shipped example file: "crows_pairs", "crows_pairs_template" or "stereoset"."""
    if name not in SAMPLES:
        raise ValueError(f"no sample {name!r}; samples: {sorted(SAMPLES)}")
    return os.fspath(resources.files(__package__).joinpath("samples", SAMPLES[name]))


def load_probe_data(path: str | os.PathLike, probe: str) -> ProbeData:
    """Read and validate a probe file; the CrowS layout (pairs or templates) is recognised from its header."""
    path = os.fspath(path)
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {list(PROBES)}, got {probe!r}")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise ProbeDataError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise ProbeDataError(f"{path}: not UTF-8 text ({e})") from None
    if probe == "stereoset":
        return ProbeData(probe, "stereoset", path, _stereoset(path, text))
    layout, examples = _crows(path, text)
    return ProbeData(probe, layout, path, examples)


# -------------------------------------------------------------------------------------------------- CrowS CSV


def _crows(path: str, text: str) -> tuple[str, tuple[CrowsPair, ...]]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        raise ProbeDataError(f"{path}: empty file (expected a CSV header)") from None
    except csv.Error as e:
        raise ProbeDataError(f"{path}: line 1: not valid CSV ({e})") from None
    header = [h.strip() for h in header]
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise ProbeDataError(f"{path}: line 1: column(s) {duplicated} appear more than once in the header")
    if all(c in header for c in PAIR_COLUMNS):
        layout = "crows_pairs"
    elif all(c in header for c in TEMPLATE_COLUMNS):
        layout = "masked_template"
    else:
        pairs = [c for c in PAIR_COLUMNS if c not in header]
        templates = [c for c in TEMPLATE_COLUMNS if c not in header]
        raise ProbeDataError(
            f"{path}: line 1: the header {header} is neither the CrowS-Pairs layout (missing {pairs}) nor the "
            f"masked-template layout (missing {templates})"
        )
    examples = []
    try:
        for row_number, cells in enumerate(reader, 1):
            if not any(c.strip() for c in cells):
                continue  # blank line
            where = f"{path}: row {row_number} (line {reader.line_num})"
            if len(cells) != len(header):
                raise ProbeDataError(f"{where}: {len(cells)} cells but the header has {len(header)} columns")
            row = dict(zip(header, cells))

            def cell(column: str, row=row, where=where) -> str:
                value = row[column].strip()
                if not value:
                    raise ProbeDataError(f"{where}, column {column!r}: empty")
                return value

            direction = row.get("stereo_antistereo", "").strip().lower()
            if not direction and layout == "masked_template":
                direction = "stereo"  # the optional column of the template layout
            if direction not in DIRECTIONS:
                raise ProbeDataError(
                    f"{where}, column 'stereo_antistereo': {row.get('stereo_antistereo')!r} is not one of {DIRECTIONS}"
                )
            bias_type = cell("bias_type")
            if layout == "crows_pairs":
                more, less = cell("sent_more"), cell("sent_less")
                template = None
                example_id = (row.get("") or row.get("id") or "").strip() or str(row_number)
            else:
                template = cell("template")
                if template.count(MASK) != 1:
                    raise ProbeDataError(
                        f"{where}, column 'template': needs exactly one {MASK}, found {template.count(MASK)}"
                    )
                more = template.replace(MASK, cell("filler_more"))
                less = template.replace(MASK, cell("filler_less"))
                example_id = (row.get("id") or "").strip() or str(row_number)
            if more == less:
                column = "sent_less" if layout == "crows_pairs" else "filler_less"
                raise ProbeDataError(f"{where}, column {column!r}: the two sentences are identical")
            examples.append(CrowsPair(example_id, more, less, direction, bias_type, where, template))
    except csv.Error as e:
        raise ProbeDataError(f"{path}: line {reader.line_num}: not valid CSV ({e})") from None
    if not examples:
        raise ProbeDataError(f"{path}: no data rows")
    ids = [e.id for e in examples]
    repeated = next((e for e in examples if ids.count(e.id) > 1), None)
    if repeated is not None:
        raise ProbeDataError(f"{repeated.where}: id {repeated.id!r} appears more than once")
    return layout, tuple(examples)


# ----------------------------------------------------------------------------------------------- StereoSet JSON


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProbeDataError(f"{where}: must be a non-empty string, got {value!r}")
    return value.strip()


def _stereoset(path: str, text: str) -> tuple[StereoSetItem, ...]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProbeDataError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise ProbeDataError(f'{path}: key "data": expected {{"data": {{"intrasentence": [...], "intersentence": '
                             "[...]}} (the StereoSet dev.json layout)")
    unknown = sorted(set(data) - set(SPLITS))
    if unknown:
        raise ProbeDataError(f"{path}: data.{unknown[0]}: unknown split; StereoSet has {list(SPLITS)}")
    items: list[StereoSetItem] = []
    sentence_ids: dict[str, str] = {}
    for split in SPLITS:
        entries = data.get(split, [])
        if not isinstance(entries, list):
            raise ProbeDataError(f"{path}: data.{split}: must be a list of items")
        item_ids: set[str] = set()
        for i, entry in enumerate(entries):
            where = f"{path}: data.{split}[{i}]"
            if not isinstance(entry, dict):
                raise ProbeDataError(f"{where}: must be an object")
            missing = [k for k in ("id", "target", "bias_type", "context", "sentences") if k not in entry]
            if missing:
                raise ProbeDataError(f"{where}: missing key(s) {missing}")
            item_id = _text(entry["id"], f"{where}.id")
            if item_id in item_ids:
                raise ProbeDataError(f"{where}.id: {item_id!r} appears more than once in {split}")
            item_ids.add(item_id)
            context = _text(entry["context"], f"{where}.context")
            if split == "intrasentence" and context.count(BLANK) != 1:
                raise ProbeDataError(f"{where}.context: needs the word {BLANK} exactly once, got {context!r}")
            sentences = _stereoset_sentences(entry["sentences"], f"{where}.sentences", sentence_ids)
            item = StereoSetItem(
                item_id, split, _text(entry["target"], f"{where}.target"),
                _text(entry["bias_type"], f"{where}.bias_type"), context, sentences, where,
            )
            if split == "intrasentence":
                blank_at = [j for j, w in enumerate(context.split(" ")) if BLANK in w][-1]
                for gold in GOLD_LABELS:
                    words = item.sentence(gold).sentence.split(" ")
                    if blank_at >= len(words) or not item.filler(gold):
                        raise ProbeDataError(
                            f"{where}.sentences (gold_label {gold!r}).sentence: no word at {BLANK}'s position "
                            f"{blank_at} of the context {context!r}"
                        )
            items.append(item)
    if not items:
        raise ProbeDataError(f"{path}: data: no intrasentence or intersentence items")
    return tuple(items)


def _stereoset_sentences(value, where: str, seen: dict[str, str]) -> tuple[StereoSetSentence, ...]:
    if not isinstance(value, list):
        raise ProbeDataError(f"{where}: must be a list of {{id, sentence, gold_label}}")
    by_label: dict[str, StereoSetSentence] = {}
    for j, entry in enumerate(value):
        at = f"{where}[{j}]"
        if not isinstance(entry, dict):
            raise ProbeDataError(f"{at}: must be an object")
        missing = [k for k in ("id", "sentence", "gold_label") if k not in entry]
        if missing:
            raise ProbeDataError(f"{at}: missing key(s) {missing}")
        gold = entry["gold_label"]
        if gold not in GOLD_LABELS:
            raise ProbeDataError(f"{at}.gold_label: {gold!r} is not one of {list(GOLD_LABELS)}")
        if gold in by_label:
            raise ProbeDataError(f"{at}.gold_label: a second {gold!r} sentence")
        sentence_id = _text(entry["id"], f"{at}.id")
        if sentence_id in seen:
            raise ProbeDataError(f"{at}.id: {sentence_id!r} is also used at {seen[sentence_id]}")
        seen[sentence_id] = at
        by_label[gold] = StereoSetSentence(sentence_id, _text(entry["sentence"], f"{at}.sentence"), gold)
    missing = [g for g in GOLD_LABELS if g not in by_label]
    if missing:
        raise ProbeDataError(f"{where}: no sentence with gold_label {missing} (each item needs all three)")
    return tuple(by_label[g] for g in GOLD_LABELS)
