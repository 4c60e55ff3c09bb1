"""Per-slice explanations of a fine-tuned classifier: every slice value appears, misclassified examples are chosen,
completeness holds, the seed decides the sample, the HTML is escaped and renders in the report, errors are clear."""

import json

import numpy as np
import pytest
import yaml

from tests.support import factories
from tests.support.metric_rows import make_rows
from tfpretrain.data import features as F
from tfpretrain.data.synthetic import GROUP_COLUMNS, make_examples
from tfpretrain.evaluation.explain.selection import explain_run, merge_word_pieces, write_explanations
from tfpretrain.evaluation.fairness.groups import GroupSpec
from tfpretrain.reporting import write_report
from tfpretrain.reporting.sections.explanations import explanations_card_entry, explanations_section

LENGTH = 24
EXAMPLES = make_examples(60, seed=1)


def classifier_run(directory, examples, seed=0):
    """A fine-tuning-run-shaped directory: final/ (a tiny random BertClassifier + tokenizer.json), finetune.yaml
    and eval.tfrecord with the group columns, as tfpretrain.training.finetune writes them."""
    from tfpretrain.data.eval_records import write_eval_tfrecords
    from tfpretrain.data.tokenizer import save_tokenizer, train_wordpiece
    from tfpretrain.keras import keras
    from tfpretrain.models.bert.bert_classifier import BertClassifier

    tokenizer = train_wordpiece([e["text"] for e in examples], vocabulary_size=200, min_frequency=1)
    keras.utils.set_random_seed(seed)
    # a wide init: scores spread over (0, 1), so there are misclassified and correct examples in most slices
    backbone = factories.bert_backbone(vocabulary_size=tokenizer.get_vocab_size(), initializer_range=0.5)
    model = BertClassifier(backbone, num_classes=1, dropout=0.0)
    model.save_pretrained(directory / "final")
    save_tokenizer(tokenizer, directory / "final" / "tokenizer.json")
    (directory / "finetune.yaml").write_text(yaml.safe_dump(
        {"num_classes": 1, "sequence_length": LENGTH, "eval": {"group_fields": list(GROUP_COLUMNS)}}))
    write_eval_tfrecords(str(directory / "eval.tfrecord"), examples, tokenizer, LENGTH, group_fields=GROUP_COLUMNS)
    return directory


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return classifier_run(tmp_path_factory.mktemp("explain") / "run", EXAMPLES)


@pytest.fixture(scope="module")
def records(run):
    return explain_run(run, per_slice=3, steps=32, seed=0)


@pytest.fixture(scope="module")
def truth(run):
    """The model's own predictions on the eval data, computed here without explanations.py."""
    from tfpretrain.data.labeled import encode
    from tfpretrain.data.tokenizer import load_tokenizer
    from tfpretrain.models.bert.bert_classifier import BertClassifier

    model = BertClassifier.from_pretrained(str(run / "final"), num_classes=1)
    features = encode(EXAMPLES, load_tokenizer(str(run / "final" / "tokenizer.json")), LENGTH)
    scores = 1 / (1 + np.exp(-model(features, training=False).numpy()[:, 0]))
    labels = np.array([e["label"] for e in EXAMPLES])
    return scores, (scores > 0.5).astype(int) != labels


def _members(column, value):
    return [i for i, e in enumerate(EXAMPLES) if e[column] == value]


def test_every_slice_value_appears_with_its_misclassified_examples(records, truth):
    scores, wrong = truth
    slices = {"overall": list(range(len(EXAMPLES)))}
    slices.update({f"{c}={v}": _members(c, v) for c in GROUP_COLUMNS for v in sorted({e[c] for e in EXAMPLES})})
    by_slice = {}
    for r in records:
        by_slice.setdefault(r["slice"], []).append(r)
    assert list(by_slice) == list(slices)  # overall first, then each column's values
    assert wrong.any() and (~wrong).any()
    for name, members in slices.items():
        chosen = by_slice[name]
        assert len(chosen) == min(3, len(members)) and {r["index"] for r in chosen} <= set(members)
        n_wrong = int(wrong[members].sum())
        expected = min(n_wrong, max(2, 3 - int((~wrong[members]).sum())))  # half of 3 rounded up, or all left
        assert sum(r["misclassified"] for r in chosen) == expected, name
    for r in records:
        assert r["text"] == EXAMPLES[r["index"]]["text"] and r["label"] == EXAMPLES[r["index"]]["label"]
        assert r["score"] == pytest.approx(scores[r["index"]], abs=1e-5)
        assert r["misclassified"] == bool(wrong[r["index"]]) and r["predicted"] == int(r["score"] > 0.5)


