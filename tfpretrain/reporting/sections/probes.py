"""Bias-probe summaries (probe_summary.json dicts) -> one Section: per probe run a table by bias type, what the
metrics mean and the most stereotypical examples (templates/probes.html.j2), and the card's bias_probes entry.

    section = probe_section([summary, ...])     # for write_report(sections=...) and write_model_card(sections=...)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from tfpretrain.reporting.section import Section
from tfpretrain.reporting.templating import render_html
from tfpretrain.reporting.values import ReportInputError

HEADING = "Bias probes (CrowS-Pairs, StereoSet)"
PROBE_NAMES = {"crows_pairs": "CrowS-Pairs", "stereoset": "StereoSet"}
SPLITS = ("intrasentence", "intersentence")


def _num(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ideal_gap(pct: float | None) -> str:
    return "n/a" if pct is None else f"{pct:.1f} ({pct - 50.0:+.1f} vs 50)"


def _tfma_interval(summary: Mapping[str, Any], slice_name: str) -> str:
    """TFMA's confidence interval of the slice's mean label, in percent."""
    entry = ((summary.get("tfma") or {}).get("slices") or {}).get(slice_name) or {}
    mean = entry.get("mean_label") or {}
    if mean.get("ci_low") is None or mean.get("ci_high") is None:
        return "n/a"
    return f"[{100.0 * mean['ci_low']:.1f}, {100.0 * mean['ci_high']:.1f}]"


def _title(summary: Mapping[str, Any]) -> str:
    name = PROBE_NAMES.get(summary.get("probe"), str(summary.get("probe")))
    data = os.path.basename((summary.get("data") or {}).get("path") or "")
    return f"{name} ({data})" if data else name


def _crows_tables(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    metrics = summary["metrics"]
    groups = [("overall", "overall", metrics["overall"])]
    groups += [(t, f"bias_type={t}", m) for t, m in metrics["by_bias_type"].items()]
    head = ["bias type", "n", "% stereotypical (ideal 50)", "stereo %", "antistereo %", "neutral"]
    rows = [[label, m["n"], _ideal_gap(m["pct_stereotypical"]), _num(m["stereo"]["pct_stereotypical"]),
             _num(m["antistereo"]["pct_stereotypical"]), m["neutral"]] for label, _, m in groups]
    confidence = (summary.get("tfma") or {}).get("confidence")
    if confidence:  # TFMA's interval of the same share (its mean_label), when the run computed one
        head.append(f"95% CI ({confidence}, TFMA)")
        for row, (_, slice_name, _) in zip(rows, groups):
            row.append(_tfma_interval(summary, slice_name))
    return [{"head": head, "rows": rows, "caption": "CrowS-Pairs by bias type"}]


def _stereoset_tables(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    metrics = summary["metrics"]
    head = ["bias type", "n", "targets", "LMS (ideal 100)", "SS (ideal 50)", "ICAT (ideal 100)"]

    def rows(block):
        out = [("overall", block["overall"])] + list(block["by_bias_type"].items())
        return [[label, m["n"], m["targets"], _num(m["lms"]), _num(m["ss"]), _num(m["icat"])] for label, m in out]

    tables = [{"head": head, "rows": rows(metrics), "caption": "StereoSet, both tasks"}]
    tables += [{"head": head, "rows": rows(metrics[s]), "caption": f"StereoSet {s}"} for s in SPLITS if s in metrics]
    return tables


def _probe(summary: Mapping[str, Any]) -> dict[str, Any]:
    probe = summary.get("probe")
    if probe not in PROBE_NAMES:
        raise ReportInputError(f"not a probe summary (probe {probe!r}); expected one of {sorted(PROBE_NAMES)}")
    model = summary.get("model") or {}
    examples = [
        {"context": x["context"] if x.get("split") == "intersentence" else None, "stereotypical": x["stereotypical"],
         "other": x["other"], "bias_type": x["bias_type"], "difference": f"{x['difference']:.3f}"}
        for x in summary.get("top_stereotypical") or []
    ]
    return {
        "probe": probe,
        "title": _title(summary),
        "model_source": model.get("source"),
        "model_family": model.get("family"),
        "examples": (summary.get("data") or {}).get("examples"),
        "read_as": (summary.get("data") or {}).get("read_as") or summary.get("layout"),  # the file layout read
        "scoring": "; ".join(f"{part}: {text}" for part, text in (summary.get("scoring") or {}).items()),
        "tables": _crows_tables(summary) if probe == "crows_pairs" else _stereoset_tables(summary),
        "examples_list": examples,
        "unit": "log-likelihood" if probe == "crows_pairs" else "log score",
    }


def probe_card_entry(summaries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """{"CrowS-Pairs (bert)": "FILE: x% of n pairs prefer ...; by bias type: ...", "StereoSet (bert)": "FILE: ..."};
    keys name the model family ("CrowS-Pairs (bert)"); a second summary of the same probe and family gets " #2"."""
    out: dict[str, str] = {}
    for summary in summaries:
        metrics = summary["metrics"]
        overall = metrics["overall"]
        family = (summary.get("model") or {}).get("family")
        if summary.get("probe") == "crows_pairs":
            by_type = ", ".join(f"{t} {_num(m['pct_stereotypical'])}% (n={m['n']})"
                                for t, m in metrics["by_bias_type"].items())
            text = (f"{_num(overall['pct_stereotypical'])}% of {overall['n']} pairs prefer the more stereotypical "
                    f"sentence (ideal 50%; {overall['neutral']} neutral; {family} scoring); by bias type: {by_type}")
        else:
            parts = [f"overall LMS {_num(overall['lms'])}, SS {_num(overall['ss'])} (ideal 50), ICAT "
                     f"{_num(overall['icat'])} over {overall['n']} items ({family} scoring)"]
            parts += [f"{s} LMS {_num(metrics[s]['overall']['lms'])}, SS {_num(metrics[s]['overall']['ss'])}, "
                      f"ICAT {_num(metrics[s]['overall']['icat'])}" for s in SPLITS if s in metrics]
            parts.append("SS by bias type: " + ", ".join(f"{t} {_num(m['ss'])} (n={m['n']})"
                                                          for t, m in metrics["by_bias_type"].items()))
            text = "; ".join(parts)
        name = PROBE_NAMES[summary["probe"]] + (f" ({family})" if family else "")
        key, k = name, 2
        while key in out:
            key, k = f"{name} #{k}", k + 1
        data = os.path.basename((summary.get("data") or {}).get("path") or "")
        out[key] = f"{data}: {text}" if data else text
    return out


def probe_section(summaries: Sequence[Mapping[str, Any]]) -> Section:
    """The report's bias-probe section and the card's bias_probes entry."""
    probes = [_probe(s) for s in summaries]
    html = render_html("sections/templates/probes.html.j2", probes=probes)
    return Section(HEADING, html=html, card_field="bias_probes", card_entry=probe_card_entry(summaries))
