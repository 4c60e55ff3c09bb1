"""Gopher's document quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
Insights from Training Gopher", appendix A.1.1 and table A1), as one pure function: text -> (keep, rule).

Words are whitespace-separated tokens that hold at least one character other than punctuation (a bare "-" or "..."
is no word); a word's length does not count the punctuation around it ("end." has length 3). Without a tokenizer
model this follows Dolma's Gopher tagger (text.split()) rather than DataTrove's NLTK tokenizer. Lines are the
non-empty lines; paragraphs are separated by blank lines.

Repetition, in characters of words (spaces not counted, as in Dolma):
    top n-gram fraction (n = 2, 3, 4): characters of the most frequent n-gram times its count, over all word
        characters, when that n-gram occurs more than once (one occurrence is no repetition); of n-grams tied
        for most frequent, the one with the most characters (so the order of the text does not matter);
    duplicate n-gram fraction (n = 5..10): characters of the words covered by any n-gram that occurs more than
        once, each word counted once however many duplicates cover it (the paper's "not counted twice"),
        over all word characters.
A fraction rule set to 1.0 never removes anything.
"""

import dataclasses
import string
from collections import Counter

from tfpretrain.config import ConfigError

PUNCTUATION = string.punctuation + "…“”‘’«»–—•‣◦"
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")  # the paper's list
BULLETS = ("•", "‣", "◦", "-", "*")  # DataTrove's "•" and Dolma's "*", "-"
ELLIPSES = ("...", "…")
TOP_NGRAM_SIZES = (2, 3, 4)
DUPLICATE_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)


@dataclasses.dataclass(frozen=True)
class GopherConfig:
    enabled: bool = False  # on in configs/data/*.yaml
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1  # "#" and ellipses, each per word
    max_bullet_line_fraction: float = 0.9
    max_ellipsis_line_fraction: float = 0.3
    min_alpha_word_fraction: float = 0.8  # words with at least one letter
    min_stop_words: int = 2  # occurrences of STOP_WORDS (case-insensitive)
    max_duplicate_line_fraction: float = 0.3
    max_duplicate_line_char_fraction: float = 0.2
    max_duplicate_paragraph_fraction: float = 0.3
    max_duplicate_paragraph_char_fraction: float = 0.2
    top_ngram_char_fractions: list[float] = dataclasses.field(default_factory=lambda: [0.20, 0.18, 0.16])  # n=2,3,4
    duplicate_ngram_char_fractions: list[float] = dataclasses.field(
        default_factory=lambda: [0.15, 0.14, 0.13, 0.12, 0.11, 0.10])  # n = 5..10

    def __post_init__(self):
        for key, message in self._problems():
            raise ConfigError("<config>", key, message)

    def _problems(self):
        """-> [(key, message)] for values that cannot be thresholds."""
        out = []
        if self.min_words < 0 or self.max_words < self.min_words:
            out.append(("max_words", f"must be >= min_words >= 0, got {self.min_words}..{self.max_words}"))
        if self.max_mean_word_length < self.min_mean_word_length:
            out.append(("max_mean_word_length", "must be >= min_mean_word_length"))
        if len(self.top_ngram_char_fractions) != len(TOP_NGRAM_SIZES):
            out.append(("top_ngram_char_fractions", "needs 3 values, for 2-, 3- and 4-grams"))
        if len(self.duplicate_ngram_char_fractions) != len(DUPLICATE_NGRAM_SIZES):
            out.append(("duplicate_ngram_char_fractions", "needs 6 values, for 5- to 10-grams"))
        fractions = [f.name for f in dataclasses.fields(self) if "fraction" in f.name and f.type is float]
        fractions.append("max_symbol_word_ratio")
        for name in fractions:
            if not 0.0 <= getattr(self, name) <= 1.0:
                out.append((name, f"must be in [0, 1], got {getattr(self, name)}"))
        for name in ("top_ngram_char_fractions", "duplicate_ngram_char_fractions"):
            if any(not 0.0 <= v <= 1.0 for v in getattr(self, name)):
                out.append((name, "every value must be in [0, 1]"))
        return out


