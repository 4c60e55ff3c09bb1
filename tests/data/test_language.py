"""Language identification with py3langid's shipped model: sentences in several languages, the keep/drop decision
and its score threshold, and the config's checks."""

import dataclasses

import pytest

from tfpretrain.config import ConfigError
from tfpretrain.data.language import LanguageConfig, identify, language_filter
from tfpretrain.data.prepare_config import load_prepare_config

SENTENCES = {
    "en": "The children walked along the river and watched the boats coming back to the harbour before dinner.",
    "de": "Die Kinder gingen am Fluss entlang und sahen den Booten zu, die vor dem Abendessen in den Hafen kamen.",
    "fr": "Les enfants marchaient le long de la rivière et regardaient les bateaux rentrer au port avant le dîner.",
    "es": "Los niños caminaban junto al río y miraban cómo los barcos volvían al puerto antes de la cena.",
    "it": "I bambini camminavano lungo il fiume e guardavano le barche tornare al porto prima di cena.",
    "nl": "De kinderen liepen langs de rivier en keken naar de boten die voor het avondeten terugkwamen in de haven.",
    "ru": "Дети шли вдоль реки и смотрели, как лодки возвращаются в гавань перед ужином.",
    "ja": "子供たちは川沿いを歩き、夕食の前に船が港に戻ってくるのを眺めていた。",
}


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_identifies_sentences_in_several_languages(language):
    code, score = identify(SENTENCES[language])
    assert code == language and 0.9 < score <= 1.0


def test_keeps_the_configured_languages_at_the_score_threshold():
    english = LanguageConfig(enabled=True)
    assert language_filter(SENTENCES["en"], english) == (True, None)
    assert language_filter(SENTENCES["de"], english) == (False, "language")
    both = LanguageConfig(enabled=True, languages=["en", "de"])
    assert language_filter(SENTENCES["de"], both) == (True, None)
    vague = "ok ok 123"
    code, score = identify(vague)
    assert score < 1.0
    at = dataclasses.replace(english, languages=[code], min_score=score)
    assert language_filter(vague, at) == (True, None)
    assert language_filter(vague, dataclasses.replace(at, min_score=min(1.0, score + 1e-6))) == (False, "min_score")


def test_bad_language_settings_name_the_key():
    base = {"family": "gpt2", "sources": ["x"], "output": "o"}
    with pytest.raises(ConfigError, match=r"quality.language.languages: \['xx'\] unknown to the identifier"):
        load_prepare_config(data={**base, "quality": {"language": {"enabled": True, "languages": ["en", "xx"]}}})
    with pytest.raises(ConfigError, match=r"quality.language.min_score: must be in \[0, 1\]"):
        load_prepare_config(data={**base, "quality": {"language": {"min_score": 1.5}}})
