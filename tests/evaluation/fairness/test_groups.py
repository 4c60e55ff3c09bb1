"""Group annotations -> slice columns (pure Python; no TensorFlow)."""

import math
import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpretrain.config import ConfigError
from tfpretrain.evaluation.fairness.groups import (
    DEFAULT_TERM_LISTS,
    GroupSpec,
    TermMatcher,
    apply_groups,
    binarize_identity,
    binary_value,
    categorical_value,
    check_unique_columns,
    derive_groups_from_text,
    load_term_lists,
    validate_term_lists,
)

GENDER = {"gender": {"female": ["she", "her", "woman", "trans woman"], "male": ["he", "him", "man"]}}


# ------------------------------------------------------------------------------------------- binarize_identity


@pytest.mark.parametrize(
    "value, threshold, expected",
    [
        (0.5, 0.5, 1),
        (0.49999, 0.5, 0),
        (1.0, 0.5, 1),
        (0.0, 0.5, 0),
        (0.3, 0.25, 1),
        (np.float32(0.8), 0.5, 1),
        (np.array([0.6]), 0.5, 1),
        ([0.1], 0.5, 0),
        ("0.75", 0.5, 1),
        (b"0.2", 0.5, 0),
        (1, 0.5, 1),
        (None, 0.5, None),
        (float("nan"), 0.5, None),
        ("", 0.5, None),
        ("nan", 0.5, None),
        (np.array([], dtype=np.float32), 0.5, None),
    ],
)
def test_binarize_identity(value, threshold, expected):
    assert binarize_identity(value, threshold) == expected


@pytest.mark.parametrize(
    "value, threshold, match",
    [
        (True, 0.5, "bool"),
        ("high", 0.5, "must be a number"),
        (float("inf"), 0.5, "finite"),
        ([0.1, 0.9], 0.5, "one value per example"),
        (0.3, float("nan"), "threshold"),
        (0.3, "0.5", "threshold"),
    ],
)
def test_binarize_identity_rejects(value, threshold, match):
    with pytest.raises(ValueError, match=match):
        binarize_identity(value, threshold)


@given(st.floats(0, 1), st.floats(0, 1))
def test_binarize_identity_is_a_threshold(value, threshold):
    assert binarize_identity(value, threshold) == (1 if value >= threshold else 0)


def test_binary_and_categorical_values():
    for yes in (1, 1.0, True, "yes", "TRUE", b"t", "Y", np.int64(1), np.array([1])):
        assert binary_value(yes) == 1, yes
    for no in (0, 0.0, False, "no", "False", b"0", "n"):
        assert binary_value(no) == 0, no
    for missing in (None, float("nan"), "", " ", np.array([])):
        assert binary_value(missing) is None
    for bad in (2, 0.5, "maybe"):
        with pytest.raises(ValueError, match="binary"):
            binary_value(bad)
    assert categorical_value(b"female") == "female"
    assert categorical_value(np.array([b"female"], dtype=object)) == "female"
    assert categorical_value(3.0) == 3 and categorical_value(2.5) == 2.5 and categorical_value(True) == 1
    assert categorical_value(np.array([b"a", b"b", b"a"], dtype=object)) == ["a", "b"]
    assert categorical_value(float("nan")) is None and categorical_value([]) is None and categorical_value("") is None


# -------------------------------------------------------------------------------------------- term matching


@pytest.mark.parametrize(
    "text, expected",
    [
        ("She said so.", "female"),
        ("SHE SAID SO", "female"),
        ("I told him, then left", "male"),
        ("he and she", "both"),
        ("Her brother? No: him.", "both"),
        ("the hero went to Sherlock's house", "none"),  # "he" / "her" / "she" inside words do not count
        ("there, then, where", "none"),
        ("", "none"),
        ("a trans\n  woman spoke", "female"),  # multi-word terms across any whitespace
        ("the woman's view", "female"),
        ("manhattan womanhood", "none"),
        (b"she, in bytes", "female"),
        ("she/he", "both"),
    ],
)
def test_derive_groups_from_text(text, expected):
    assert derive_groups_from_text(text, GENDER) == {"gender": expected}


def test_multiple_categories_and_several_groups():
    lists = {
        "religion": {"christian": ["christian"], "muslim": ["muslim", "islam"], "jewish": ["jew", "jewish"]},
        "gender": GENDER["gender"],
    }
    matcher = TermMatcher(lists)
    assert matcher.match("a Muslim and a Jewish neighbour; she laughed") == {"religion": "multiple", "gender": "female"}
    assert matcher.match("Islam") == {"religion": "muslim", "gender": "none"}
    assert derive_groups_from_text("nothing", matcher) == {"religion": "none", "gender": "none"}
    with pytest.raises(TypeError, match="str or bytes"):
        matcher.match(3)


WORDS = ["she", "her", "he", "him", "the", "hero", "sherlock", "woman", "man", "mankind", "x"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=8), st.lists(st.sampled_from([" ", ", ", ".\n", "! ", " - "])))
def test_matching_agrees_with_a_token_oracle(words, separators):
    text = "".join(w + (separators[i % len(separators)] if separators else " ") for i, w in enumerate(words))
    text = text.upper() if len(words) % 2 else text
    tokens = set(re.findall(r"\w+", text.lower()))
    female = bool(tokens & {"she", "her", "woman"})
    male = bool(tokens & {"he", "him", "man"})
    expected = "both" if female and male else "female" if female else "male" if male else "none"
    assert derive_groups_from_text(text, GENDER)["gender"] == expected


