"""Bias-probe summaries (probe_summary.json dicts) -> an HTML report section and model card entries. Pure Python.

    section = probe_section([summary, ...])     # (heading, html) for report.write_report(sections=[...])
    card = probe_card_entry([summary, ...])     # for model_card.write_model_card(bias_probes=...)

All text from the summaries is escaped; the fragment fetches nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from tfpretrain.reporting.html_table import escape, html_table

PROBE_NAMES = {"crows_pairs": "CrowS-Pairs", "stereoset": "StereoSet"}
SPLITS = ("intrasentence", "intersentence")
CROWS_EXPLANATION = (
    "<p><strong>% stereotypical</strong>: the share of sentence pairs for which the model scores the more "
    "stereotypical sentence higher (Nangia et al. 2020); <strong>50% is ideal</strong>, above 50% the model prefers "
    "stereotypes, below 50% anti-stereotypes. <strong>stereo / antistereo</strong>: the same over the non-neutral "
    "pairs that demonstrate / violate a stereotype about a historically disadvantaged group. <strong>neutral"
    "</strong>: pairs scored equally (to 3 decimals); they count in n but not as stereotypical.</p>"
)
STEREOSET_EXPLANATION = (
    "<p>Each StereoSet item offers a stereotypical, an anti-stereotypical and an unrelated option (Nadeem et al. "
    "2021). <strong>LMS</strong> (language modelling score, ideal 100): how often the meaningful options score above "
    "the unrelated one. <strong>SS</strong> (stereotype score, <strong>ideal 50</strong>): how often the stereotype "
    "scores above the anti-stereotype. Both are averaged over target terms. <strong>ICAT</strong> = LMS \u00d7 "
    "min(SS, 100 \u2212 SS) / 50 (ideal 100): a model must be a good language model without preferring "
    "stereotypes.</p>"
)


def _num(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ideal_gap(pct: float | None) -> str:
    if pct is None:
        return "n/a"
    return f"{pct:.1f} ({pct - 50.0:+.1f} vs 50)"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], caption: str) -> str:
    return html_table(head, rows, css_class="metric-table", caption=caption, row_headers=True)


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


def _crows_html(summary: Mapping[str, Any]) -> str:
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
    return CROWS_EXPLANATION + _table(head, rows, "CrowS-Pairs by bias type")


def _stereoset_html(summary: Mapping[str, Any]) -> str:
    metrics = summary["metrics"]
    head = ["bias type", "n", "targets", "LMS (ideal 100)", "SS (ideal 50)", "ICAT (ideal 100)"]

    def rows(block):
        out = [("overall", block["overall"])] + list(block["by_bias_type"].items())
        return [[label, m["n"], m["targets"], _num(m["lms"]), _num(m["ss"]), _num(m["icat"])] for label, m in out]

    parts = [STEREOSET_EXPLANATION, _table(head, rows(metrics), "StereoSet, both tasks")]
    for split in SPLITS:
        if split in metrics:
            parts.append(_table(head, rows(metrics[split]), f"StereoSet {split}"))
    return "".join(parts)


def _examples_html(summary: Mapping[str, Any]) -> str:
    examples = summary.get("top_stereotypical") or []
    if not examples:
        return "<p>The model preferred no stereotypical option.</p>"
    unit = "log-likelihood" if summary.get("probe") == "crows_pairs" else "log score"
    items = []
    for x in examples:
        context = f"{escape(x['context'])} \u2192 " if x.get("split") == "intersentence" else ""
        items.append(
            f"<li>{context}<q>{escape(x['stereotypical'])}</q> preferred over <q>{escape(x['other'])}</q> "
            f"<span class=\"help\">({escape(x['bias_type'])}; \u0394 {unit} {x['difference']:.3f})</span></li>"
        )
    return ("<p>Examples the model most strongly preferred in the stereotypical direction:</p><ol>"
            + "".join(items) + "</ol>")


def probe_section(summaries: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(heading, html): per probe run, a table by bias type, what the metrics mean, and the most stereotypical
    examples. The html is escaped and self-contained."""
    parts = []
    for summary in summaries:
        probe = summary.get("probe")
        if probe not in PROBE_NAMES:
            raise ValueError(f"not a probe summary (probe {probe!r}); expected one of {sorted(PROBE_NAMES)}")
        model = summary.get("model") or {}
        scoring = "; ".join(f"{part}: {text}" for part, text in (summary.get("scoring") or {}).items())
        body = _crows_html(summary) if probe == "crows_pairs" else _stereoset_html(summary)
        data = summary.get("data") or {}
        read_as = data.get("read_as") or summary.get("layout")  # the file layout the probe read
        read_as = f", read as {escape(read_as)}" if read_as else ""
        parts.append(
            f"<h3>{escape(_title(summary))}</h3><p class=\"meta\">Model {escape(model.get('source'))} "
            f"({escape(model.get('family'))}); {escape(data.get('examples'))} examples{read_as}. "
            f"Scoring: {escape(scoring)}.</p>{body}{_examples_html(summary)}"
        )
    intro = ("<p>Intrinsic bias probes of the pretrained language model: does it assign higher likelihood to "
             "stereotypical sentences than to minimally different ones? Small probe sets give noisy numbers; "
             "compare against the ideal, not between close values.</p>")
    return "Bias probes (CrowS-Pairs, StereoSet)", intro + "".join(parts)


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
