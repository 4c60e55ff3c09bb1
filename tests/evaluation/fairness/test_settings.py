"""Evaluation settings files: the shipped configs load, and every mistake is one ConfigError naming file and key."""

import dataclasses

import pytest

from tests.support import ROOT
from tfpretrain.config import ConfigError
from tfpretrain.errors import UserError
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.evaluation.fairness.settings import EvalSettings, load_settings

EVAL_CONFIGS = ROOT / "configs" / "eval"


def test_default_eval_config_loads():
    settings = load_settings(EVAL_CONFIGS / "default.yaml")
    assert settings.confidence == "jackknife" and settings.thresholds == (0.25, 0.5, 0.75)
    assert settings.auc_num_thresholds == 1000
    assert load_settings({"auc_num_thresholds": None}).auc_num_thresholds is None
    assert settings.gate == FairnessGate({"false_positive_rate": 0.1, "false_negative_rate": 0.1}, 0.5, 100)
    assert settings.slices == ("gender", "religion", "sexual_orientation", "race")
    assert settings.intersections == (("gender", "religion"),)
    assert {g.column for g in settings.groups} >= set(settings.slices)
    assert all(g.kind == "derived" and g.terms for g in settings.groups)
    assert settings.min_slice_size == 30 and settings.label_threshold is None
    kwargs = settings.saved_model_kwargs()
    assert kwargs["label_key"] == "label" and kwargs["signature"] == "serving_default"
    assert settings.predictions_kwargs()["label_column"] == "label"
    assert settings.predictions_kwargs()["score_column"] == "score"


@pytest.mark.parametrize("name", ["default.yaml", "demo.yaml", "civil_comments.yaml"])
def test_shipped_configs_load(name):
    settings = load_settings(EVAL_CONFIGS / name)
    assert settings.gate is not None and settings.slices


def test_values_are_normalised_and_term_lists_are_relative_to_the_file(tmp_path):
    (tmp_path / "terms.yaml").write_text("colour: {red: [crimson], blue: [navy]}\n")
    path = tmp_path / "eval.yaml"
    path.write_text(
        "thresholds: [0.75, 0.25]\nterm_lists: terms.yaml\nslices: [colour]\nintersections:\n"
        "groups:\n  - {column: colour, kind: derived, source: text}\n  - flag\n"
    )
    settings = load_settings(path)
    assert settings.thresholds == (0.25, 0.75) and settings.intersections == ()
    assert settings.groups[0].terms == {"red": ["crimson"], "blue": ["navy"]}
    assert settings.groups[1].kind == "categorical" and settings.gate is None


@pytest.mark.parametrize(
    "text, match",
    [
        ("slicez: [a]", "bad.yaml: slicez: unknown key; did you mean 'slices'"),
        ("thresholds: 0.5", "bad.yaml: thresholds: expected a list"),
        ("thresholds: [0.5, 1.5]", r"bad.yaml: thresholds: thresholds must be numbers in \[0, 1\]"),
        ("thresholds: []", "bad.yaml: thresholds: .*must not be empty"),
        ("confidence: wald", r"bad.yaml: confidence: expected one of \['jackknife', 'bootstrap'\]"),
        ("min_slice_size: 0", "bad.yaml: min_slice_size: min_slice_size must be an integer >= 1"),
        ("min_slice_size: 2.5", "bad.yaml: min_slice_size: expected int"),
        ("label_threshold: .inf", "bad.yaml: label_threshold: .*finite"),
        ("auc_num_thresholds: 1", "bad.yaml: auc_num_thresholds: .*>= 2"),
        ("label_key: ''", "bad.yaml: label_key: label_key must be a non-empty string"),
        ("slices: gender", "bad.yaml: slices: expected a list"),
        ("slices: [a, a]", "bad.yaml: slices: .*listed twice"),
        ("intersections: [[a]]", "bad.yaml: intersections: .*at least two columns"),
        ("slices: [a]\nintersections: [[b, a], [a, b]]", "bad.yaml: intersections: .*listed twice"),
        ("groups: [{column: a}, {column: a}]", "bad.yaml: groups: two groups define the slice column 'a'"),
        ("groups: [{column: a, kind: colour}]", "bad.yaml: groups.a: .*kind 'colour'"),
        ("groups: [{column: c, kind: derived, source: t}]", "bad.yaml: groups.c: no term list 'c'"),
        ("gate: {max_gap: {false_positive_rate: -0.1}}", "bad.yaml: gate.max_gap.false_positive_rate: must be >= 0"),
        ("gate: {threshold: 0.5}", "bad.yaml: gate.max_gap: required"),
        ("- a list", "bad.yaml: the top level must be a mapping"),
    ],
)
def test_every_mistake_names_the_file_and_the_key(tmp_path, text, match):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\n")
    with pytest.raises(ConfigError, match=match) as error:
        load_settings(bad)
    assert isinstance(error.value, UserError) and "\n" not in str(error.value)


def test_missing_file_and_replaced_values_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        load_settings(tmp_path / "nope.yaml")
    settings = load_settings({"slices": ["gender"]})
    with pytest.raises(ConfigError, match="<config>: thresholds: .*distinct"):  # a CLI override, say
        dataclasses.replace(settings, thresholds=(0.5, 0.5))
    assert dataclasses.replace(settings, thresholds=[0.9, 0.1]).thresholds == (0.1, 0.9)
    assert EvalSettings().slices == () and EvalSettings().gate is None
