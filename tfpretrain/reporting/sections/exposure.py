"""Canary exposure (an exposure.json summary of `tfpretrain audit`, evaluation/memorization.py) -> one Section:
what exposure means, a chart of mean exposure per repetition count, the tables (templates/exposure.html.j2), and
the card's memorization entry. Canaries are named by id only: no secret appears."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tfpretrain.reporting.section import Section
from tfpretrain.reporting.templating import render_html


def bits(value: float) -> str:
    return f"{value:.2f}"


def _chart(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Bars of the mean exposure per repetition count (the max as a tick), log2|R| as a dashed line."""
    levels, bound = summary["by_repetitions"], summary["exposure_bound"]
    width, height, left, top, bottom = 80 + 70 * len(levels), 200, 48, 20, 40
    plot = height - top - bottom

    def y(v):
        return top + plot * (1 - min(max(v, 0.0), bound) / bound)

    bars = []
    for i, level in enumerate(levels):
        mean, peak = level["mean_exposure"], level["max_exposure"]
        bars.append({"x": left + 16 + 70 * i, "y": f"{y(mean):.1f}", "height": f"{top + plot - y(mean):.1f}",
                     "max_y": f"{y(peak):.1f}", "label_y": f"{y(mean) - 4:.1f}", "mean": bits(mean),
                     "max": bits(peak), "repetitions": level["repetitions"]})
    return {"width": width, "height": height, "left": left, "right": width - 8, "base": top + plot,
            "bound_y": f"{y(bound):.1f}", "bound_label_y": f"{y(bound) - 4:.1f}", "mid": f"{top + plot / 2:.1f}",
            "axis_label_y": top + plot + 16, "bars": bars}


def exposure_card_entry(summary: Mapping[str, Any]) -> dict[str, Any]:
    """{label: facts} for the model card's memorisation entry (one label per audited model); no secrets."""
    name = os.path.basename(os.path.normpath(summary["model"])) or summary["model"]
    facts = {
        "method": "canary exposure (Carlini et al. 2019, The Secret Sharer), skew-normal extrapolation",
        "scoring": summary["scoring"],
        "canaries": len(summary["canaries"]),
        "candidates": summary["candidates"],
        "exposure bound (log2|R|, bits)": round(summary["exposure_bound"], 2),
    }
    for level in summary["by_repetitions"]:
        facts[f"inserted {level['repetitions']}x"] = (f"mean {bits(level['mean_exposure'])} bits, max "
                                                      f"{bits(level['max_exposure'])} ({level['count']} canaries)")
    return {f"{summary['model_family']} model {name}": facts}


def exposure_section(summary: Mapping[str, Any]) -> Section:
    """The report's exposure section and the card's memorization entry (entries of several audits merge)."""
    n = summary["candidates"]
    levels = [[f"{x['repetitions']}x", x["count"], bits(x["mean_exposure"]), bits(x["median_exposure"]),
               bits(x["max_exposure"]), bits(x["mean_exposure_rank"])] for x in summary["by_repetitions"]]
    canaries = [[c["id"], c["repetitions"], f"{c['rank']} of {n + 1}", bits(c["exposure"]), bits(c["exposure_rank"])]
                for c in summary["canaries"]]
    html = render_html(
        "sections/templates/exposure.html.j2", s=summary, bound=bits(summary["exposure_bound"]),
        rank_bound=bits(summary["rank_exposure_bound"]), chart=_chart(summary), levels=levels, canaries=canaries,
        unknown=sum(bool(c.get("unknown_token")) for c in summary["canaries"]),
    )
    return Section(f"Memorisation: canary exposure ({summary['model_family']})", html=html,
                   card_field="memorization", card_entry=exposure_card_entry(summary))