def test_default_term_lists_each_term_finds_only_its_category():
    lists = load_term_lists()
    assert DEFAULT_TERM_LISTS.name == "identity_terms.yaml"
    assert {"gender", "religion", "sexual_orientation", "race"} <= set(lists)
    assert set(lists["gender"]) == {"female", "male"}
    matcher = TermMatcher(lists)
    for group, categories in lists.items():
        for category, terms in categories.items():
            for term in terms:
                assert matcher.match(f"about {term.upper()}!")[group] == category, (group, term)


def test_term_list_validation(tmp_path):
    with pytest.raises(ConfigError, match=r"gender.male: term 'She' is also listed under gender.female"):
        validate_term_lists({"gender": {"female": ["she"], "male": ["He", "She"]}})
    with pytest.raises(ConfigError, match="reserved"):
        validate_term_lists({"gender": {"both": ["x"]}})
    with pytest.raises(ConfigError, match="non-empty list"):
        validate_term_lists({"gender": {"female": []}})
    with pytest.raises(ConfigError, match="non-empty list"):
        validate_term_lists({"gender": {"female": "she"}})
    with pytest.raises(ConfigError, match="non-empty strings"):
        validate_term_lists({"gender": {"female": ["she", " "]}})
    with pytest.raises(ConfigError, match="non-empty mapping"):
        validate_term_lists(["gender"])
    path = tmp_path / "terms.yaml"
    path.write_text("gender:\n  female: [she]\n  male: [he, she]\n")
    with pytest.raises(ConfigError, match=r"terms.yaml: gender.male"):
        load_term_lists(path)
    path.write_text("gender: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_term_lists(path)
    with pytest.raises(ConfigError, match="not found"):
        load_term_lists(tmp_path / "missing.yaml")


# ------------------------------------------------------------------------------------------------- GroupSpec


def test_group_spec_kinds():
    cont = GroupSpec("female", "continuous", threshold=0.3)
    assert (
        cont.input_column == "female" and cont.derive(np.array([0.31], np.float32)) == 1 and cont.derive(None) is None
    )
    assert GroupSpec("x", "binary", source="flag").derive([b"true"]) == 1
    cat = GroupSpec("gender")
    assert cat.is_passthrough and cat.derive(np.array([b"female"], dtype=object)) == "female"
    assert not GroupSpec("g", source="gender").is_passthrough
    derived = GroupSpec("gender", "derived", source="text", terms=GENDER["gender"])
    assert derived.derive(np.array([b"she spoke"], dtype=object)) == "female"
    assert derived.derive("nobody") == "none" and derived.derive(None) is None and derived.derive("") is None
    with pytest.raises(ValueError, match=r"group 'x' \(kind binary, column 'flag'\): binary group value"):
        GroupSpec("x", "binary", source="flag").derive("perhaps")
    with pytest.raises(ValueError, match="expected text"):
        derived.derive(3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(column=""), "non-empty"),
        (dict(column="g", kind="ordinal"), "kind 'ordinal'"),
        (dict(column="g", kind="derived"), "needs terms"),
        (dict(column="g", kind="continuous", terms={"a": ["b"]}), "only used by kind 'derived'"),
        (dict(column="g", kind="continuous", threshold=float("nan")), "threshold"),
        (dict(column="g", source=""), "source"),
        (dict(column="g", kind="derived", terms={"a": ["x"], "b": ["X"]}), "also listed"),
    ],
)
def test_group_spec_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupSpec(**kwargs)


def test_group_spec_config_round_trip_and_pickle():
    lists = {"gender": GENDER["gender"], "faith": {"muslim": ["muslim"], "christian": ["christian"]}}
    specs = [
        GroupSpec.from_config("religion"),
        GroupSpec.from_config({"column": "female", "kind": "continuous", "threshold": 0.4}),
        GroupSpec.from_config({"column": "gender", "kind": "derived", "source": "text"}, lists),
        GroupSpec.from_config(
            {"column": "religion_terms", "kind": "derived", "source": "text", "terms": "faith"}, lists
        ),
    ]
    assert specs[3].derive("a christian") == "christian" and specs[2].derive("him") == "male"
    for spec in specs:
        assert GroupSpec.from_config(spec.to_config()) == spec
        clone = pickle.loads(pickle.dumps(spec))  # Beam ships specs to workers
        assert clone == spec and hash(clone) == hash(spec)
        if spec.kind == "derived":
            assert clone.derive("she and him") == spec.derive("she and him")
    with pytest.raises(ConfigError, match=r"groups.g: unknown keys \['thresh'\]"):
        GroupSpec.from_config({"column": "g", "thresh": 0.5})
    with pytest.raises(ConfigError, match="no term list 'caste'"):
        GroupSpec.from_config({"column": "caste", "kind": "derived", "source": "text"}, lists)
    with pytest.raises(ConfigError, match="needs terms"):
        GroupSpec.from_config({"column": "caste", "kind": "derived", "source": "text"})
    with pytest.raises(ConfigError, match="groups.g: .*kind 'bad'"):
        GroupSpec.from_config({"column": "g", "kind": "bad"})


def test_apply_groups_and_unique_columns():
    specs = [GroupSpec("muslim", "continuous"), GroupSpec("gender", "derived", source="text", terms=GENDER["gender"])]
    record = {"muslim": 0.8, "text": "He said", "other": 1}
    assert apply_groups(record, specs) == {"muslim": 1, "text": "He said", "other": 1, "gender": "male"}
    out = apply_groups({"text": float("nan")}, specs)
    assert math.isnan(out["text"]) and out["muslim"] is None and out["gender"] is None
    with pytest.raises(ValueError, match="two groups define the slice column 'muslim'"):
        check_unique_columns([specs[0], GroupSpec("muslim", "binary")])
    with pytest.raises(TypeError, match="GroupSpec"):
        check_unique_columns(["muslim"])
