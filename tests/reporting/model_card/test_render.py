"""The model card as files: Mitchell et al. sections in order, per-slice numbers with CIs and gaps from the rows,
"not measured" for what was not given, Markdown-escaped data text, and JSON and HTML twins that agree with it."""

import json
import os
import re

from tests.support.metric_rows import LIMITS, SLICES, make_rows
from tfpretrain import reporting
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.reporting.markdown import md_escape
from tfpretrain.reporting.model_card import build, render

SECTIONS = ["Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data",
            "Quantitative analyses", "Ethical considerations", "Caveats and recommendations"]
MODEL_INFO = {
    "name": "toxicity-bert",
    "version": "3",
    "architecture": "BERT-base, 110M parameters",
    "license": "Apache-2.0",
    "intended_use": "Ranking comments for human review",
    "out_of_scope_uses": "Automated removal without review",
}
TRAINING = {"steps": 12000, "optimizer": "AdamW", "data": {"name": "civil_comments", "split": "train"}}
DATA = {"evaluation": {"name": "civil_comments", "split": "test"}}


def write(tmp_path, **overrides):
    kwargs = dict(model_info=MODEL_INFO, training=TRAINING, data=DATA, evaluation_rows=make_rows(),
                  gate=FairnessGate(LIMITS, threshold=0.5, min_slice_size=100))
    kwargs.update(overrides)
    paths = reporting.write_model_card(tmp_path / "model_card.md", **kwargs)
    with open(paths["markdown"], encoding="utf-8") as f:
        markdown = f.read()
    with open(paths["json"], encoding="utf-8") as f:
        card = json.load(f)
    return paths, markdown, card


def section(markdown, heading):
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert match, f"no section {heading!r}"
    return match.group(1)


def table_rows(text, heading):
    block = re.search(rf"^### {re.escape(heading)}\n\n((?:\|.*\n)+)", text, re.M).group(1)
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()[2:]]


def test_sections_in_mitchell_order_and_three_files(tmp_path):
    paths, markdown, _ = write(tmp_path, sections=[("Explanations", "Integrated gradients: *attr.html*")])
    assert paths == {name: os.fspath(tmp_path / f"model_card.{ext}")
                     for name, ext in (("markdown", "md"), ("json", "json"), ("html", "html"))}
    assert re.findall(r"^## (.+)$", markdown, re.M) == SECTIONS + ["Explanations"]
    assert markdown.startswith("# Model card: toxicity-bert (version 3)\n\n_Generated ")
    assert "Integrated gradients: *attr.html*" in section(markdown, "Explanations"), "extra markdown verbatim"
    assert sorted(os.listdir(tmp_path)) == ["model_card.html", "model_card.json", "model_card.md"], "no temp files"


def test_quantitative_tables_carry_values_cis_and_gaps(tmp_path):
    _, markdown, _ = write(tmp_path)
    quant = section(markdown, "Quantitative analyses")
    assert "**Fairness gate: FAILED** \u2014 2 slice/metric gap(s) over the limit:" in quant
    fpr = table_rows(quant, "False positive rate at threshold 0.5")
    assert fpr[0] == ["**overall**", "2,000", "0.1000", "[0.0700, 0.1300]", "", "reference"]
    assert fpr[1] == ["gender=female", "900", "0.2500", "[0.2200, 0.2800]", "+0.1500", "exceeds gate limit (0.1000)"]
    assert fpr[2] == ["gender=male", "1,080", "0.0800", "[0.0500, 0.1100]", "-0.0200", ""]
    assert fpr[3][0] == r"religion=\<script\>alert(1)\</script\>" and fpr[3][-1] == r"small slice (n \< 100)"
    assert [r[0] for r in fpr][1:] == [md_escape(s) for s in SLICES if s != "overall"]
    fnr = table_rows(quant, "False negative rate at threshold 0.5")
    assert fnr[1][:5] == ["gender=female", "900", "0.3500", "[0.3200, 0.3800]", "+0.1500"]
    auc = table_rows(quant, "AUC")
    assert auc[1][:5] == ["gender=female", "900", "0.8500", "[0.8300, 0.8700]", "-0.0500"]
    assert "| gender=female | False positive rate @ 0.5 | 0.2500 | 0.1000 | +0.1500 | 0.1000 | 900 |" in quant
    head = "| Slice | Metric | Value | Overall | Gap | Limit | n |\n| :--- | :--- | ---: | ---: | ---: | ---: | ---: |"
    assert head in quant
    assert (r"2 slice/metric check(s) were skipped (neither passed nor failed): religion=\<script\>alert(1)\</script\>:"
            r" n=20 \< min_slice_size=100.") in quant
    metrics = section(markdown, "Metrics")
    assert "Decision threshold for the tables below: 0.5 (evaluated at: 0.5, 0.75)." in metrics
    assert ("Fairness gate: |gap to overall| limits False positive rate \u2264 0.1000, False negative rate \u2264 "
            "0.1000 at threshold 0.5, slices with n \u2265 100.") in metrics


