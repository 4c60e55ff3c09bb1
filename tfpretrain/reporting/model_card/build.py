"""A model card (Mitchell et al. 2019, "Model Cards for Model Reporting") as Markdown for people and JSON for machines.

    from tfpretrain.evaluation.fairness import tfma_runner as fairness
    from tfpretrain.reporting.model_card import build as model_card
    paths = model_card.write_model_card(
        "runs/eval/model_card.md",
        model_info={"name": "toxicity-bert", "version": "3", "architecture": "BERT-base", "license": "Apache-2.0",
                    "intended_use": "Ranking comments for human review", "out_of_scope_uses": "Automated removal"},
        training={"steps": 12000, "optimizer": "AdamW", "hardware": "TPU v3-8"},
        data={"training": {"name": "civil_comments", "split": "train"},
              "evaluation": {"name": "civil_comments", "split": "test", "groups": "identity annotations >= 0.5"}},
        evaluation_rows=fairness.read_tables("runs/eval"),
        gate=gate,                                   # FairnessGate / GateResult / dict, or None
        privacy={"epsilon": 3.0, "delta": 1e-5},     # optional; "not measured" when absent
        energy={"kwh": 12.4, "co2_kg": 4.1},         # optional; "not measured" when absent
        bias_probes={"winobias": {"gap": 0.08}},     # optional; "not measured" when absent
    )   # -> {"markdown": "runs/eval/model_card.md", "json": "runs/eval/model_card.json"}

Sections, in the paper's order: Model details, Intended use, Factors, Metrics, Evaluation data, Training data,
Quantitative analyses (per-slice tables of the key metrics at the decision threshold, with confidence intervals
and gaps to overall, plus the fairness gate verdict), Ethical considerations (with privacy, environmental impact,
bias probes, memorisation and explanations), Caveats and recommendations; then any extra `sections` ((heading,
markdown) pairs).

The card is built once as a JSON-able dict (`build_model_card`) and the Markdown is rendered from it, so the two
files always agree. Nothing is invented: numbers come from the arguments only, and what was not given is written as
"not measured" (measurements) or "not specified" (descriptions). Caveats derived from the data (small, suppressed or
undefined slices, missing confidence intervals, gate failures) are added automatically. Both files are written
atomically (temp file, then rename). Text from the data is Markdown-escaped. Pure Python (no TF).
"""

from __future__ import annotations

import datetime
import json
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tfpretrain.atomic import write_text
from tfpretrain.reporting.report import page as report

FORMAT = "tfpretrain.model_card/1"
NOT_MEASURED = "not measured"
NOT_SPECIFIED = "not specified"
DEFAULT_KEY_METRICS = ("false_positive_rate", "false_negative_rate", "auc", "binary_accuracy")

_USE_KEYS = ("intended_use", "intended_uses", "primary_uses", "primary_users", "out_of_scope_uses")
_TEXT_KEYS = (*_USE_KEYS, "ethical_considerations", "caveats")
_DETAIL_ORDER = (
    "name",
    "version",
    "date",
    "type",
    "architecture",
    "description",
    "parameters",
    "developers",
    "owner",
    "license",
    "citation",
    "paper",
    "contact",
)
_LABELS = {
    # privacy (differential privacy accounting)
    "epsilon": "epsilon (\u03b5)",
    "delta": "delta (\u03b4)",
    "noise_multiplier": "noise multiplier",
    "l2_norm_clip": "clipping norm (L2)",
    "clipping_norm": "clipping norm (L2)",
    "accountant": "accountant",
    "mechanism": "mechanism",
    "unit": "privacy unit",
    "sampling_rate": "sampling rate",
    # energy
    "kwh": "energy (kWh)",
    "energy_kwh": "energy (kWh)",
    "co2_kg": "emissions (kg CO\u2082eq)",
    "co2eq_kg": "emissions (kg CO\u2082eq)",
    "carbon_intensity": "carbon intensity (g CO\u2082eq/kWh)",
    "duration_h": "duration (h)",
    "hardware": "hardware",
    "region": "region",
    "method": "method",
    "tool": "tool",
    # intended use
    "intended_use": "Intended use",
    "intended_uses": "Intended uses",
    "primary_uses": "Primary intended uses",
    "primary_users": "Primary intended users",
    "out_of_scope_uses": "Out-of-scope uses",
}


# -------------------------------------------------------------------------------------------------- formatting


