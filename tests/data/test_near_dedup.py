"""Near-duplicate removal in `prepare`, end to end: planted near-duplicates at known Jaccard levels are removed
(the smallest content key of each cluster kept), dissimilar edits are kept, the manifest records what happened,
and a killed-then-resumed run writes the same shards as a clean one."""

import hashlib
import json
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.corpus import IN_MEMORY, corpus_config, kill_then_rerun, shard_bytes
from tests.support.near_duplicates import edit_to_jaccard, exact_jaccard, planted_corpus
from tfpretrain.data.manifest import read_manifest
from tfpretrain.data.prepare import prepare
from tfpretrain.data.prepare_config import load_prepare_config

NEAR = {"enabled": True, "threshold": 0.8, "num_perm": 128, "ngram": 5, "seed": 1}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """30 documents; 5 get a copy at Jaccard ~0.93, 5 at ~0.5; one of the ~0.93 originals gets a second copy.

    ~0.93 is 5 standard errors of the 128-permutation estimate above the 0.8 threshold, ~0.5 is 7 below."""
    import random

    texts, pairs = planted_corpus(seed=3, documents=30, levels=[0.93, 0.5], per_level=5, length=(200, 300))
    original = pairs[0][0]
    second, _ = edit_to_jaccard(random.Random(7), texts[original].split(), 0.93, 5, fresh="yy")
    texts.append(" ".join(second))
    directory = tmp_path_factory.mktemp("planted")
    (directory / "a.txt").write_text("\n\n".join(texts[::2]) + "\n")
    (directory / "b.txt").write_text("\n\n".join(texts[1::2]) + "\n")
    return str(directory / "*.txt"), texts, pairs


def _key(text):  # the exact-dedup key of a lower-case, single-spaced text: sha256 of the text itself
    return hashlib.sha256(text.encode()).hexdigest()


def _kept_texts(out):
    return {json.loads(line)["text"] for p in sorted(Path(out, ".work").glob("clean*.jsonl"))
            for line in p.read_text().splitlines()}


def test_planted_near_duplicates_are_removed_and_dissimilar_edits_kept(planted, tmp_path):
    pattern, texts, pairs = planted
    manifest = prepare(corpus_config("gpt2", pattern, tmp_path, near_dedup=NEAR), IN_MEMORY, keep_work=True)
    kept = _kept_texts(tmp_path)
    high = [(a, b) for a, b, j, _ in pairs if j >= 0.8]
    low = [(a, b) for a, b, j, _ in pairs if j < 0.8]
    assert len(high) == 5 and len(low) == 5  # the planted levels fall on their sides of the threshold
    cluster_of_three = [pairs[0][0], pairs[0][1], len(texts) - 1]
    assert exact_jaccard(texts[pairs[0][1]], texts[-1], 5) < exact_jaccard(texts[pairs[0][0]], texts[-1], 5)
    clusters = [cluster_of_three] + [[a, b] for a, b in high[1:]]
    expected_kept = set(texts) - {texts[i] for c in clusters for i in c}
    expected_kept |= {min((texts[i] for i in c), key=_key) for c in clusters}  # the smallest content key
    assert kept == expected_kept
    assert all(texts[a] in kept and texts[b] in kept for a, b in low)
    stages = manifest["stages"]
    assert {k: stages[k] for k in ("near_duplicate_clusters", "near_duplicates_removed", "near_dedup")} == {
        "near_duplicate_clusters": 5, "near_duplicates_removed": 6,
        "near_dedup": {"threshold": 0.8, "num_perm": 128, "bands": 14, "rows": 9, "ngram": 5},
    }
    assert stages["exact_duplicates"] == 0 and stages["kept"] == len(texts) - 6
    assert stages["read"] == stages["too_short"] + stages["exact_duplicates"] + 6 + stages["kept"]
    assert manifest["documents"]["unique"] == len(texts) - 6 and manifest["documents"]["duplicates"] == 0
    assert read_manifest(tmp_path)["stages"] == manifest["stages"]
    card = (tmp_path / "data_card.md").read_text()
    row = "| removed: near-duplicates (5 clusters kept one each; MinHash Jaccard ≥ 0.8, 128 permutations) | 6 |"
    assert row in card


def test_near_dedup_off_keeps_every_document(planted, tmp_path):
    pattern, texts, _ = planted
    manifest = prepare(corpus_config("gpt2", pattern, tmp_path), IN_MEMORY, keep_work=True)
    assert _kept_texts(tmp_path) == set(texts)
    stages = manifest["stages"]
    assert (stages["near_duplicate_clusters"], stages["near_duplicates_removed"], stages["near_dedup"]) == (0, 0, None)
    assert stages["kept"] == len(texts)


@pytest.mark.slow  # a subprocess and three prepare runs
def test_killed_run_with_near_dedup_then_rerun_equals_clean_run(planted, tmp_path):
    """SIGKILL during the clean stage (near-dedup running), re-run: the same shards as an uninterrupted run."""
    pattern, _, _ = planted
    clean, out = tmp_path / "clean", tmp_path / "killed"
    prepare(corpus_config("gpt2", pattern, clean, near_dedup=NEAR), IN_MEMORY)
    manifest = kill_then_rerun("gpt2", pattern, out, wait_for=".work", near_dedup=NEAR)
    assert manifest["stages"]["near_duplicates_removed"] == 6
    assert shard_bytes(out) == shard_bytes(clean)
    assert (out / "tokenizer.json").read_bytes() == (clean / "tokenizer.json").read_bytes()


@pytest.mark.parametrize("name", ["bert_wordpiece", "gpt2_bpe"])
def test_shipped_data_configs_turn_near_dedup_on(name):
    config = load_prepare_config(ROOT / "configs" / "data" / f"{name}.yaml")
    assert config.near_dedup.enabled and config.near_dedup.threshold == 0.8
