"""The model card as files: Markdown (templates/model_card.md.j2), HTML (that Markdown rendered by markdown-it
inside templates/model_card.html.j2: a self-contained page, no external resources) and JSON (the card dict), all
from one dict (build.build_model_card), written atomically.

    from tfpretrain import reporting
    paths = reporting.write_model_card(
        "runs/eval/model_card.md",
        model_info={"name": "toxicity-bert", "version": "3", "architecture": "BERT-base", "license": "Apache-2.0",
                    "intended_use": "Ranking comments for human review", "out_of_scope_uses": "Automated removal"},
        training={"steps": 12000, "optimizer": "AdamW", "hardware": "TPU v3-8"},
        data={"training": {"name": "civil_comments", "split": "train"},
              "evaluation": {"name": "civil_comments", "split": "test", "groups": "identity annotations >= 0.5"}},
        evaluation_rows=rows,                      # the fairness metrics table
        gate=gate,                                 # FairnessGate / GateResult / dict, or None
        sections=[probe_section(summaries)],       # tfpretrain.reporting.sections: fill their card fields
        privacy={"epsilon": 3.0, "delta": 1e-5},   # optional; "not measured" when absent
    )   # -> {"markdown": ".../model_card.md", "json": ".../model_card.json", "html": ".../model_card.html"}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from tfpretrain.atomic import write_text
from tfpretrain.reporting.formatting import CI_LEVEL
from tfpretrain.reporting.model_card.build import build_model_card
from tfpretrain.reporting.templating import render_html as render_html_template
from tfpretrain.reporting.templating import render_markdown as render_markdown_template


def render_markdown(card: Mapping[str, Any]) -> str:
    """The Markdown text of a card built by build_model_card."""
    skipped = card["quantitative_analyses"]["gate"]["skipped"] or []
    reasons = list(dict.fromkeys((s["slice"], s["reason"]) for s in skipped))
    text = render_markdown_template("model_card/templates/model_card.md.j2", card=card, skipped_reasons=reasons,
                                    ci_level=CI_LEVEL)
    return text.rstrip() + "\n"


def render_html(card: Mapping[str, Any], markdown: str | None = None) -> str:
    """The card as a self-contained HTML page. Raw HTML in the Markdown is not passed through (data text is
    escaped, and so is any in a caller's extra sections)."""
    markdown = render_markdown(card) if markdown is None else markdown
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    name = card["model_details"].get("name") or "Model"
    return render_html_template("model_card/templates/model_card.html.j2", name=name, body=Markup(body))


def _paths(path: str | os.PathLike) -> tuple[str, str, str]:
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / "model_card.md"
    return os.fspath(path), os.fspath(path.with_suffix(".json")), os.fspath(path.with_suffix(".html"))


def write_model_card(path: str | os.PathLike, **arguments: Any) -> dict[str, str]:
    """Write the Markdown card to `path` (a directory: DIR/model_card.md), and the JSON and HTML beside it (same
    name, .json / .html). Returns {"markdown": ..., "json": ..., "html": ...}. The keyword arguments are
    build.build_model_card's:

    model_info: name, version, date, architecture, parameters, license, citation, contact, ... (-> Model details);
      its intended_use / primary_uses / primary_users / out_of_scope_uses -> Intended use, ethical_considerations
      and caveats -> those sections.
    training: the training procedure (steps, optimizer, hardware, ...); training["data"] describes the training data
      when `data` has no "training" entry; training["privacy"] / ["energy"] are used when the arguments are None.
    data: {"evaluation": ..., "training": ..., "factors": ...} (each a string, list or mapping); a mapping without
      "evaluation"/"training" describes the evaluation data.
    evaluation_rows: the fairness metrics table. gate: FairnessGate / GateResult / dict / None.
    sections: `Section`s: each fills its card field (privacy, energy, bias_probes, memorization, explanations) or
      adds a Markdown section of its own; (heading, markdown) pairs are appended verbatim (trusted Markdown).
    privacy (epsilon, delta, ...), energy (kwh, co2_kg, ...), bias_probes, memorization (canary exposure),
      explanations (integrated-gradients summary): rendered when given (over a section's entry), else "not measured".
    metrics: the metrics of the quantitative tables (default: the gated ones, then FPR, FNR, AUC, accuracy).
    min_slice_size: slices below it are marked unreliable (default: the gate's). report_path: named in the card.
    """
    card = build_model_card(**arguments)
    markdown = render_markdown(card)
    md_path, json_path, html_path = _paths(path)
    write_text(json_path, json.dumps(card, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    write_text(md_path, markdown)
    write_text(html_path, render_html(card, markdown))
    return {"markdown": md_path, "json": json_path, "html": html_path}