def test_not_measured_when_absent_and_rendered_when_given(tmp_path):
    _, markdown, card = write(tmp_path)
    ethics = section(markdown, "Ethical considerations")
    for text in ("Differential privacy", "Energy use and emissions", "Bias probes", "Canary exposure", "Explanations"):
        assert f"{text}: not measured." in ethics
    for key in ("privacy", "energy", "bias_probes", "memorization", "explanations"):
        assert card["ethical_considerations"][key] == {"status": "not measured"}
    assert not re.search(r"\b(?:kWh|epsilon)\b", markdown), "no invented numbers"

    _, markdown, card = write(
        tmp_path,
        privacy={"epsilon": 3.0, "delta": 1e-5, "noise_multiplier": 1.1},
        energy={"kwh": 12.4, "co2_kg": 4.1},
        bias_probes={"winobias": {"pro_anti_gap": 0.08}, "crows_pairs": 0.57},
        memorization={"mean exposure (bits) by repetitions": {"1": 1.2, "32": 9.5}},
        explanations=["first", 12000],
    )
    ethics = section(markdown, "Ethical considerations")
    assert "- **Mean exposure (bits) by repetitions:** 1: 1.2; 32: 9.5" in ethics
    assert "### Explanations (integrated gradients)\n\n- first\n- 12,000\n" in ethics
    assert "- **Epsilon (\u03b5):** 3" in ethics and "- **Delta (\u03b4):** 1e-05" in ethics
    assert "- **Energy (kWh):** 12.4" in ethics and "- **Emissions (kg CO\u2082eq):** 4.1" in ethics
    assert "- **Winobias:** pro_anti_gap: 0.08" in ethics and "- **Crows pairs:** 0.57" in ethics
    assert "not measured" not in ethics


def test_json_numbers_are_the_markdown_numbers(tmp_path):
    _, markdown, card = write(tmp_path)
    md = section(markdown, "Quantitative analyses")
    for table in card["quantitative_analyses"]["tables"]:
        heading = table["label"] + ("" if table["threshold"] is None else f" at threshold {table['threshold']:g}")
        for md_row, row in zip(table_rows(md, heading), table["rows"], strict=True):
            assert md_row[2] == f"{row['value']:.4f}"
            assert md_row[3] == f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
    assert card["caveats_and_recommendations"] == [
        line[2:].replace("\\", "") for line in section(markdown, "Caveats and recommendations").strip().splitlines()
    ]


def test_passing_gate_no_gate_and_unspecified_text(tmp_path):
    _, markdown, card = write(tmp_path, gate=FairnessGate({"auc": 0.2}), model_info={"name": "m"}, training=None,
                              data=None)
    assert "**Fairness gate: PASSED** (" in markdown and card["quantitative_analyses"]["gate"]["passed"] is True
    assert "Intended use: not specified by the model developers." in markdown
    assert "Training data description: not specified." in markdown
    _, markdown, card = write(tmp_path, gate=None, model_info={})
    assert markdown.startswith("# Model card: Model\n")
    assert "**Fairness gate: not applied.**" in markdown and "Fairness gate: none applied." in markdown


def test_a_gate_that_checked_nothing_is_no_pass(tmp_path):
    _, markdown, card = write(tmp_path, gate=FairnessGate(LIMITS, threshold=0.5, min_slice_size=5000))
    quant = section(markdown, "Quantitative analyses")
    assert "**Fairness gate: NOT CHECKED** \u2014 2 gated metric(s) had no gap to check, so there is no verdict." \
        in quant
    assert ("Not checked: False positive rate @ 0.5: all 4 slices skipped (4 below min_slice_size=5000); False "
            "negative rate @ 0.5: all 4 slices skipped (4 below min_slice_size=5000).") in quant
    gate = card["quantitative_analyses"]["gate"]
    assert gate["status"] == "unchecked" and gate["passed"] is False and len(gate["unchecked"]) == 2
    assert any(c.startswith("The fairness gate could not check 2 gated metric(s) (False positive rate @ 0.5: all 4")
               for c in card["caveats_and_recommendations"])


def test_html_twin_is_self_contained_and_escaped(tmp_path):
    paths, markdown, _ = write(tmp_path, sections=[("Extra", "<script>alert(1)</script> *ok*")])
    text = open(paths["html"], encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>") and "<title>Model card: toxicity-bert</title>" in text
    assert "<h1>Model card: toxicity-bert (version 3)</h1>" in text and "<table>" in text
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text, "raw HTML never passes"
    assert "<em>ok</em>" in text and "default-src 'none'" in text
    assert not re.search(r"https?://|\b(?:src|href)\s*=", text)
    assert render.render_html(build.build_model_card(model_info=MODEL_INFO, training=None, data=None,
                                                     evaluation_rows=make_rows(), gate=None)).count("<h2>") == 9


def test_directory_path(tmp_path):
    paths = reporting.write_model_card(tmp_path, model_info={}, training={}, data={}, evaluation_rows=make_rows(),
                                       gate=None)
    assert paths["markdown"] == os.fspath(tmp_path / "model_card.md")
    assert paths["json"] == os.fspath(tmp_path / "model_card.json")


def test_training_data_tabulates_the_corpus_stages(tmp_path):
    stages = {"read": 1200, "too_short": 30, "filters": {"language": 100, "gopher": 50}, "filter_rules": {},
              "c4_lines_removed": {}, "pii": {"email": 4, "phone": 2}, "cleaned": 1020, "exact_duplicates": 20,
              "near_duplicates_removed": 7, "near_dedup": {"threshold": 0.8, "num_perm": 256}, "kept": 993}
    _, markdown, card = write(tmp_path, training={**TRAINING, "data_stages": stages})
    text = section(markdown, "Training data")
    rows = dict(re.findall(r"^\| (.+?) \| ([\d,]+) \|$", text, re.M))
    assert rows == {"read": "1,200", "removed: too short": "30", "removed: language filter": "100",
                    "removed: gopher filter": "50", "removed: exact duplicates": "20",
                    "removed: near-duplicates (MinHash Jaccard ≥ 0.8)": "7", "kept": "993"}
    assert "Personal data scrubbed (spans per type): email 4, phone 2." in text
    assert card["training_data"]["stages"] == stages and "data_stages" not in json.dumps(card["training_procedure"])
    _, plain, _ = write(tmp_path / "plain")
    assert "| read |" not in section(plain, "Training data")
