"""A model card (Mitchell et al. 2019, "Model Cards for Model Reporting") as one JSON-able dict: what
model_card.json holds, and what render.py turns into Markdown and HTML, so the three files always agree.

Sections, in the paper's order: Model details, Intended use, Factors, Metrics, Evaluation data, Training data,
Quantitative analyses (per-slice tables of the key metrics at the decision threshold, with confidence intervals and
gaps to overall, plus the fairness gate verdict), Ethical considerations (with privacy, environmental impact, bias
probes, memorisation and explanations), Caveats and recommendations; then any additional sections.

Nothing is invented: numbers come from the arguments only, and what was not given is "not measured"
(measurements) or "not specified" (descriptions, when rendered). Caveats derived from the data (small, suppressed or
undefined slices, missing confidence intervals, gate failures) are added automatically. Pure Python (no TF).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tfpretrain.reporting.formatting import CI_LEVEL, format_threshold
from tfpretrain.reporting.gate_view import failure_gap
from tfpretrain.reporting.metric_info import metric_description, metric_label
from tfpretrain.reporting.metrics_view import MetricsTable, metric_view
from tfpretrain.reporting.section import CARD_FIELDS, Section, as_sections
from tfpretrain.reporting.values import ReportInputError, json_safe

FORMAT = "tfpretrain.model_card/1"
NOT_MEASURED = "not measured"
DEFAULT_KEY_METRICS = ("false_positive_rate", "false_negative_rate", "auc", "binary_accuracy")

USE_KEYS = ("intended_use", "intended_uses", "primary_uses", "primary_users", "out_of_scope_uses")
_TEXT_KEYS = (*USE_KEYS, "ethical_considerations", "caveats")
_DETAIL_ORDER = ("name", "version", "date", "type", "architecture", "description", "parameters", "developers",
                 "owner", "license", "citation", "paper", "contact")


def _key_metrics(table: MetricsTable, metrics: Sequence[str] | None) -> list[str]:
    if metrics is not None:
        missing = [m for m in metrics if m not in table.thresholded]
        if missing:
            raise ReportInputError(f"metrics {missing} are not in the evaluation rows; available: {table.metrics}")
        return list(metrics)
    gated = [m for m in table.gate["max_gap"] if m in table.thresholded]
    return gated + [m for m in DEFAULT_KEY_METRICS if m in table.thresholded and m not in gated]


def _factors(table: MetricsTable) -> dict[str, Any]:
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


def _kind(bar: Mapping[str, Any]) -> str:
    return "overall" if bar["flag"] == "overall" else "intersectional" if "&" in bar["slice"] else "unitary"


def _quantitative(table: MetricsTable, metrics: Sequence[str]) -> dict[str, Any]:
    tables = []
    for metric in metrics:
        view = metric_view(table, metric, table.default_threshold if table.thresholded[metric] else None)
        rows = [
            {
                "slice": bar["slice"],
                "kind": _kind(bar),
                "n": bar["n"],
                "value": bar["value"],
                "ci_low": bar["ci_low"],
                "ci_high": bar["ci_high"],
                "gap_to_overall": None if bar["flag"] == "overall" else bar["gap"],
                "status": bar["status"],
            }
            for bar in view["bars"]
        ]
        tables.append({"metric": metric, "label": metric_label(metric), "threshold": view["threshold"],
                       "gate_limit": view["limit"], "rows": rows})
    gate = table.gate
    keys = ("status", "passed", "max_gap", "threshold", "min_slice_size", "checked", "failures", "skipped", "unchecked")
    return {
        "threshold": table.default_threshold,
        "gate": {"applied": gate["configured"], **{k: gate[k] for k in keys}},
        "tables": tables,
    }


def _caveats(table: MetricsTable, quantitative: Mapping[str, Any], given: Any) -> list[str]:
    out = []
    gate = table.gate
    if gate["status"] == "fail":
        listed = "; ".join(
            f"{f['slice']}: {metric_label(f['metric'])}"
            + ("" if f["threshold"] is None else f" @ {format_threshold(f['threshold'])}")
            + f" gap {failure_gap(f)}"
            for f in gate["failures"][:5]
        )
        out.append(
            f"The fairness gate failed for {len(gate['failures'])} slice/metric pair(s) ({listed}"
            f"{'; ...' if len(gate['failures']) > 5 else ''}). Investigate and mitigate before relying on "
            "the model for these groups."
        )
    if gate["unchecked"]:
        listed = "; ".join(f"{metric_label(u['metric'])}" + ("" if u["threshold"] is None else
                                                             f" @ {format_threshold(u['threshold'])}")
                           + f": {u['reason']}" for u in gate["unchecked"])
        out.append(f"The fairness gate could not check {len(gate['unchecked'])} gated metric(s) ({listed}): no "
                   "verdict exists for them; evaluate on more, or larger, slices.")
    small = table.small_slices()
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
    if not any(r["ci_low"] is not None for t in quantitative["tables"] for r in t["rows"]):
        out.append("No confidence intervals were computed: gaps between slices may be sampling noise.")
    out.append(
        "Only the groups listed under Factors were evaluated; groups that are not annotated in the "
        "evaluation data (and their intersections) were not, and may be treated differently."
    )
    given = section_text(given)
    if isinstance(given, list):
        out.extend(str(g) for g in given)
    elif given is not None:
        out.append(given if isinstance(given, str) else json.dumps(given))
    return out


def section_text(value: Any) -> Any:
    """Free text or a mapping/list, JSON-safe, or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return json_safe(value)


