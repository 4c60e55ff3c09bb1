"""The explanations section: each explained word shaded by its attribution (colour and underline style both carry
the sign), per slice, every text escaped; the card entry summarises per slice."""

import re

import pytest

from tfpretrain.reporting.sections.explanations import explanations_section, shade


def record(slice_name, index, words, misclassified=False, delta=1e-4):
    return {"slice": slice_name, "index": index, "text": "t", "label": 1, "score": 0.8125, "predicted": 1,
            "misclassified": misclassified, "words": [{"word": w, "attribution": a} for w, a in words],
            "top_positive": [(w, a) for w, a in words if a > 0], "top_negative": [(w, a) for w, a in words if a < 0],
            "delta": delta, "explained": "P(class 1)", "baseline": "pad", "steps": 8, "threshold": 0.5}


@pytest.fixture
def records():
    return [record("overall", 0, [("<script>", 0.5), ("nice", -0.25), ("day", 0.0)], misclassified=True),
            record("gender=<b>x</b>", 3, [("she", 0.1), ("said", -0.4)], delta=-3e-3),
            record("gender=<b>x</b>", 4, [("she", 0.2), ("ok", 0.1)])]


def test_words_shaded_by_attribution_and_escaped(records):
    section = explanations_section(records)
    html = section.html
    assert section.heading == "Explanations (integrated gradients)" and section.card_field == "explanations"
    assert "<script" not in html and "<b>" not in html and "<h3>gender=&lt;b&gt;x&lt;/b&gt;</h3>" in html
    assert "8 path steps" in html and "largest gap of 0.003 (median 0.0001)" in html and "threshold 0.5)" in html
    spans = re.findall(r'<span style="([^"]*)" title="([^"]*)">([^<]*)</span>', html)
    assert [(title, word) for _, title, word in spans[:3]] == [("+0.5", "&lt;script&gt;"), ("-0.25", "nice"),
                                                               ("+0", "day")]
    assert spans[0][0] == "background:rgba(213,94,0,0.80);border-bottom:2px solid rgb(213,94,0);padding:0 1px"
    assert spans[1][0] == "background:rgba(0,114,178,0.40);border-bottom:2px dotted rgb(0,114,178);padding:0 1px"
    assert "+ &lt;script&gt; (+0.500)<br>\u2212 nice (-0.250)" in html and "\u2212 none</td>" in html
    assert "<td>0</td><td>1</td><td>0.812</td><td>1</td><td>yes</td>" in html


def test_shade_scales_opacity_and_keeps_the_sign_in_the_underline():
    assert shade(1, 2) == "background:rgba(213,94,0,0.40);border-bottom:2px solid rgb(213,94,0);padding:0 1px"
    assert "dotted" in shade(-5, 2) and "0.80" in shade(-5, 2), "capped at 0.8"
    assert "rgba(213,94,0,0.00)" in shade(1, 0)


def test_card_entry_and_no_examples(records):
    card = explanations_section(records).card_entry
    assert card["method"] == "integrated gradients over word-piece embeddings of P(class 1) (pad baseline, 8 steps)"
    assert card["largest completeness gap"] == pytest.approx(3e-3)
    assert card["slices"]["gender=<b>x</b>"] == {"examples explained": 2, "misclassified": 0,
                                                 "most frequent top words": {"she": 2, "said": 1, "ok": 1}}
    empty = explanations_section([])
    assert empty.html.strip() == "<p>No examples were explained.</p>"
    assert empty.card_entry == {"method": "integrated gradients", "examples explained": 0}
