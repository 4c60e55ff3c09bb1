"""One Section type for the report and the card: pairs are read as the caller's (heading, html) or (heading,
markdown); anything else is refused by name."""

import pytest
from markupsafe import Markup

from tfpretrain.reporting.section import Section, as_sections


def test_pairs_become_sections_of_the_right_kind():
    section = Section("Probes", html="<p>x</p>", card_field="bias_probes", card_entry={"a": 1})
    html_pair = as_sections([section, ("H", "<p>y</p>")], "html")
    markdown_pair = as_sections([("H", "*y*")], "markdown")
    assert html_pair[0] is section and html_pair[1] == Section("H", html="<p>y</p>")
    assert isinstance(html_pair[1].html, Markup), "trusted HTML is not escaped again"
    assert markdown_pair == [Section("H", markdown="*y*")] and markdown_pair[0].html is None
    assert as_sections(None, "html") == []


@pytest.mark.parametrize("bad", ["text", ("only a heading",), ("h", 3), 42])
def test_anything_else_is_refused(bad):
    with pytest.raises(ValueError, match=r"sections\[0\] must be a Section or a \(heading, html\) pair"):
        as_sections([bad], "html")


def test_heading_and_field_are_checked():
    with pytest.raises(ValueError, match="heading must be a string"):
        Section(None)
    with pytest.raises(ValueError, match="unknown model card field 'energy_kwh'"):
        Section("x", card_field="energy_kwh")