_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def md_escape(text: Any) -> str:
    """Text from data, safe in Markdown (and in the HTML a renderer makes of it): one line, specials escaped.

    Backslash-escapes \\ ` * [ ] < > | # and word-boundary underscores (an underscore inside a word, as in
    civil_comments, is literal in CommonMark), and "&" only where it would start an entity.
    """
    text = _ENTITY.sub("&amp;", " ".join(str(text).split()))
    out = []
    for i, ch in enumerate(text):
        if ch in "\\`*[]<>|#":
            out.append("\\" + ch)
        elif ch == "_" and not (0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()):
            out.append("\\_")
        else:
            out.append(ch)
    return "".join(out)


def _plain(value: Any) -> str:
    """A value given by the caller, as Markdown text (numbers as given, to 6 significant digits)."""
    if value is None:
        return NOT_SPECIFIED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}" if abs(int(value)) >= 10000 else str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return "n/a" if not math.isfinite(value) else f"{value:.6g}"
    if isinstance(value, Mapping):
        return "; ".join(f"{md_escape(k)}: {_plain(v)}" for k, v in value.items()) or NOT_SPECIFIED
    if isinstance(value, list | tuple | set):
        return ", ".join(_plain(v) for v in value) or NOT_SPECIFIED
    return md_escape(value)


def _label(key: str) -> str:
    label = _LABELS.get(key, key.replace("_", " "))
    return label[:1].upper() + label[1:]


def _kv_lines(info: Mapping[str, Any] | None) -> list[str]:
    if not info:
        return []
    return [f"- **{md_escape(_label(str(k)))}:** {_plain(v)}" for k, v in info.items()]


def _md_table(head: Sequence[str], rows: Iterable[Sequence[str]], align: Sequence[str]) -> list[str]:
    marks = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _section_text(value: Any) -> Any:
    """Free text or a mapping/list, JSON-safe, or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return report._json_safe(value)


def _render_block(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return _kv_lines(value)
    if isinstance(value, list | tuple):
        return [f"- {_plain(v)}" for v in value]
    return [md_escape(value)]


# --------------------------------------------------------------------------------------------------- building


def _key_metrics(table: report.MetricsTable, metrics: Sequence[str] | None) -> list[str]:
    if metrics is not None:
        missing = [m for m in metrics if m not in table.thresholded]
        if missing:
            raise ValueError(f"metrics {missing} are not in the evaluation rows; available: {table.metrics}")
        return list(metrics)
    gated = [m for m in table.gate["max_gap"] if m in table.thresholded]
    return gated + [m for m in DEFAULT_KEY_METRICS if m in table.thresholded and m not in gated]


def _factors(table: report.MetricsTable) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    intersections: list[list[str]] = []
    for name in table.slices:
        if name == table.overall_label:
            continue
        parts = [p.partition("=") for p in name.split("&")]
        columns = [c for c, _, _ in parts]
        if len(parts) > 1:
            if columns not in intersections:
                intersections.append(columns)
            continue
        column, _, value = parts[0]
        groups.setdefault(column, [])
        if value not in groups[column]:
            groups[column].append(value)
    return {"groups": groups, "intersections": intersections}


def _quantitative(table: report.MetricsTable, metrics: Sequence[str]) -> dict[str, Any]:
    tables = []
    for metric in metrics:
        model = report.chart_model(table, metric, table.default_threshold if table.thresholded[metric] else None)
        rows = []
        for bar in model["bars"]:
            rows.append(
                {
                    "slice": bar["slice"],
                    "kind": "overall"
                    if bar["flag"] == "overall"
                    else "intersectional"
                    if "&" in bar["slice"]
                    else "unitary",
                    "n": bar["n"],
                    "value": bar["value"],
                    "ci_low": bar["ci_low"],
                    "ci_high": bar["ci_high"],
                    "gap_to_overall": None if bar["flag"] == "overall" else bar["gap"],
                    "status": report._status_text(bar["flag"], bar["limit"], table.min_slice_size),
                }
            )
        tables.append(
            {
                "metric": metric,
                "label": report.metric_label(metric),
                "threshold": model["threshold"],
                "gate_limit": model["limit"],
                "rows": rows,
            }
        )
    gate = table.gate
    return {
        "threshold": table.default_threshold,
        "gate": {
            "applied": gate["configured"],
            "passed": gate["passed"],
            "max_gap": gate["max_gap"],
            "threshold": gate["threshold"],
            "min_slice_size": gate["min_slice_size"],
            "checked": gate["checked"],
            "failures": gate["failures"],
            "skipped": gate["skipped"],
        },
        "tables": tables,
    }


def _signed_gap(failure: Mapping[str, Any]) -> str:
    """A gate failure's gap, signed (slice - overall) when value and overall are known."""
    m = failure["metric"]
    if failure["value"] is None or failure["overall"] is None:
        return report.format_value(failure["gap"], m, 4)
    return report.format_gap(failure["value"] - failure["overall"], m)