def _measured(value: Any) -> Any:
    value = section_text(value)
    return {"status": NOT_MEASURED} if value is None or value == {} else value


def _section_entries(sections: Sequence[Section]) -> dict[str, Any]:
    """{card field: entry} from the sections that fill one; mapping entries of one field merge, in order."""
    entries: dict[str, Any] = {}
    for section in sections:
        field, entry = section.card_field, section.card_entry
        if field is None:
            continue
        if isinstance(entries.get(field), Mapping) and isinstance(entry, Mapping):
            entries[field] = {**entries[field], **entry}
        else:
            entries[field] = entry
    return entries


def build_model_card(
    *,
    model_info: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None,
    evaluation_rows: Iterable[Mapping[str, Any]],
    gate: Any,
    sections: Sequence[Any] | None = None,
    privacy: Mapping[str, Any] | None = None,
    energy: Mapping[str, Any] | None = None,
    bias_probes: Mapping[str, Any] | Sequence[Any] | None = None,
    memorization: Mapping[str, Any] | None = None,
    explanations: Mapping[str, Any] | None = None,
    metrics: Sequence[str] | None = None,
    min_slice_size: int | None = None,
    report_path: str | None = None,
) -> dict[str, Any]:
    """The model card as a JSON-able dict; see render.write_model_card for the arguments. An explicit privacy /
    energy / bias_probes / memorization / explanations argument wins over a section's entry for that field."""
    model_info = dict(model_info or {})
    training = dict(training or {})
    data = dict(data or {})
    table = MetricsTable(evaluation_rows, gate=gate, min_slice_size=min_slice_size)
    if not table.rows:
        raise ReportInputError("no evaluation rows: a model card needs the evaluation results")
    key_metrics = _key_metrics(table, metrics)
    quantitative = _quantitative(table, key_metrics)
    sections = as_sections(sections, "markdown")
    given = {"privacy": privacy if privacy is not None else training.get("privacy"),
             "energy": energy if energy is not None else training.get("energy"),
             "bias_probes": bias_probes, "memorization": memorization, "explanations": explanations}
    entries = {**_section_entries(sections), **{k: v for k, v in given.items() if v is not None}}

    details = {k: model_info[k] for k in _DETAIL_ORDER if k in model_info}
    details.update({k: v for k, v in model_info.items() if k not in details and k not in _TEXT_KEYS})
    use = {k: model_info[k] for k in USE_KEYS if k in model_info}
    if "evaluation" in data or "training" in data:
        eval_data, train_data = data.get("evaluation"), data.get("training")
    else:  # a flat `data` describes the evaluation data
        eval_data, train_data = (data or None), None
    if train_data is None:
        train_data = training.get("data", training.get("dataset"))
    procedure = {k: v for k, v in training.items()
                 if k not in ("data", "dataset", "privacy", "energy", "data_stages")}
    methods: dict[str, list[str]] = {}  # interval method -> the metrics it was used for
    for r in table.rows:
        if r.get("ci_method") and r.get("ci_low") is not None:
            labels = methods.setdefault(r["ci_method"], [])
            labels += [] if metric_label(r["metric"]) in labels else [metric_label(r["metric"])]
    ci_method = next(iter(methods)) if len(methods) == 1 else "; ".join(f"{m} ({', '.join(ls)})"
                                                                          for m, ls in methods.items()) or None
    has_ci = any(r.get("ci_low") is not None for r in table.rows)
    gate_settings = {k: table.gate[k] for k in ("max_gap", "threshold", "min_slice_size")}

    return json_safe(
        {
            "format": FORMAT,
            "generated": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "model_details": details,
            "intended_use": use,
            "factors": {**_factors(table), "notes": section_text(data.get("factors"))},
            "metrics": {
                "reported": [
                    {"name": m, "label": metric_label(m), "description": metric_description(m),
                     "threshold_dependent": table.thresholded[m]}
                    for m in key_metrics
                ],
                "decision_thresholds": table.thresholds,
                "decision_threshold": table.default_threshold,
                "confidence_intervals": (ci_method or f"{CI_LEVEL} intervals") if has_ci else None,
                "gap": "slice value - overall value",
                "gate": gate_settings if table.gate["configured"] else None,
                "min_slice_size": table.min_slice_size,
            },
            "evaluation_data": {
                "description": section_text(eval_data),
                "examples": table.slice_info.get(table.overall_label, {}).get("n"),
                "slices": len(table.slices),
            },
            # data_stages: the pretraining corpus manifest's "stages" (documents read, removed per step, kept)
            "training_data": {"description": section_text(train_data),
                              **({"stages": training["data_stages"]} if training.get("data_stages") else {})},
            "training_procedure": section_text(procedure),
            "quantitative_analyses": quantitative,
            "ethical_considerations": {
                "notes": section_text(model_info.get("ethical_considerations")),
                **{field: _measured(entries.get(field)) for field in CARD_FIELDS},
            },
            "caveats_and_recommendations": _caveats(table, quantitative, model_info.get("caveats")),
            "fairness_report": report_path,
            "additional_sections": [{"heading": s.heading, "markdown": s.markdown} for s in sections
                                    if s.markdown is not None],
        }
    )