def words_of(text):
    """Whitespace tokens with something besides punctuation, punctuation around them removed."""
    stripped = (token.strip(PUNCTUATION) for token in text.split())
    return [w for w in stripped if w]


def _duplicates(items):
    """-> (number of items equal to an earlier one, their characters)."""
    seen, count, chars = set(), 0, 0
    for item in items:
        if item in seen:
            count, chars = count + 1, chars + len(item)
        seen.add(item)
    return count, chars


def top_ngram_char_fraction(words, n):
    """Characters in the most frequent n-gram (the longest of ties) times its count / all word characters (0 when
    none repeats)."""
    total = sum(len(w) for w in words)
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams or not total:
        return 0.0
    count = max(grams.values())
    longest = max(sum(len(w) for w in gram) for gram, c in grams.items() if c == count)  # ties: the longest
    return 0.0 if count < 2 else count * longest / total


def duplicate_ngram_char_fraction(words, n):
    """Characters of the words covered by a repeated n-gram (each word once) / all word characters."""
    total = sum(len(w) for w in words)
    starts = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(starts)
    covered = [False] * len(words)
    for i, gram in enumerate(starts):
        if counts[gram] > 1:
            covered[i : i + n] = [True] * n
    return sum(len(w) for w, c in zip(words, covered) if c) / total if total else 0.0


def _quality(text, words, c):
    """The quality rules -> the first rule broken, or None."""
    if len(words) < c.min_words:
        return "min_words"
    if len(words) > c.max_words:
        return "max_words"
    mean_length = sum(len(w) for w in words) / max(len(words), 1)
    if mean_length < c.min_mean_word_length:
        return "min_mean_word_length"
    if mean_length > c.max_mean_word_length:
        return "max_mean_word_length"
    n = max(len(words), 1)
    ellipses = sum(text.count(e) for e in ELLIPSES)
    if text.count("#") / n > c.max_symbol_word_ratio or ellipses / n > c.max_symbol_word_ratio:
        return "max_symbol_word_ratio"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and sum(line.startswith(BULLETS) for line in lines) / len(lines) > c.max_bullet_line_fraction:
        return "max_bullet_line_fraction"
    if lines and sum(line.endswith(ELLIPSES) for line in lines) / len(lines) > c.max_ellipsis_line_fraction:
        return "max_ellipsis_line_fraction"
    tokens = text.split()
    if tokens and sum(any(ch.isalpha() for ch in t) for t in tokens) / len(tokens) < c.min_alpha_word_fraction:
        return "min_alpha_word_fraction"
    if sum(w.lower() in STOP_WORDS for w in words) < c.min_stop_words:
        return "min_stop_words"
    return None


def _repetition(text, words, c):
    """The repetition rules (table A1) -> the first rule broken, or None."""
    for unit, parts in (("line", [s.strip() for s in text.splitlines() if s.strip()]),
                        ("paragraph", [p.strip() for p in text.split("\n\n") if p.strip()])):
        if not parts:
            continue
        count, chars = _duplicates(parts)
        if count / len(parts) > getattr(c, f"max_duplicate_{unit}_fraction"):
            return f"max_duplicate_{unit}_fraction"
        if chars / sum(len(p) for p in parts) > getattr(c, f"max_duplicate_{unit}_char_fraction"):
            return f"max_duplicate_{unit}_char_fraction"
    # A repeated (n+1)-gram holds a repeated n-gram: once no n-gram repeats, no longer one does (fraction 0).
    for sizes, limits, fraction, name in ((TOP_NGRAM_SIZES, c.top_ngram_char_fractions, top_ngram_char_fraction,
                                           "top"),
                                          (DUPLICATE_NGRAM_SIZES, c.duplicate_ngram_char_fractions,
                                           duplicate_ngram_char_fraction, "duplicate")):
        for n, limit in zip(sizes, limits):
            value = fraction(words, n)
            if value > limit:
                return f"{name}_{n}gram_char_fraction"
            if value == 0.0:
                break
    return None


def gopher_filter(text, config):
    """-> (keep, rule): rule names the first rule the text breaks (quality rules first), None when kept."""
    words = words_of(text)
    rule = _quality(text, words, config) or _repetition(text, words, config)
    return rule is None, rule
