"""Data text in the Markdown model card: escaped so it cannot become markup, and values written as a person reads
them."""

import math

from tfpretrain.reporting.markdown import key_label, md_escape, plain


def test_specials_are_escaped_and_text_is_one_line():
    assert md_escape("a|b <x> *y* [z](u) #1 `c` \\") == r"a\|b \<x\> \*y\* \[z\](u) \#1 \`c\` \\"
    assert md_escape("civil_comments") == "civil_comments", "an underscore inside a word is literal"
    assert md_escape("_x_ a_") == r"\_x\_ a\_"
    assert md_escape("line\nbreak\t tab") == "line break tab"
    assert md_escape("&amp; & b") == "&amp;amp; & b", "only an & that would start an entity"


def test_plain_values():
    assert [plain(v) for v in (None, True, 7, 12000, 0.1234567, math.nan, "a*b")] == [
        "not specified", "yes", "7", "12,000", "0.123457", "n/a", r"a\*b"]
    assert plain({"a": 1, "b": [2, "x"]}) == "a: 1; b: 2, x" and plain({}) == plain([]) == "not specified"


def test_key_labels():
    assert key_label("epsilon") == "Epsilon (\u03b5)" and key_label("co2_kg") == "Emissions (kg CO\u2082eq)"
    assert key_label("fine_tuning data") == "Fine tuning data"
