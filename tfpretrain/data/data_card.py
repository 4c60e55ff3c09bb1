"""OUT/data_card.md and OUT/removed_samples.jsonl: what `prepare` read, removed and kept, for a person to audit.

The card is the Jinja2 template data/templates/data_card.md.j2 rendered from the manifest (stage counts, filter
settings, PII counts, splits) and the removed-document samples. It lives under data/ because data/ must not import
reporting/ (tests/test_architecture.py); its Markdown escaping mirrors reporting/markdown.md_escape.
"""

import functools
import json
import posixpath
import re

import jinja2

from tfpretrain.atomic import write_text

DATA_CARD_FILE = "data_card.md"
REMOVED_SAMPLES_FILE = "removed_samples.jsonl"
_ENTITY = re.compile(r"&(?=#?\w+;)")


def md(text):
    """One line of Markdown text: whitespace runs to one space, \\ ` * [ ] < > | # and "_" at word edges escaped."""
    text = _ENTITY.sub("&amp;", " ".join(str(text).split()))
    out = []
    for i, ch in enumerate(text):
        inner = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
        out.append("\\" + ch if ch in "\\`*[]<>|#" or (ch == "_" and not inner) else ch)
    return "".join(out)


@functools.cache
def _environment():
    env = jinja2.Environment(loader=jinja2.PackageLoader("tfpretrain.data", "templates"), autoescape=False,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(md=md, count=lambda n: f"{n:,}")
    return env


def sample_records(lines, per_filter):
    """JSON lines of removed samples -> records sorted by (filter, id), at most `per_filter` per filter."""
    records = sorted((json.loads(line) for line in lines if line.strip()), key=lambda r: (r["filter"], r["id"]))
    counts, kept = {}, []
    for record in records:
        counts[record["filter"]] = counts.get(record["filter"], 0) + 1
        if counts[record["filter"]] <= per_filter:
            kept.append(record)
    return kept


def render_data_card(manifest, samples, name):
    """The card's Markdown from a manifest (with "stages" and "config") and sample records."""
    return _environment().get_template("data_card.md.j2").render(
        manifest=manifest, config=manifest["config"], samples=samples, name=name, samples_file=REMOVED_SAMPLES_FILE)


def write_data_card(directory, manifest, samples):
    """Write DIR/removed_samples.jsonl then DIR/data_card.md, each atomically; -> the card's path."""
    directory = str(directory)
    lines = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in samples)
    write_text(posixpath.join(directory, REMOVED_SAMPLES_FILE), lines)
    name = posixpath.basename(directory.rstrip("/")) or directory
    return write_text(posixpath.join(directory, DATA_CARD_FILE), render_data_card(manifest, samples, name))
