"""Gopher's quality and repetition rules on small hand-computed texts: every rule on both sides of its threshold,
the n-gram fractions against counts done by hand, and the config's checks."""

import dataclasses
import random

import pytest

from tfpretrain.config import ConfigError
from tfpretrain.data.prepare_config import load_prepare_config
from tfpretrain.data.quality_gopher import (
    GopherConfig,
    duplicate_ngram_char_fraction,
    gopher_filter,
    top_ngram_char_fraction,
    words_of,
)

# Every rule as loose as it goes: a test tightens one rule at a time.
LOOSE = GopherConfig(
    enabled=True, min_words=0, max_words=10**9, min_mean_word_length=0, max_mean_word_length=10**6,
    max_symbol_word_ratio=1.0, max_bullet_line_fraction=1.0, max_ellipsis_line_fraction=1.0,
    min_alpha_word_fraction=0.0, min_stop_words=0, max_duplicate_line_fraction=1.0,
    max_duplicate_line_char_fraction=1.0, max_duplicate_paragraph_fraction=1.0,
    max_duplicate_paragraph_char_fraction=1.0, top_ngram_char_fractions=[1.0] * 3,
    duplicate_ngram_char_fractions=[1.0] * 6)


def rule(text, **tight):
    return gopher_filter(text, dataclasses.replace(LOOSE, **tight))


def test_words_drop_bare_punctuation_and_strip_it_around_words():
    assert words_of("Hello, world ... - foo-bar end.\n“Quoted”") == ["Hello", "world", "foo-bar", "end", "Quoted"]


@pytest.mark.parametrize("text, keep, drop, expected", [
    ("one two three four", {"min_words": 4}, {"min_words": 5}, "min_words"),
    ("one two three four", {"max_words": 4}, {"max_words": 3}, "max_words"),
    ("aa bbbb", {"min_mean_word_length": 3.0}, {"min_mean_word_length": 3.01}, "min_mean_word_length"),  # mean 3
    ("aa bbbb", {"max_mean_word_length": 3.0}, {"max_mean_word_length": 2.99}, "max_mean_word_length"),
    # 2 hashes / 8 words = 0.25; "..." once / 4 words = 0.25
    ("a # b # c d e f g h", {"max_symbol_word_ratio": 0.25}, {"max_symbol_word_ratio": 0.24}, "max_symbol_word_ratio"),
    ("one two three four...", {"max_symbol_word_ratio": 0.25}, {"max_symbol_word_ratio": 0.24},
     "max_symbol_word_ratio"),
    ("• a\n• b\nc", {"max_bullet_line_fraction": 0.67}, {"max_bullet_line_fraction": 0.66},
     "max_bullet_line_fraction"),  # 2 of 3 lines
    ("a…\nb\n\nc\nd", {"max_ellipsis_line_fraction": 0.25}, {"max_ellipsis_line_fraction": 0.24},
     "max_ellipsis_line_fraction"),  # 1 of 4 non-empty lines
    ("a 1 2 b", {"min_alpha_word_fraction": 0.5}, {"min_alpha_word_fraction": 0.51}, "min_alpha_word_fraction"),
    ("The cat and the dog.", {"min_stop_words": 3}, {"min_stop_words": 4}, "min_stop_words"),  # the, and, the
    # lines "a b", "a b", "c d", "e f": 1 duplicate of 4; its 3 characters of 12
    ("a b\na b\nc d\ne f", {"max_duplicate_line_fraction": 0.25}, {"max_duplicate_line_fraction": 0.24},
     "max_duplicate_line_fraction"),
    ("a b\na b\nc d\ne f", {"max_duplicate_line_char_fraction": 0.25}, {"max_duplicate_line_char_fraction": 0.24},
     "max_duplicate_line_char_fraction"),
    # paragraphs "p one\nx", "p one\nx", "p two three": 1 duplicate of 3; 7 characters of 7 + 7 + 11 = 25
    ("p one\nx\n\np one\nx\n\np two three", {"max_duplicate_paragraph_fraction": 1 / 3},
     {"max_duplicate_paragraph_fraction": 0.33}, "max_duplicate_paragraph_fraction"),
    ("p one\nx\n\np one\nx\n\np two three", {"max_duplicate_paragraph_char_fraction": 0.28},
     {"max_duplicate_paragraph_char_fraction": 0.27}, "max_duplicate_paragraph_char_fraction"),
])
def test_each_quality_rule_on_both_sides_of_its_threshold(text, keep, drop, expected):
    if "paragraph" in expected:  # the duplicate paragraph's lines are duplicate lines too
        keep = {**keep, "max_duplicate_line_fraction": 1.0}
    assert rule(text, **keep) == (True, None)
    assert rule(text, **drop) == (False, expected)


