"""Parsed bias-probe examples, whatever file layout they were read from: CrowS-Pairs pairs, StereoSet items, and the
ProbeData that holds them with the name of the layout read. Pure Python.

The layouts (`LAYOUTS`: name -> probe, what the file looks like) are read by crows_pairs_csv and stereoset_json;
probes.data recognises them from the file's header.
"""

from __future__ import annotations

import dataclasses
import string

from tfpretrain.errors import UserError

PROBES = ("crows_pairs", "stereoset")
DIRECTIONS = ("stereo", "antistereo")
GOLD_LABELS = ("stereotype", "anti-stereotype", "unrelated")
SPLITS = ("intrasentence", "intersentence")
MASK = "[MASK]"
BLANK = "BLANK"
# name -> (probe, description); the names are what probe_summary.json records as "layout"
LAYOUTS = {
    "crows_pairs": ("crows_pairs", "CrowS-Pairs CSV as published (crows_pairs_anonymized.csv: sent_more, sent_less, "
                    "stereo_antistereo, bias_type)"),
    "crows_pairs_masked": ("crows_pairs", "CrowS-Pairs masked-template CSV as evaluation toolkits ship it (sentence "
                           f"with one {MASK}, mask1 = stereotypical filler, mask2 = the other, bias_type)"),
    "stereoset": ("stereoset", 'StereoSet JSON as published (dev.json: {"version", "data": {"intrasentence": [...], '
                  '"intersentence": [...]}})'),
    "stereoset_jsonl": ("stereoset", "StereoSet flat JSONL (one item per line: type, target, bias_type, context, "
                        "stereotype, anti-stereotype, unrelated)"),
}
_PUNCTUATION = str.maketrans("", "", string.punctuation)


class ProbeDataError(UserError):
    """A probe data file problem, naming the file, the line or JSON path, and the column or key."""


@dataclasses.dataclass(frozen=True)
class CrowsPair:
    id: str
    sent_more: str  # the more stereotypical sentence
    sent_less: str
    direction: str | None  # "stereo" | "antistereo"; None when the layout does not say (masked templates)
    bias_type: str
    where: str  # "FILE:LINE" for messages
    template: str | None = None  # masked-template layout: the sentence with [MASK] the pair was expanded from


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

    def blank_index(self) -> int:
        """Intrasentence: the whitespace-separated index of the (last) word holding BLANK in the context."""
        return [i for i, w in enumerate(self.context.split(" ")) if BLANK in w][-1]

    def filler(self, gold_label: str) -> str:
        """Intrasentence: the word that fills BLANK, as the official StereoSet loader finds it (the sentence's word
        at BLANK's whitespace-separated index, punctuation removed)."""
        return self.sentence(gold_label).sentence.split(" ")[self.blank_index()].translate(_PUNCTUATION)


@dataclasses.dataclass(frozen=True)
class ProbeData:
    probe: str  # crows_pairs | stereoset
    layout: str  # a LAYOUTS name: the file layout that was read
    path: str
    examples: tuple  # CrowsPair or StereoSetItem

    @property
    def description(self) -> str:
        """The layout read, in words (for logs, probe_summary.json and the report)."""
        return LAYOUTS[self.layout][1]

    def bias_type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for example in self.examples:
            counts[example.bias_type] = counts.get(example.bias_type, 0) + 1
        return dict(sorted(counts.items()))