def _caveats(table: report.MetricsTable, quantitative: Mapping[str, Any], given: Any) -> list[str]:
    out = []
    gate = table.gate
    if gate["configured"] and not gate["passed"]:
        worst = gate["failures"][:5]
        listed = "; ".join(
            f"{f['slice']}: {report.metric_label(f['metric'])}"
            + ("" if f["threshold"] is None else f" @ {report.format_threshold(f['threshold'])}")
            + f" gap {_signed_gap(f)}"
            for f in worst
        )
        out.append(
            f"The fairness gate failed for {len(gate['failures'])} slice/metric pair(s) ({listed}"
            f"{'; ...' if len(gate['failures']) > 5 else ''}). Investigate and mitigate before relying on "
            "the model for these groups."
        )
    if table.min_slice_size:
        small = [s for s in table.slices if table.is_small(table.slice_info[s]["n"])]
        if small:
            out.append(
                f"{len(small)} slice(s) have fewer than {table.min_slice_size} examples ({', '.join(small[:10])}"
                f"{', ...' if len(small) > 10 else ''}): their estimates are unreliable and were not gated."
            )
    if table.empty_slices:
        notes = "; ".join(f"{s} ({table.slice_info[s]['note'] or 'no values'})" for s in table.empty_slices[:10])
        out.append(
            f"{len(table.empty_slices)} slice(s) have no metrics at all (e.g. suppressed as too small): {notes}."
        )
    undefined = sorted(
        {(r["slice"], t["label"]) for t in quantitative["tables"] for r in t["rows"] if r["value"] is None}
    )
    if undefined:
        listed = "; ".join(f"{s}: {m}" for s, m in undefined[:10])
        out.append(f"Some metrics are undefined for some slices (e.g. no positives or negatives): {listed}.")
    has_ci = any(r["ci_low"] is not None for t in quantitative["tables"] for r in t["rows"])
    if not has_ci:
        out.append("No confidence intervals were computed: gaps between slices may be sampling noise.")
    out.append(
        "Only the groups listed under Factors were evaluated; groups that are not annotated in the "
        "evaluation data (and their intersections) were not, and may be treated differently."
    )
    given = _section_text(given)
    if isinstance(given, list):
        out.extend(str(g) for g in given)
    elif given is not None:
        out.append(given if isinstance(given, str) else json.dumps(given))
    return out


def _measured(value: Any) -> Any:
    value = _section_text(value)
    return {"status": NOT_MEASURED} if value is None or value == {} else value


