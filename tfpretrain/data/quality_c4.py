"""C4's line and page rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer", section 2.2; tensorflow_datasets c4_utils and DataTrove's C4QualityFilter), as one
pure function: text -> (edited text or None, rule, {line rule: lines removed}).

Line by line (lines of the text, stripped; blank lines are kept as paragraph breaks but never counted):
    a line with a word longer than max_word_length characters goes;
    Wikipedia-style citation marks ([1], [edit], [citation needed]) are removed from the line;
    a line not ending in terminal punctuation (. ? ! " ') or ending in "..." goes;
    a line with fewer than min_words_per_line words goes;
    "lorem ipsum" anywhere in a kept line removes the document; so does a curly brace "{";
    a line mentioning "javascript" goes, and one with cookie / terms-of-use boilerplate.
Then a document with fewer than min_sentences sentences in its kept lines goes, and one with no line left.
Sentences are counted without a tokenizer model: runs of ". ? !" followed by a space or the end of the line end one
(DataTrove uses NLTK's Punkt, which also knows abbreviations such as "e.g." — this count can be higher on text full
of them).
"""

import dataclasses
import re

from tfpretrain.config import ConfigError

CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
TERMINAL = (".", "?", "!", '"', "'", "”", "’")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
SENTENCE_END = re.compile(r"[.?!]+[\"'”’)\]]*(?=\s|$)")


@dataclasses.dataclass(frozen=True)
class C4Config:
    enabled: bool = False  # on in configs/data/*.yaml
    terminal_punctuation: bool = True  # drop lines that do not end in . ? ! " '
    min_words_per_line: int = 3
    max_word_length: int = 1000  # drop lines with a longer word
    min_sentences: int = 5  # drop documents with fewer sentences left
    remove_citations: bool = True
    javascript: bool = True  # drop lines mentioning javascript
    policy: bool = True  # drop cookie / terms-of-use lines
    lorem_ipsum: bool = True  # drop documents with "lorem ipsum"
    curly_braces: bool = True  # drop documents with "{"

    def __post_init__(self):
        for key, message in self._problems():
            raise ConfigError("<config>", key, message)

    def _problems(self):
        return [(name, f"must be >= 0, got {getattr(self, name)}")
                for name in ("min_words_per_line", "max_word_length", "min_sentences") if getattr(self, name) < 0]


def count_sentences(line):
    """Sentence ends in a line: runs of . ? ! (closing quotes/brackets allowed) before a space or the end."""
    return len(SENTENCE_END.findall(line))


def _line_rule(line, c):
    """-> (rule that drops the line or None, rule that drops the whole document or None, the edited line)."""
    words = line.split()
    if c.max_word_length and any(len(w) > c.max_word_length for w in words):
        return "too_long_word", None, line
    if c.remove_citations:
        words = CITATION.sub("", line).split()
        line = " ".join(words)
    if c.terminal_punctuation and (not line.endswith(TERMINAL) or line.endswith(("...", "…"))):
        return "no_terminal_punctuation", None, line
    if len(words) < c.min_words_per_line:
        return "too_few_words", None, line
    lower = line.lower()
    if c.lorem_ipsum and "lorem ipsum" in lower:
        return None, "lorem_ipsum", line
    if c.curly_braces and "{" in line:
        return None, "curly_braces", line
    if c.javascript and "javascript" in lower:
        return "javascript", None, line
    if c.policy and any(p in lower for p in POLICY_PHRASES):
        return "policy", None, line
    return None, None, line


def c4_filter(text, config):
    """-> (kept text or None, document rule or None, {line rule: lines removed}).

    Kept lines keep their order and the blank lines between paragraphs (never two in a row, none at the ends)."""
    removed, kept, sentences = {}, [], 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if kept and kept[-1]:
                kept.append("")
            continue
        line_rule, document_rule, line = _line_rule(line, config)
        if document_rule:
            return None, document_rule, removed
        if line_rule:
            removed[line_rule] = removed.get(line_rule, 0) + 1
            continue
        kept.append(line)
        sentences += count_sentences(line)
    if sentences < config.min_sentences:
        return None, "min_sentences", removed
    text = "\n".join(kept).strip("\n")
    return (text, None, removed) if text else (None, "no_lines_left", removed)
