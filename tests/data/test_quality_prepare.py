"""The quality filters inside `prepare`: manifest.json's "stages" add up on a corpus whose removals are known by
construction, the removed-document samples are scrubbed, stable and few, and data_card.md shows the counts."""

import json
import random
import re

import pytest

from tests.support.corpus import IN_MEMORY, corpus_config
from tfpretrain.data.manifest import read_manifest
from tfpretrain.data.prepare import prepare

SENTENCES = [
    "The old bridge over the river was built of grey stone in the last century.",
    "Children like to watch the boats that come back to the harbour in the evening.",
    "A baker on the corner sells fresh bread and small cakes to the people of the town.",
    "Heavy rain fell all night and the streets were wet when the market opened.",
    "The library keeps maps of the valley that show roads which have since been lost.",
    "Farmers bring apples, pears and honey to the square on every second Saturday.",
    "An old teacher told the class how the mill used the water to grind the grain.",
    "The hills to the north are covered with snow for most of the long winter.",
    "Visitors often stop at the museum to see the clocks that were made in the town.",
    "The train to the coast leaves early and is full of workers with their bags.",
    "In spring the gardens along the canal are bright with tulips and young leaves.",
    "She wrote a letter to her brother and asked him to visit before the harvest.",
    "The council agreed to repair the roof of the school before the autumn term.",
    "Fishermen mend their nets on the beach while the gulls circle above the waves.",
    "A narrow path leads from the church through the woods to a quiet lake.",
    "The doctor walked to the farm on the hill because the road was blocked by snow.",
]
GERMAN = ("Die Kinder gingen am Fluss entlang und sahen den Booten zu, die am Abend in den Hafen zurückkehrten. "
          "Der Bäcker an der Ecke verkauft frisches Brot und kleine Kuchen an die Leute aus der Stadt. ")
# "best offer": 9 characters 8 times in 38 * 8 + 6 word characters = 0.23 > 0.20 (Gopher's top 2-gram rule)
SPAM = "the best offer of the day is here and it is cheap " * 8
EMAIL = "anna.berg@example.org"
ALL_ON = {"language": {"enabled": True}, "gopher": {"enabled": True}, "c4": {"enabled": True},
          "samples_per_filter": 2, "sample_chars": 120}


def _documents():
    rng = random.Random(0)
    english = [" ".join(rng.sample(SENTENCES, 7)) for _ in range(12)]  # 7 distinct sentences: > 50 words each
    german = [GERMAN * 2 + f"Schreiben Sie an {EMAIL} für Nummer {i}." for i in range(3)]
    spam = [f"{SPAM}offer {i}" for i in range(2)]
    braces = [english[i] + " Write the set as {1, 2} here." for i in range(2)]
    short = ["Too short."]
    duplicates = [english[0].upper()]  # an exact duplicate up to case
    return english + german + spam + braces + short + duplicates


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / "docs.txt").write_text("\n\n".join(_documents()) + "\n")
    out = tmp_path_factory.mktemp("out")
    prepare(corpus_config("gpt2", str(corpus / "*.txt"), out, quality=ALL_ON), IN_MEMORY)
    return out


def test_stages_add_up_to_what_the_corpus_was_built_with(prepared):
    manifest = read_manifest(prepared)
    stages = manifest["stages"]
    assert stages["read"] == 21 and stages["too_short"] == 1
    assert stages["filters"] == {"language": 3, "gopher": 2, "c4": 2}
    assert stages["filter_rules"] == {"c4.curly_braces": 2, "gopher.top_2gram_char_fraction": 2,
                                      "language.language": 3}
    assert stages["cleaned"] == 13 and stages["exact_duplicates"] == 1 and stages["kept"] == 12
    assert stages["read"] == stages["too_short"] + sum(stages["filters"].values()) + stages["exact_duplicates"] \
        + stages["near_duplicates_removed"] + stages["kept"]
    assert stages["pii"] == {"email": 3}  # scrubbed in the German documents before they were filtered
    # the older top-level keys stay, consistent with the stages
    assert manifest["documents"]["read"] == 21 and manifest["documents"]["unique"] == 12
    assert manifest["documents"]["duplicates"] == 1 and manifest["documents"]["filtered"] == 7
    assert manifest["splits"]["train"]["documents"] + manifest["splits"]["validation"]["documents"] == 12


def test_removed_samples_are_scrubbed_few_per_filter_and_truncated(prepared):
    lines = (prepared / "removed_samples.jsonl").read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    assert sorted(s["filter"] for s in samples) == ["c4", "c4", "gopher", "gopher", "language", "language"]
    for s in samples:
        assert len(s["text"]) <= 120 and s["truncated"] == (s["characters"] > 120)
    german = [s for s in samples if s["filter"] == "language"]
    assert all(s["characters"] > 120 and s["truncated"] for s in german)
    full = prepared / "removed_samples.jsonl"
    assert EMAIL not in full.read_text() and "anna" not in full.read_text()


def test_samples_are_the_same_on_a_rerun_and_include_scrubbed_text(prepared, tmp_path):
    corpus = next(prepared.parent.glob("corpus*/docs.txt"))
    config = corpus_config("gpt2", str(corpus), tmp_path, quality={**ALL_ON, "sample_chars": 100_000})
    prepare(config, IN_MEMORY)
    again = [json.loads(line) for line in (tmp_path / "removed_samples.jsonl").read_text().splitlines()]
    first = [json.loads(line) for line in (prepared / "removed_samples.jsonl").read_text().splitlines()]
    assert [(s["id"], s["text"][:120]) for s in again] == [(s["id"], s["text"]) for s in first]
    german = [s["text"] for s in again if s["filter"] == "language"]
    assert len(german) == 2 and all("Schreiben Sie an [EMAIL] für" in t and "@" not in t for t in german)


def test_data_card_shows_the_counts(prepared):
    card = (prepared / "data_card.md").read_text()
    assert card.startswith(f"# Data card: {prepared.name}\n")
    rows = dict(re.findall(r"^\| (.+?) \| \**([\d,]+)\** \|$", card, re.M))
    assert rows["read"] == "21" and rows["removed: shorter than 20 characters"] == "1"
    assert rows["removed by the language filter"] == "3" and rows["removed by the gopher filter"] == "2"
    assert rows["removed by the c4 filter"] == "2" and rows["removed: exact duplicates"] == "1"
    assert rows["**kept**"] == "12" and rows["email"] == "3"
    assert rows["gopher.top_2gram_char_fraction"] == "2" and rows["c4.curly_braces"] == "2"
    assert "- **language**: on (languages=" in card and EMAIL not in card
    assert not list(prepared.glob(".data_card*")), "no temp files"
