"""One Section type for what else is reported about a model (bias probes, canary exposure, explanations, privacy,
energy, or a caller's own text): a heading, the report's HTML fragment, and what the model card gets, either an
entry under one of its ethical-considerations fields or a Markdown section of its own.

    section = probe_section(summaries)                 # tfpretrain.reporting.sections.probes
    write_report(path, rows, title=..., sections=[section])
    write_model_card(path, ..., sections=[section])    # -> card["ethical_considerations"]["bias_probes"]

Callers may still pass plain pairs: (heading, html) to the report, (heading, markdown) to the card.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from tfpretrain.reporting.values import ReportInputError

# The model card's ethical-considerations fields a section may fill.
CARD_FIELDS = ("privacy", "energy", "bias_probes", "memorization", "explanations")


@dataclasses.dataclass(frozen=True)
class Section:
    """heading: plain text (escaped where shown). html: the report fragment, trusted (made by a template or the
    caller), never fetching anything; None: not in the report. card_field + card_entry: a JSON-able entry for that
    card field (several sections of one field merge when their entries are mappings; None: "not measured").
    markdown: a card section of its own (trusted Markdown)."""

    heading: str
    html: str | None = None
    card_field: str | None = None
    card_entry: Any = None
    markdown: str | None = None

    def __post_init__(self):
        if not isinstance(self.heading, str):
            raise ReportInputError(f"a section heading must be a string, got {self.heading!r}")
        if self.card_field is not None and self.card_field not in CARD_FIELDS:
            raise ReportInputError(f"unknown model card field {self.card_field!r}; expected one of {CARD_FIELDS}")
        if self.html is not None:
            object.__setattr__(self, "html", Markup(self.html))


def as_sections(sections: Sequence[Any] | None, pair: str) -> list[Section]:
    """Sections, with (heading, text) pairs read as (heading, `pair`) where pair is "html" or "markdown"."""
    out = []
    for i, section in enumerate(sections or ()):
        if isinstance(section, Section):
            out.append(section)
        elif isinstance(section, Sequence) and len(section) == 2 and all(isinstance(x, str) for x in section):
            out.append(Section(section[0], **{pair: section[1]}))
        else:
            raise ReportInputError(f"sections[{i}] must be a Section or a (heading, {pair}) pair of strings, "
                                   f"got {section!r}")
    return out
