"""The document filters of `prepare`, in order: language -> gopher (quality + repetition) -> c4 (line edits).

FineWeb's order: the language decision first, Gopher's rules on the text as written, then C4's line rules, which
edit the text the corpus keeps. Each filter is off unless its `enabled` is set (configs/data/*.yaml set them).
"""

import dataclasses

from tfpretrain.config import ConfigError
from tfpretrain.data.language import LanguageConfig, language_filter
from tfpretrain.data.quality_c4 import C4Config, c4_filter
from tfpretrain.data.quality_gopher import GopherConfig, gopher_filter

FILTERS = ("language", "gopher", "c4")


@dataclasses.dataclass(frozen=True)
class QualityConfig:
    language: LanguageConfig = dataclasses.field(default_factory=LanguageConfig)
    gopher: GopherConfig = dataclasses.field(default_factory=GopherConfig)
    c4: C4Config = dataclasses.field(default_factory=C4Config)
    # removed_samples.jsonl: this many removed documents per filter (chosen by hash), each cut to sample_chars
    samples_per_filter: int = 3
    sample_chars: int = 1000

    def __post_init__(self):
        for name in ("samples_per_filter", "sample_chars"):
            if getattr(self, name) < 0:
                raise ConfigError("<config>", name, f"must be >= 0, got {getattr(self, name)}")

    @property
    def enabled(self):
        """Names of the filters that run, in order."""
        return [name for name in FILTERS if getattr(self, name).enabled]


@dataclasses.dataclass(frozen=True)
class Verdict:
    text: str | None  # the kept (possibly edited) text; None when a filter removed the document
    filter: str | None = None  # the filter that removed it
    rule: str | None = None  # the rule of that filter
    lines_removed: dict = dataclasses.field(default_factory=dict)  # C4 line rule -> lines removed


def apply_filters(text, config):
    """Run the enabled filters on one (normalised, scrubbed) document -> Verdict."""
    if config.language.enabled:
        keep, rule = language_filter(text, config.language)
        if not keep:
            return Verdict(None, "language", rule)
    if config.gopher.enabled:
        keep, rule = gopher_filter(text, config.gopher)
        if not keep:
            return Verdict(None, "gopher", rule)
    if config.c4.enabled:
        edited, rule, lines = c4_filter(text, config.c4)
        return Verdict(edited, "c4" if rule else None, rule, lines)
    return Verdict(text)