def build_model_card(
    *,
    model_info: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None,
    evaluation_rows: Iterable[Mapping[str, Any]],
    gate: Any,
    sections: Sequence[tuple[str, str]] | None = None,
    privacy: Mapping[str, Any] | None = None,
    energy: Mapping[str, Any] | None = None,
    bias_probes: Mapping[str, Any] | Sequence[Any] | None = None,
    memorization: Mapping[str, Any] | None = None,
    explanations: Mapping[str, Any] | None = None,
    metrics: Sequence[str] | None = None,
    min_slice_size: int | None = None,
    report_path: str | None = None,
) -> dict[str, Any]:
    """The model card as a JSON-able dict (what model_card.json holds); see write_model_card for the arguments."""
    model_info = dict(model_info or {})
    training = dict(training or {})
    data = dict(data or {})
    table = report.MetricsTable(evaluation_rows, gate=gate, min_slice_size=min_slice_size)
    if not table.rows:
        raise ValueError("no evaluation rows: a model card needs the evaluation results")
    key_metrics = _key_metrics(table, metrics)
    quantitative = _quantitative(table, key_metrics)
    sections = list(sections or ())
    for i, section in enumerate(sections):
        if not (isinstance(section, Sequence) and len(section) == 2 and all(isinstance(x, str) for x in section)):
            raise ValueError(f"sections[{i}] must be a (heading, markdown) pair of strings, got {section!r}")

    details = {k: model_info[k] for k in _DETAIL_ORDER if k in model_info}
    details.update({k: v for k, v in model_info.items() if k not in details and k not in _TEXT_KEYS})
    use = {k: model_info[k] for k in _USE_KEYS if k in model_info}
    overall = table.slice_info.get(table.overall_label, {}).get("n")
    if "evaluation" in data or "training" in data:
        eval_data, train_data = data.get("evaluation"), data.get("training")
    else:  # a flat `data` describes the evaluation data
        eval_data, train_data = (data or None), None
    if train_data is None:
        train_data = training.get("data", training.get("dataset"))
    procedure = {k: v for k, v in training.items() if k not in ("data", "dataset", "privacy", "energy")}
    ci_method = next((r.get("ci_method") for r in table.rows if r.get("ci_method")), None)
    has_ci = any(r.get("ci_low") is not None for r in table.rows)

    return report._json_safe(
        {
            "format": FORMAT,
            "generated": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "model_details": details,
            "intended_use": use,
            "factors": {**_factors(table), "notes": _section_text(data.get("factors"))},
            "metrics": {
                "reported": [
                    {
                        "name": m,
                        "label": report.metric_label(m),
                        "description": report.metric_description(m),
                        "threshold_dependent": table.thresholded[m],
                    }
                    for m in key_metrics
                ],
                "decision_thresholds": table.thresholds,
                "decision_threshold": table.default_threshold,
                "confidence_intervals": (ci_method or f"{report.CI_LEVEL} intervals") if has_ci else None,
                "gap": "slice value - overall value",
                "gate": {
                    "max_gap": table.gate["max_gap"],
                    "threshold": table.gate["threshold"],
                    "min_slice_size": table.gate["min_slice_size"],
                }
                if table.gate["configured"]
                else None,
                "min_slice_size": table.min_slice_size,
            },
            "evaluation_data": {
                "description": _section_text(eval_data),
                "examples": overall,
                "slices": len(table.slices),
            },
            "training_data": {"description": _section_text(train_data)},
            "training_procedure": _section_text(procedure),
            "quantitative_analyses": quantitative,
            "ethical_considerations": {
                "notes": _section_text(model_info.get("ethical_considerations")),
                "privacy": _measured(privacy if privacy is not None else training.get("privacy")),
                "energy": _measured(energy if energy is not None else training.get("energy")),
                "bias_probes": _measured(bias_probes),
                "memorization": _measured(memorization),
                "explanations": _measured(explanations),
            },
            "caveats_and_recommendations": _caveats(table, quantitative, model_info.get("caveats")),
            "fairness_report": report_path,
            "additional_sections": [{"heading": h, "markdown": body} for h, body in sections],
        }
    )


# -------------------------------------------------------------------------------------------------- rendering


def _measured_lines(value: Any, what: str) -> list[str]:
    if isinstance(value, Mapping) and value.get("status") == NOT_MEASURED and len(value) == 1:
        return [f"{what}: {NOT_MEASURED}."]
    return _render_block(value)


