"""Language identification for `prepare`: keep documents in the configured languages.

The identifier is py3langid 0.4 (a maintained fork of Lui & Baldwin's langid.py: a naive Bayes model over byte
n-grams, ISO 639-1 codes); its model ships inside the wheel, so nothing is downloaded at run time. Scores are its
normalised probabilities in [0, 1] (a softmax tempered by the square root of the text's length in bytes): a document
is kept when its most likely language is one of `languages` with a probability of at least `min_score` (0.65, as
FineWeb keeps fastText's scores).
"""

import dataclasses
import functools

from tfpretrain.config import ConfigError

MAX_CHARS = 10_000  # identification reads the start of long documents only: enough evidence, bounded time


@dataclasses.dataclass(frozen=True)
class LanguageConfig:
    enabled: bool = False  # on in configs/data/*.yaml
    languages: list[str] = dataclasses.field(default_factory=lambda: ["en"])
    min_score: float = 0.65

    def __post_init__(self):
        for key, message in self._problems():
            raise ConfigError("<config>", key, message)

    def _problems(self):
        out = []
        if not 0.0 <= self.min_score <= 1.0:
            out.append(("min_score", f"must be in [0, 1], got {self.min_score}"))
        if not self.languages:
            out.append(("languages", "no languages given"))
        unknown = sorted(set(self.languages) - set(known_languages())) if self.enabled else []
        if unknown:
            out.append(("languages", f"{unknown} unknown to the identifier; it knows {sorted(known_languages())}"))
        return out


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def known_languages():
    return tuple(_identifier().labels)


def identify(text):
    """-> (ISO 639-1 code, probability) of the most likely language of `text`."""
    language, score = _identifier().classify(text[:MAX_CHARS])
    return str(language), float(score)


def language_filter(text, config):
    """-> (keep, rule): rule is "language" (another language) or "min_score" (too unsure), None when kept."""
    language, score = identify(text)
    if language not in config.languages:
        return False, "language"
    if score < config.min_score:
        return False, "min_score"
    return True, None
