"""The card dict (model_card.json): what goes where, numbers straight from the rows, caveats derived from the data,
and Sections filling the card's fields."""

import pytest

from tests.support.metric_rows import LIMITS, XSS, make_rows
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.reporting import Section
from tfpretrain.reporting.model_card.build import FORMAT, build_model_card

INFO = {"name": "toxicity-bert", "license": "Apache-2.0", "intended_use": "Ranking comments for human review",
        "out_of_scope_uses": "Automated removal without review", "caveats": "Not for minors"}


def card(**overrides):
    kwargs = dict(model_info=INFO, training={"steps": 12000, "data": "civil_comments train"},
                  data={"evaluation": "civil_comments test"}, evaluation_rows=make_rows(),
                  gate=FairnessGate(LIMITS, threshold=0.5, min_slice_size=100))
    return build_model_card(**{**kwargs, **overrides})


def test_details_use_factors_and_data():
    got = card()
    assert got["format"] == FORMAT and got["model_details"] == {"name": "toxicity-bert", "license": "Apache-2.0"}
    assert got["intended_use"] == {"intended_use": "Ranking comments for human review",
                                   "out_of_scope_uses": "Automated removal without review"}
    assert got["factors"] == {"groups": {"gender": ["female", "male"], "religion": ["<script>alert(1)</script>"]},
                              "intersections": [["gender", "religion"]], "notes": None}
    assert got["training_data"] == {"description": "civil_comments train"}
    assert got["training_procedure"] == {"steps": 12000}
    assert got["evaluation_data"] == {"description": "civil_comments test", "examples": 2000, "slices": 5}
    assert got["metrics"]["gate"] == {"max_gap": LIMITS, "threshold": 0.5, "min_slice_size": 100}
    assert got["metrics"]["confidence_intervals"] == "95% intervals"


def test_interval_methods_are_named_per_metric():
    methods = {"auc": "hanley-mcneil score", "false_positive_rate": "wilson", "false_negative_rate": "wilson"}
    rows = [dict(r, ci_method=methods.get(r["metric"])) for r in make_rows()]
    assert card(evaluation_rows=rows)["metrics"]["confidence_intervals"] == (
        "hanley-mcneil score (AUC); wilson (False positive rate, False negative rate)")
    rows = [dict(r, ci_method="wilson" if r["ci_low"] is not None else None) for r in make_rows()]
    assert card(evaluation_rows=rows)["metrics"]["confidence_intervals"] == "wilson"


def test_quantitative_rows_are_the_evaluation_rows():
    quant = card()["quantitative_analyses"]
    assert quant["threshold"] == 0.5 and quant["gate"]["applied"] and quant["gate"]["passed"] is False
    assert [t["metric"] for t in quant["tables"]] == ["false_positive_rate", "false_negative_rate", "auc"]
    source = {r["slice"]: r for r in make_rows() if r["metric"] == "false_positive_rate" and r["threshold"] == 0.5}
    for row in quant["tables"][0]["rows"]:
        src = source[row["slice"]]
        assert (row["value"], row["ci_low"], row["ci_high"], row["n"]) == (src["value"], src["ci_low"],
                                                                           src["ci_high"], src["n"])
        assert row["gap_to_overall"] == (None if row["kind"] == "overall" else src["gap_to_overall"])
    assert [r["kind"] for r in quant["tables"][0]["rows"]] == ["overall", "unitary", "unitary", "unitary",
                                                               "intersectional"]


def test_caveats_are_derived_from_the_data():
    rows = [dict(r, ci_low=None, ci_high=None) for r in make_rows()]
    rows.append(dict(slice="age=90+", metric="example_count", threshold=None, value=None, ci_low=None, ci_high=None,
                     n=None, gap_to_overall=None, note="suppressed: fewer than 5 examples"))
    got = card(evaluation_rows=rows, model_info={**INFO, "caveats": ["Not for minors"]})
    caveats = got["caveats_and_recommendations"]
    assert any("fairness gate failed for 2" in c and "+0.1500" in c for c in caveats)
    assert any("fewer than 100 examples" in c and XSS in c for c in caveats)
    assert any("age=90+" in c and "suppressed" in c for c in caveats)
    assert any("No confidence intervals" in c for c in caveats)
    assert caveats[-1] == "Not for minors" and got["metrics"]["confidence_intervals"] is None


def test_sections_fill_card_fields_and_arguments_win():
    sections = [
        Section("Memorisation (gpt2)", html="<p>a</p>", card_field="memorization", card_entry={"gpt2 model a": 1}),
        Section("Memorisation (bert)", html="<p>b</p>", card_field="memorization", card_entry={"bert model b": 2}),
        Section("Energy", html="<p>c</p>", card_field="energy", card_entry=None),
        Section("Privacy", card_field="privacy", card_entry={"run": "no DP"}),
        ("Notes", "*markdown*"),
    ]
    ethics = card(sections=sections, privacy={"epsilon": 8.0})["ethical_considerations"]
    assert ethics["memorization"] == {"gpt2 model a": 1, "bert model b": 2}, "entries of one field merge"
    assert ethics["energy"] == {"status": "not measured"} and ethics["privacy"] == {"epsilon": 8.0}
    assert card(sections=sections)["additional_sections"] == [{"heading": "Notes", "markdown": "*markdown*"}]
    assert card(training={"privacy": {"epsilon": 1.0}})["ethical_considerations"]["privacy"] == {"epsilon": 1.0}


def test_bad_input_names_what_is_wrong():
    with pytest.raises(ValueError, match=r"metrics \['precision'\] are not in the evaluation rows"):
        card(metrics=["precision"])
    with pytest.raises(ValueError, match="no evaluation rows"):
        card(evaluation_rows=[])
    with pytest.raises(ValueError, match=r"sections\[0\] must be a Section or a \(heading, markdown\) pair"):
        card(sections=["text"])
    with pytest.raises(ValueError, match="unknown model card field 'ethics'"):
        Section("x", card_field="ethics")