def test_attributions_are_complete_and_words_merge_their_pieces(records):
    deltas = np.array([r["delta"] for r in records])
    changes = np.array([r["score"] - r["baseline_score"] for r in records])
    assert np.abs(changes).max() > 0.1  # the check has something to check
    # 32 trapezoid steps on a wide-init model whose weights follow the WordPiece vocabulary (its trainer breaks
    # ties in hash-map order): gaps up to ~1e-2 seen; completeness proper is tested at 128 steps in
    # test_integrated_gradients.py, and delta's bookkeeping exactly below.
    assert np.abs(deltas).max() < 2e-2 < np.abs(changes).max() / 5
    for r in records:
        pieces = [t["attribution"] for t in r["tokens"]]
        assert r["tokens"][0]["token"] == "[CLS]" and pieces[0] == 0 and pieces[-1] == 0  # [CLS], [SEP] kept
        assert sum(pieces) == pytest.approx(r["score"] - r["baseline_score"] + r["delta"], abs=1e-5)
        assert sum(w["attribution"] for w in r["words"]) == pytest.approx(sum(pieces), abs=1e-5)
        assert all(v > 0 for _, v in r["top_positive"]) and all(v < 0 for _, v in r["top_negative"])
        assert r["baseline"] == "pad" and r["steps"] == 32


def test_merge_word_pieces_joins_continuations_and_drops_special_tokens():
    words = merge_word_pieces(["[CLS]", "un", "##kind", "note", "##s", "[SEP]"], [0, 0.5, 0.25, -1.0, 0.5, 0])
    assert words == [{"word": "unkind", "attribution": 0.75, "tokens": [1, 3]},
                     {"word": "notes", "attribution": -0.5, "tokens": [3, 5]}]


def test_the_seed_decides_the_sample(run, records):
    again = explain_run(run, per_slice=3, steps=32, seed=0)
    assert json.dumps(again) == json.dumps(records)
    other = explain_run(run, slices=(), per_slice=3, steps=8, seed=1)
    assert [r["slice"] for r in other] == ["overall"] * 3
    assert [r["index"] for r in other] != [r["index"] for r in records[:3]]


def test_html_is_escaped_and_renders_in_the_report(run, tmp_path):
    hostile = [{"text": "<script>alert(1)</script> was nasty", "label": 0, "gender": "<b>x</b>"},
               *({k: e[k] for k in ("text", "label", "gender")} for e in EXAMPLES[:5])]
    records = explain_run(run, data=hostile, slices=["gender"], per_slice=2, steps=8)
    assert any(r["slice"] == "gender=<b>x</b>" and r["index"] == 0 for r in records)
    section = explanations_section(records)
    heading, html = section.heading, section.html
    assert "<script" not in html and "<b>" not in html
    assert "gender=&lt;b&gt;x&lt;/b&gt;" in html and "&lt;" in html and "8 path steps" in html
    path = write_report(tmp_path / "report.html", make_rows(), title="t", sections=[section])
    page = open(path, encoding="utf-8").read()
    assert heading in page and "gender=&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert page.count("rgba(213,94,0,") > 0 and page.count("rgba(0,114,178,") > 0  # both signs shaded


def test_derived_groups_json_and_card_entry(run, records, tmp_path):
    spec = GroupSpec("gender", kind="derived", source="text", terms={"female": ["she"], "male": ["he"]})
    derived = explain_run(run, slices=["gender"], groups=[spec], per_slice=1, steps=8)
    assert {r["slice"] for r in derived} <= {"overall", "gender=female", "gender=male", "gender=none",
                                             "gender=both"} and "gender=female" in {r["slice"] for r in derived}
    path = write_explanations(records, tmp_path / "explanations.json")
    assert json.loads(open(path).read()) == json.loads(json.dumps(records))
    card = explanations_card_entry(records)
    female = [r for r in records if r["slice"] == "gender=female"]
    entry = card["slices"]["gender=female"]
    assert entry["examples explained"] == len(female)
    assert entry["misclassified"] == sum(r["misclassified"] for r in female)
    assert sum(entry["most frequent top words"].values()) <= 3 * len(female) and entry["most frequent top words"]
    assert card["largest completeness gap"] == max(abs(r["delta"]) for r in records)


def test_a_missing_slice_column_names_the_column_and_file(run):
    with pytest.raises(ValueError, match=r"slice column 'race' is not in the data.*") as error:
        explain_run(run, slices=["gender", "race"])
    assert str(run / "eval.tfrecord") in str(error.value) and "religion" in str(error.value)


def test_records_carry_the_token_features(run):
    from tfpretrain.data.eval_records import read_eval_records

    records = read_eval_records(run / "eval.tfrecord", max_examples=4)
    assert len(records) == 4 and records[0][F.TOKEN_IDS].shape == (LENGTH,) and records[0]["gender"] in (
        "female", "male", "none")
