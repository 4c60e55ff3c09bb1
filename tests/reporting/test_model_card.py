"""The model card: Mitchell et al. sections in order, per-slice numbers with CIs and gaps from the rows, "not
measured" for what was not given, and a JSON twin that parses and agrees with the Markdown."""

import json
import os
import re

import pytest

from tests.support.metric_rows import LIMITS, SLICES, XSS, make_rows
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.reporting.model_card import build as model_card

SECTIONS = [
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
]
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
    kwargs = dict(
        model_info=MODEL_INFO,
        training=TRAINING,
        data=DATA,
        evaluation_rows=make_rows(),
        gate=FairnessGate(LIMITS, threshold=0.5, min_slice_size=100),
    )
    kwargs.update(overrides)
    paths = model_card.write_model_card(tmp_path / "model_card.md", **kwargs)
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


def test_sections_in_mitchell_order(tmp_path):
    paths, markdown, _ = write(tmp_path, sections=[("Explanations", "Integrated gradients: *attr.html*")])
    assert paths == {"markdown": os.fspath(tmp_path / "model_card.md"), "json": os.fspath(tmp_path / "model_card.json")}
    headings = re.findall(r"^## (.+)$", markdown, re.M)
    assert headings == SECTIONS + ["Explanations"]
    assert markdown.startswith("# Model card: toxicity-bert (version 3)\n")
    assert "Integrated gradients: *attr.html*" in section(markdown, "Explanations"), "extra markdown verbatim"
    assert sorted(os.listdir(tmp_path)) == ["model_card.json", "model_card.md"], "no temp files left"


def test_quantitative_tables_carry_values_cis_and_gaps(tmp_path):
    _, markdown, _ = write(tmp_path)
    quant = section(markdown, "Quantitative analyses")
    assert "**Fairness gate: FAILED**" in quant
    fpr = table_rows(quant, "False positive rate at threshold 0.5")
    assert fpr[0] == ["**overall**", "2,000", "0.1000", "[0.0700, 0.1300]", "", "reference"]
    assert fpr[1] == ["gender=female", "900", "0.2500", "[0.2200, 0.2800]", "+0.1500", "exceeds gate limit (0.1000)"]
    assert fpr[2] == ["gender=male", "1,080", "0.0800", "[0.0500, 0.1100]", "-0.0200", ""]
    assert fpr[3][0] == r"religion=\<script\>alert(1)\</script\>" and fpr[3][-1] == r"small slice (n \< 100)"
    assert [r[0] for r in fpr][1:] == [model_card.md_escape(s) for s in SLICES if s != "overall"]
    fnr = table_rows(quant, "False negative rate at threshold 0.5")
    assert fnr[1][:5] == ["gender=female", "900", "0.3500", "[0.3200, 0.3800]", "+0.1500"]
    auc = table_rows(quant, "AUC")
    assert auc[1][:5] == ["gender=female", "900", "0.8500", "[0.8300, 0.8700]", "-0.0500"]
    failures = re.search(r"\| Slice \| Metric \| Value \| Overall \| Gap \| Limit \| n \|\n.*?\n((?:\|.*\n)+)", quant)
    assert "| gender=female | False positive rate @ 0.5 | 0.2500 | 0.1000 | +0.1500 | 0.1000 | 900 |" in failures[1]


def test_not_measured_when_absent_and_rendered_when_given(tmp_path):
    _, markdown, card = write(tmp_path)
    ethics = section(markdown, "Ethical considerations")
    assert "Differential privacy: not measured." in ethics
    assert "Energy use and emissions: not measured." in ethics
    assert "Bias probes: not measured." in ethics
    assert "Canary exposure: not measured." in ethics and "Explanations: not measured." in ethics
    for key in ("privacy", "energy", "bias_probes", "memorization", "explanations"):
        assert card["ethical_considerations"][key] == {"status": "not measured"}
    assert not re.search(r"\b(?:kWh|epsilon)\b", markdown), "no invented numbers"

    _, markdown, card = write(
        tmp_path,
        privacy={"epsilon": 3.0, "delta": 1e-5, "noise_multiplier": 1.1},
        energy={"kwh": 12.4, "co2_kg": 4.1},
        bias_probes={"winobias": {"pro_anti_gap": 0.08}, "crows_pairs": 0.57},
        memorization={"mean exposure (bits) by repetitions": {"1": 1.2, "32": 9.5}},
        explanations={"examples explained": 12},
    )
    ethics = section(markdown, "Ethical considerations")
    assert "- **Mean exposure (bits) by repetitions:** 1: 1.2; 32: 9.5" in ethics
    assert "- **Examples explained:** 12" in ethics
    assert "- **Epsilon (\u03b5):** 3" in ethics and "- **Delta (\u03b4):** 1e-05" in ethics
    assert "- **Energy (kWh):** 12.4" in ethics and "- **Emissions (kg CO\u2082eq):** 4.1" in ethics
    assert "- **Winobias:** pro_anti_gap: 0.08" in ethics and "- **Crows pairs:** 0.57" in ethics
    assert "not measured" not in ethics
    assert card["ethical_considerations"]["privacy"] == {"epsilon": 3.0, "delta": 1e-5, "noise_multiplier": 1.1}
    assert card["ethical_considerations"]["energy"] == {"kwh": 12.4, "co2_kg": 4.1}