def render_markdown(card: Mapping[str, Any]) -> str:
    """The Markdown text of a card built by build_model_card."""
    name = card["model_details"].get("name") or "Model"
    version = card["model_details"].get("version")
    title = md_escape(name) + (f" (version {md_escape(version)})" if version not in (None, "") else "")
    out = [f"# Model card: {title}", "", f"_Generated {card['generated']} by tfpretrain._", ""]

    out += ["## Model details", ""]
    out += _kv_lines(card["model_details"]) or [f"Model details: {NOT_SPECIFIED}."]
    out.append("")

    out += ["## Intended use", ""]
    out += _kv_lines(card["intended_use"]) or [f"Intended use: {NOT_SPECIFIED} by the model developers."]
    out.append("")

    out += ["## Factors", ""]
    factors = card["factors"]
    if factors["groups"]:
        out.append("Evaluated groups (slices of the evaluation data):")
        out.append("")
        for column, values in factors["groups"].items():
            out.append(f"- **{md_escape(column)}:** {', '.join(md_escape(v) for v in values)}")
        if factors["intersections"]:
            listed = "; ".join(" \u00d7 ".join(md_escape(c) for c in cols) for cols in factors["intersections"])
            out.append(f"- **intersections:** {listed}")
    else:
        out.append("No group slices were evaluated (overall results only).")
    if factors.get("notes"):
        out += ["", *_render_block(factors["notes"])]
    out.append("")

    out += ["## Metrics", ""]
    metrics = card["metrics"]
    for m in metrics["reported"]:
        when = " (at the decision threshold)" if m["threshold_dependent"] else ""
        out.append(f"- **{md_escape(m['label'])}**{when}: {md_escape(m['description'] or m['name'])}")
    out.append("")
    if metrics["decision_threshold"] is not None:
        thresholds = ", ".join(report.format_threshold(t) for t in metrics["decision_thresholds"])
        out.append(
            f"Decision threshold for the tables below: "
            f"{report.format_threshold(metrics['decision_threshold'])} (evaluated at: {thresholds})."
        )
    out.append("Gap to overall = slice value \u2212 overall value of the same metric and threshold.")
    ci = metrics["confidence_intervals"]
    out.append(f"Confidence intervals: {md_escape(ci) if ci else NOT_MEASURED + ' (point estimates only)'}.")
    gate = metrics["gate"]
    if gate:
        limits = ", ".join(
            f"{md_escape(report.metric_label(k))} \u2264 {report._fixed(v, 4)}" for k, v in gate["max_gap"].items()
        )
        out.append(
            f"Fairness gate: |gap to overall| limits {limits}"
            + ("" if gate["threshold"] is None else f" at threshold {report.format_threshold(gate['threshold'])}")
            + (f", slices with n \u2265 {gate['min_slice_size']}" if gate["min_slice_size"] else "")
            + "."
        )
    else:
        out.append("Fairness gate: none applied.")
    out.append("")

    out += ["## Evaluation data", ""]
    ev = card["evaluation_data"]
    out += _render_block(ev["description"]) or [f"Evaluation data description: {NOT_SPECIFIED}."]
    if ev["examples"] is not None:
        out += ["", f"Examples evaluated: {ev['examples']:,} (overall), in {ev['slices']} slices including overall."]
    out.append("")

    out += ["## Training data", ""]
    out += _render_block(card["training_data"]["description"]) or [f"Training data description: {NOT_SPECIFIED}."]
    if card["training_procedure"]:
        out += ["", "Training procedure:", "", *_render_block(card["training_procedure"])]
    out.append("")

    out += ["## Quantitative analyses", ""]
    quant = card["quantitative_analyses"]
    g = quant["gate"]
    if not g["applied"]:
        out.append("**Fairness gate: not applied.**")
    elif g["passed"]:
        checked = "" if g["checked"] is None else f" ({g['checked']} slice/metric gaps checked)"
        out.append(f"**Fairness gate: PASSED**{checked}.")
    else:
        out.append(f"**Fairness gate: FAILED** \u2014 {len(g['failures'])} slice/metric gap(s) over the limit:")
        out.append("")
        rows = []
        for f in g["failures"]:
            m = f["metric"]
            limit = g["max_gap"].get(m)
            metric = md_escape(report.metric_label(m)) + (
                "" if f["threshold"] is None else f" @ {report.format_threshold(f['threshold'])}"
            )
            rows.append(
                [
                    md_escape(f["slice"]),
                    metric,
                    report.format_value(f["value"], m, 4),
                    report.format_value(f["overall"], m, 4),
                    _signed_gap(f),
                    "n/a" if limit is None else report._fixed(limit, 4),
                    "?" if f["n"] is None else f"{f['n']:,}",
                ]
            )
        out += _md_table(["Slice", "Metric", "Value", "Overall", "Gap", "Limit", "n"], rows, "llrrrrr")
    if g["applied"] and g["skipped"]:
        reasons = list(dict.fromkeys((s["slice"], s["reason"]) for s in g["skipped"]))
        listed = "; ".join(f"{md_escape(name)}: {md_escape(reason)}" for name, reason in reasons[:5])
        more = "; ..." if len(reasons) > 5 else ""
        out += [
            "",
            f"{len(g['skipped'])} slice/metric check(s) were skipped (neither passed nor failed): {listed}{more}.",
        ]
    for t in quant["tables"]:
        m = t["metric"]
        at = "" if t["threshold"] is None else f" at threshold {report.format_threshold(t['threshold'])}"
        out += ["", f"### {md_escape(t['label'])}{at}", ""]
        rows = []
        for r in t["rows"]:
            ci = (
                ""
                if r["ci_low"] is None or r["ci_high"] is None
                else f"[{report.format_value(r['ci_low'], m, 4)}, {report.format_value(r['ci_high'], m, 4)}]"
            )
            gap = (
                "" if r["kind"] == "overall" or report.is_count_metric(m) else report.format_gap(r["gap_to_overall"], m)
            )
            rows.append(
                [
                    md_escape(r["slice"]) if r["kind"] != "overall" else f"**{md_escape(r['slice'])}**",
                    "" if r["n"] is None else f"{r['n']:,}",
                    report.format_value(r["value"], m, 4),
                    ci,
                    gap,
                    md_escape(r["status"]),
                ]
            )
        out += _md_table(["Slice", "n", "Value", f"{report.CI_LEVEL} CI", "Gap to overall", "Status"], rows, "lrrrrl")
    if card.get("fairness_report"):
        out += ["", f"All metrics, thresholds and charts: the fairness report `{md_escape(card['fairness_report'])}`."]
    out.append("")

    out += ["## Ethical considerations", ""]
    ethics = card["ethical_considerations"]
    out += _render_block(ethics["notes"]) or [f"Ethical considerations: {NOT_SPECIFIED} by the model developers."]
    out += ["", "### Privacy", "", *_measured_lines(ethics["privacy"], "Differential privacy")]
    out += ["", "### Environmental impact", "", *_measured_lines(ethics["energy"], "Energy use and emissions")]
    out += ["", "### Bias probes", "", *_measured_lines(ethics["bias_probes"], "Bias probes")]
    out += ["", "### Memorisation (canary exposure)", "",
            *_measured_lines(ethics.get("memorization"), "Canary exposure")]
    out += ["", "### Explanations (integrated gradients)", "",
            *_measured_lines(ethics.get("explanations"), "Explanations")]
    out.append("")

    out += ["## Caveats and recommendations", ""]
    out += [f"- {md_escape(c)}" for c in card["caveats_and_recommendations"]]
    out.append("")

    for section in card["additional_sections"]:
        out += [f"## {md_escape(section['heading'])}", "", section["markdown"].rstrip(), ""]
    return "\n".join(out).rstrip() + "\n"


