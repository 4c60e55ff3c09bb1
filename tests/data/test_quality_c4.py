"""C4's line rules edit the text and count the lines they cut; its page rules remove documents. Each rule on both
sides of its threshold, on hand-written lines."""

import dataclasses

import pytest

from tfpretrain.config import ConfigError
from tfpretrain.data.prepare_config import load_prepare_config
from tfpretrain.data.quality_c4 import C4Config, c4_filter, count_sentences

ON = C4Config(enabled=True, min_sentences=0)


def run(text, **changes):
    return c4_filter(text, dataclasses.replace(ON, **changes))


def test_lines_without_terminal_punctuation_or_with_too_few_words_go_and_are_counted():
    text = "Menu\nHome | About | Contact\nThe river rose after the storm.\nIt rained.\nWas it late?\nWait for it..."
    assert run(text) == ("The river rose after the storm.\nWas it late?",
                         None, {"no_terminal_punctuation": 3, "too_few_words": 1})
    assert run(text, min_words_per_line=2) == ("The river rose after the storm.\nIt rained.\nWas it late?", None,
                                               {"no_terminal_punctuation": 3})
    assert run("Menu and more\nShe said “yes.”", terminal_punctuation=False) == (
        "Menu and more\nShe said “yes.”", None, {})


def test_javascript_and_policy_lines_go_lorem_ipsum_and_braces_remove_the_document():
    text = "Please enable JavaScript to view this page.\nWe use cookies on this site.\nThe bridge opened in May."
    assert run(text) == ("The bridge opened in May.", None, {"javascript": 1, "policy": 1})
    assert run(text, javascript=False, policy=False) == (text, None, {})
    assert run("Some text here.\nLorem ipsum dolor sit amet.") == (None, "lorem_ipsum", {})
    assert run("Use x = {1: 2} in code.\nFine text here.") == (None, "curly_braces", {})
    assert run("Use x = {1: 2} in code.", curly_braces=False) == ("Use x = {1: 2} in code.", None, {})
    # the line went before its brace was seen; then no line is left
    assert run("A brace { in a line without an end") == (None, "no_lines_left", {"no_terminal_punctuation": 1})


def test_long_words_citations_and_paragraph_breaks():
    assert run("abcdef is long.\nabcde is fine.", max_word_length=5) == ("abcde is fine.", None,
                                                                         {"too_long_word": 1})
    assert run("A fact is here.[1]\nAnother one [citation needed] too.[edit]") == (
        "A fact is here.\nAnother one too.", None, {})
    assert run("First para is here.\n\n\nMenu\n\nSecond para is here.\n") == (
        "First para is here.\n\nSecond para is here.", None, {"no_terminal_punctuation": 1})


def test_sentence_count_and_the_minimum():
    assert count_sentences("Hi there. How are you? Fine! Really?!") == 4
    assert count_sentences("Version 3.5 is out. See e.g. the notes") == 2  # "3.5" is no end, "e.g." is one
    text = "One sentence here. Two sentences here.\nThree is here."
    assert run(text, min_sentences=3) == (text, None, {})
    assert run(text, min_sentences=4) == (None, "min_sentences", {})


def test_bad_c4_settings_name_the_key():
    with pytest.raises(ConfigError, match="quality.c4.min_sentences: must be >= 0"):
        load_prepare_config(data={"family": "gpt2", "sources": ["x"], "output": "o",
                                  "quality": {"c4": {"min_sentences": -1}}})
