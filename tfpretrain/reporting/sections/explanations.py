"""Per-slice integrated-gradients explanations (records of evaluation/explain/selection.explain_run) -> one
Section: each explained example's text shaded by attribution, per slice (templates/explanations.html.j2), and the
card's explanations entry (per slice: examples, misclassified, the most frequent top words)."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tfpretrain.reporting.section import Section
from tfpretrain.reporting.templating import render_html

HEADING = "Explanations (integrated gradients)"
TOP_K = 5


def shade(value: float, scale: float) -> str:
    """CSS of a word: Okabe-Ito vermillion (raises the score) / blue (lowers it), opacity |value| / scale; the
    underline (solid / dotted) carries the sign too, so colour is not the only cue."""
    alpha = 0.0 if scale <= 0 else min(abs(value) / scale, 1.0) * 0.8
    colour, line = ("213,94,0", "solid") if value >= 0 else ("0,114,178", "dotted")
    return f"background:rgba({colour},{alpha:.2f});border-bottom:2px {line} rgb({colour});padding:0 1px"


def _by_slice(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out = collections.defaultdict(list)
    for record in records:
        out[record["slice"]].append(record)
    return out


def explanations_card_entry(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A short JSON-able summary for the model card: method, completeness, and per slice the examples explained,
    how many were misclassified, and the words most often among their top 3 (either sign) with counts."""
    records = list(records)
    if not records:
        return {"method": "integrated gradients", "examples explained": 0}
    first = records[0]
    summary = {
        "method": f"integrated gradients over word-piece embeddings of {first['explained']} "
                  f"({first['baseline']} baseline, {first['steps']} steps)",
        "largest completeness gap": float(max(abs(r["delta"]) for r in records)),
        "slices": {},
    }
    for name, rows in _by_slice(records).items():
        counts = collections.Counter(
            w["word"] for r in rows for w in sorted(r["words"], key=lambda w: -abs(w["attribution"]))[:3])
        summary["slices"][name] = {
            "examples explained": len(rows),
            "misclassified": sum(r["misclassified"] for r in rows),
            "most frequent top words": dict(counts.most_common(TOP_K)),
        }
    return summary


def explanations_section(records: Iterable[Mapping[str, Any]]) -> Section:
    """The report's explanations section and the card's explanations entry."""
    records = list(records)
    context: dict[str, Any] = {"slices": list(_by_slice(records).items()), "shade": shade}
    if records:
        deltas = np.abs([r["delta"] for r in records])
        first = records[0]
        context.update(first=first, fill="[PAD]" if first["baseline"] == "pad" else "[MASK]",
                       largest=float(deltas.max()), median=float(np.median(deltas)))
    html = render_html("sections/templates/explanations.html.j2", **context)
    return Section(HEADING, html=html, card_field="explanations", card_entry=explanations_card_entry(records))