def _paths(path: str | os.PathLike) -> tuple[str, str]:
    path = Path(path)
    if path.is_dir() or not path.suffix:
        return os.fspath(path / "model_card.md"), os.fspath(path / "model_card.json")
    return os.fspath(path), os.fspath(path.with_suffix(".json"))


def write_model_card(
    path: str | os.PathLike,
    *,
    model_info: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None,
    evaluation_rows: Iterable[Mapping[str, Any]],
    gate: Any,
    sections: Sequence[tuple[str, str]] | None = None,
    privacy: Mapping[str, Any] | None = None,
    energy: Mapping[str, Any] | None = None,
    bias_probes: Mapping[str, Any] | Sequence[Any] | None = None,
    memorization: Mapping[str, Any] | None = None,
    explanations: Mapping[str, Any] | None = None,
    metrics: Sequence[str] | None = None,
    min_slice_size: int | None = None,
    report_path: str | None = None,
) -> dict[str, str]:
    """Write the Markdown card to `path` (a directory: DIR/model_card.md) and the JSON beside it (same name,
    .json: model_card.json). Returns {"markdown": ..., "json": ...}.

    model_info: name, version, date, architecture, parameters, license, citation, contact, ... (-> Model details);
      its intended_use / primary_uses / primary_users / out_of_scope_uses -> Intended use, ethical_considerations
      and caveats -> those sections.
    training: the training procedure (steps, optimizer, hardware, ...); training["data"] describes the training data
      when `data` has no "training" entry; training["privacy"] / ["energy"] are used when the arguments are None.
    data: {"evaluation": ..., "training": ..., "factors": ...} (each a string, list or mapping); a mapping without
      "evaluation"/"training" describes the evaluation data.
    evaluation_rows: the fairness metrics table. gate: FairnessGate / GateResult / dict / None (report.gate_summary).
    privacy (epsilon, delta, ...), energy (kwh, co2_kg, ...), bias_probes, memorization (canary exposure),
      explanations (integrated-gradients summary): rendered when given, else "not measured".
    metrics: the metrics of the quantitative tables (default: the gated ones, then FPR, FNR, AUC, accuracy).
    sections: extra (heading, markdown) pairs, appended verbatim (the markdown must be trusted).
    """
    card = build_model_card(
        model_info=model_info,
        training=training,
        data=data,
        evaluation_rows=evaluation_rows,
        gate=gate,
        sections=sections,
        privacy=privacy,
        energy=energy,
        bias_probes=bias_probes,
        memorization=memorization,
        explanations=explanations,
        metrics=metrics,
        min_slice_size=min_slice_size,
        report_path=report_path,
    )
    markdown = render_markdown(card)
    md_path, json_path = _paths(path)
    write_text(json_path, json.dumps(card, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    write_text(md_path, markdown)
    return {"markdown": md_path, "json": json_path}