def test_privacy_and_energy_from_training_dict(tmp_path):
    _, markdown, card = write(tmp_path, training={**TRAINING, "privacy": {"epsilon": 8.0}, "energy": {"kwh": 2.0}})
    assert card["ethical_considerations"]["privacy"] == {"epsilon": 8.0}
    assert card["ethical_considerations"]["energy"] == {"kwh": 2.0}
    assert "privacy" not in card["training_procedure"] and card["training_procedure"]["steps"] == 12000


def test_json_parses_and_matches_markdown(tmp_path):
    _, markdown, card = write(tmp_path)
    assert card["format"] == model_card.FORMAT
    assert card["model_details"]["name"] == "toxicity-bert" and "intended_use" not in card["model_details"]
    assert card["intended_use"]["out_of_scope_uses"] == "Automated removal without review"
    assert card["factors"]["groups"] == {"gender": ["female", "male"], "religion": ["<script>alert(1)</script>"]}
    assert card["factors"]["intersections"] == [["gender", "religion"]]
    quant = card["quantitative_analyses"]
    assert quant["threshold"] == 0.5 and quant["gate"]["passed"] is False
    assert [t["metric"] for t in quant["tables"]] == ["false_positive_rate", "false_negative_rate", "auc"]
    rows = {r["slice"]: r for r in make_rows() if r["metric"] == "false_positive_rate" and r["threshold"] == 0.5}
    for table in quant["tables"][:1]:
        for r in table["rows"]:
            src = rows[r["slice"]]
            assert (r["value"], r["ci_low"], r["ci_high"], r["n"]) == (
                src["value"],
                src["ci_low"],
                src["ci_high"],
                src["n"],
            )
            if r["kind"] != "overall":
                assert r["gap_to_overall"] == src["gap_to_overall"]
    # every number of the Markdown tables is the JSON's, formatted
    md = section(markdown, "Quantitative analyses")
    for table in quant["tables"]:
        heading = table["label"] + ("" if table["threshold"] is None else f" at threshold {table['threshold']:g}")
        for md_row, row in zip(table_rows(md, heading), table["rows"], strict=True):
            assert md_row[2] == f"{row['value']:.4f}"
            assert md_row[3] == f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
    assert card["caveats_and_recommendations"] == [
        line[2:].replace("\\", "") for line in section(markdown, "Caveats and recommendations").strip().splitlines()
    ]


def test_caveats_are_derived_from_the_data(tmp_path):
    rows = [dict(r, ci_low=None, ci_high=None) for r in make_rows()]
    rows.append(
        dict(
            slice="age=90+",
            metric="example_count",
            threshold=None,
            value=None,
            ci_low=None,
            ci_high=None,
            n=None,
            gap_to_overall=None,
            note="suppressed: fewer than 5 examples",
        )
    )
    _, markdown, card = write(tmp_path, evaluation_rows=rows, model_info={**MODEL_INFO, "caveats": ["Not for minors"]})
    caveats = card["caveats_and_recommendations"]
    assert any("fairness gate failed for 2" in c and "+0.1500" in c for c in caveats)
    assert any("fewer than 100 examples" in c and XSS in c for c in caveats)
    assert any("age=90+" in c and "suppressed" in c for c in caveats)
    assert any("No confidence intervals" in c for c in caveats)
    assert caveats[-1] == "Not for minors"
    assert "Confidence intervals: not measured (point estimates only)." in section(markdown, "Metrics")


def test_passing_gate_no_gate_and_unspecified_text(tmp_path):
    _, markdown, card = write(
        tmp_path, gate=FairnessGate({"auc": 0.2}), model_info={"name": "m"}, training=None, data=None
    )
    assert "**Fairness gate: PASSED**" in markdown and card["quantitative_analyses"]["gate"]["passed"] is True
    assert [t["metric"] for t in card["quantitative_analyses"]["tables"]][0] == "auc", "gated metric first"
    assert "Intended use: not specified by the model developers." in markdown
    assert "Training data description: not specified." in markdown
    _, markdown, card = write(tmp_path, gate=None)
    assert "**Fairness gate: not applied.**" in markdown and card["metrics"]["gate"] is None


def test_directory_path_and_errors(tmp_path):
    paths = model_card.write_model_card(
        tmp_path, model_info={}, training={}, data={}, evaluation_rows=make_rows(), gate=None
    )
    assert paths == {"markdown": os.fspath(tmp_path / "model_card.md"), "json": os.fspath(tmp_path / "model_card.json")}
    with pytest.raises(ValueError, match="not in the evaluation rows"):
        model_card.build_model_card(
            model_info={}, training={}, data={}, evaluation_rows=make_rows(), gate=None, metrics=["precision"]
        )
    with pytest.raises(ValueError, match="no evaluation rows"):
        model_card.build_model_card(model_info={}, training={}, data={}, evaluation_rows=[], gate=None)


def test_markdown_escapes_data_text():
    assert model_card.md_escape("a|b <x> *y* [z](u) #1") == r"a\|b \<x\> \*y\* \[z\](u) \#1"
    assert model_card.md_escape("civil_comments") == "civil_comments"
    assert model_card.md_escape("line\nbreak") == "line break"