def test_top_ngram_fraction_by_hand():
    words = ["ab", "cd", "ab", "cd", "ef"]  # (ab, cd) twice: 2 * 4 characters of 10
    assert top_ngram_char_fraction(words, 2) == pytest.approx(0.8)
    assert top_ngram_char_fraction(["ab", "cd", "ef"], 2) == 0.0  # nothing repeats
    # (the, best), (best, offer), ... all 8 times: the longest, "best offer", counts: 9 * 8 of 38 * 8 + 6 characters
    spam = words_of("the best offer of the day is here and it is cheap " * 8 + "offer 0")
    assert top_ngram_char_fraction(spam, 2) == pytest.approx(72 / 310)
    words3 = ["ab", "cd", "ef", "ab", "cd", "ef"]  # (ab, cd, ef) twice: 12 of 12
    assert top_ngram_char_fraction(words3, 3) == 1.0
    text = "ab cd ab cd ef"
    assert rule(text, top_ngram_char_fractions=[0.8, 1, 1]) == (True, None)
    assert rule(text, top_ngram_char_fractions=[0.79, 1, 1]) == (False, "top_2gram_char_fraction")
    assert rule("ab cd ef ab cd ef", top_ngram_char_fractions=[1, 0.99, 1]) == (False, "top_3gram_char_fraction")
    assert rule("ab cd ef gh ab cd ef gh", top_ngram_char_fractions=[1, 1, 0.99]) == (False, "top_4gram_char_fraction")


def test_duplicate_ngram_fraction_counts_each_word_once():
    words = "a1 b1 c1 d1 e1 x a1 b1 c1 d1 e1 yy".split()  # the 5-gram twice: 20 characters of 23
    assert duplicate_ngram_char_fraction(words, 5) == pytest.approx(20 / 23)
    assert duplicate_ngram_char_fraction(words, 6) == 0.0
    # Overlapping duplicates (two 5-grams twice each) cover all 11 words once: 22 of 22, not 40 of 22.
    overlapping = "aa bb cc dd ee aa bb cc dd ee aa".split()
    assert duplicate_ngram_char_fraction(overlapping, 5) == 1.0
    text = " ".join(words)
    assert rule(text, duplicate_ngram_char_fractions=[0.87, 1, 1, 1, 1, 1]) == (True, None)  # 20 / 23 = 0.8696
    assert rule(text, duplicate_ngram_char_fractions=[0.86, 1, 1, 1, 1, 1]) == (False, "duplicate_5gram_char_fraction")
    ten = " ".join(f"w{i}" for i in range(10))
    assert rule(f"{ten} x {ten}", duplicate_ngram_char_fractions=[1] * 5 + [0.9]) == (
        False, "duplicate_10gram_char_fraction")  # 40 of 41 characters


PROSE = (
    "The committee met on a grey morning to review the plans for the new library. Several members argued that "
    "the reading rooms should face the river, because the light there is softer in the afternoon. Others worried "
    "about the cost of the glass and asked the architect to compare it with stone. After a long discussion they "
    "agreed to visit two similar buildings in the north and to decide with the builders next month."
)


def test_defaults_keep_ordinary_prose_and_drop_spam_and_lists():
    on = GopherConfig(enabled=True)
    assert gopher_filter(PROSE, on) == (True, None)
    assert gopher_filter("buy cheap pills now " * 30, on) == (False, "min_stop_words")
    assert gopher_filter(" ".join([PROSE] * 2), on) == (False, "duplicate_5gram_char_fraction")
    assert gopher_filter("A short note with the usual words and that is all.", on) == (False, "min_words")


def test_bad_gopher_settings_name_the_key():
    base = {"family": "gpt2", "sources": ["x"], "output": "o"}
    with pytest.raises(ConfigError, match="quality.gopher.top_ngram_char_fractions: needs 3 values"):
        load_prepare_config(data={**base, "quality": {"gopher": {"top_ngram_char_fractions": [0.2]}}})
    with pytest.raises(ConfigError, match=r"quality.gopher.max_symbol_word_ratio: must be in \[0, 1\]"):
        load_prepare_config(data={**base, "quality": {"gopher": {"max_symbol_word_ratio": 2}}})
    with pytest.raises(ConfigError, match="quality.gopher.min_word: unknown key"):
        load_prepare_config(data={**base, "quality": {"gopher": {"min_word": 3}}})


def test_stopping_at_the_first_size_without_repeats_changes_no_verdict():
    """The rules skip longer n-grams once no n-gram repeats; checking every size gives the same verdicts."""
    rng = random.Random(0)
    for trial in range(300):
        vocabulary = [f"w{i}" for i in range(rng.randint(3, 60))]
        words = [rng.choice(vocabulary) for _ in range(rng.randint(5, 80))]
        tops, dups = [rng.uniform(0, 0.5) for _ in range(3)], [rng.uniform(0, 0.5) for _ in range(6)]
        expected = next((f"top_{n}gram_char_fraction" for n, limit in zip((2, 3, 4), tops)
                         if top_ngram_char_fraction(words, n) > limit), None) or next(
            (f"duplicate_{n}gram_char_fraction" for n, limit in zip(range(5, 11), dups)
             if duplicate_ngram_char_fraction(words, n) > limit), None)
        got = rule(" ".join(words), top_ngram_char_fractions=tops, duplicate_ngram_char_fractions=dups)
        assert got == (expected is None, expected), trial
