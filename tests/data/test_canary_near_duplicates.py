"""Canaries planted as near-duplicates (data/canaries.py near_duplicate_copies): exact dedup keeps every copy,
near-dedup (data/near_dedup.py, a Beam pipeline on the DirectRunner) collapses each canary's copies to one, in the
transform and in the shards `prepare` writes."""

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import BeamAssertException, assert_that

from tests.support.corpus import IN_MEMORY, corpus_config, read_records, write_corpus
from tests.support.near_duplicates import exact_jaccard, planted_corpus
from tfpretrain.data import canaries as C
from tfpretrain.data.manifest import read_manifest, shard_paths
from tfpretrain.data.minhash import NearDedupConfig
from tfpretrain.data.near_dedup import NearDedup
from tfpretrain.data.pii import dedup_key
from tfpretrain.data.prepare import prepare

PLANTED = C.make_canaries(C.CanaryConfig(count=2, repetitions=[1, 4, 16]))
COPIES = [t for c in PLANTED for t in C.near_duplicate_copies(c, c["repetitions"])]
CORPUS, _ = planted_corpus(seed=5, documents=20, levels=[], per_level=0)


def _check(expected):
    """A matcher (run inside the pipeline): every corpus document kept, `expected[secret]` copies of each canary."""

    def match(lists):
        texts = [text for _, text in lists[0]]
        counts = {c["secret"]: sum(t.endswith(c["text"]) for t in texts) for c in PLANTED}
        if counts != expected or sum(t in texts for t in CORPUS) != len(CORPUS):
            raise BeamAssertException(f"surviving canary copies {counts}, expected {expected}")

    return match


def _run(near_dedup, expected):
    with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
        docs = (pipeline | beam.Create([(dedup_key(t), t) for t in CORPUS + COPIES + COPIES[:3]])
                | "Dedup" >> beam.CombinePerKey(min))  # COPIES[:3]: exact repeats as well
        if near_dedup:
            docs = docs | NearDedup(NearDedupConfig(enabled=True))
        assert_that(docs | beam.combiners.ToList(), _check(expected))


def test_copies_are_distinct_near_duplicates():
    assert len(set(COPIES)) == len(COPIES) == sum(c["repetitions"] for c in PLANTED)
    copies = [t for t in COPIES if t.endswith(PLANTED[-1]["text"])]
    assert all(0.85 < exact_jaccard(copies[0], t, 5) < 1 for t in copies[1:])


@pytest.mark.parametrize("near_dedup", [False, True])
def test_near_duplicate_canaries_collapse_only_under_near_dedup(near_dedup):
    _run(near_dedup, {c["secret"]: 1 if near_dedup else c["repetitions"] for c in PLANTED})


def test_the_check_can_fail():
    with pytest.raises(Exception, match="surviving canary copies"):
        _run(False, {c["secret"]: 1 for c in PLANTED})


@pytest.mark.slow  # two prepare runs at sequence_length 1024
def test_prepare_shards_hold_one_copy_of_each_near_duplicate_canary_under_near_dedup(tmp_path):
    """GPT-2 prepare with 2 canaries x 4 near-duplicate copies: the shards hold 4 copies of each without near-dedup,
    1 with it; secrets counted in the decoded windows; the tokenizer never trained on a copy."""
    from tokenizers import Tokenizer

    pattern = write_corpus(tmp_path / "corpus")
    planted = {"count": 2, "repetitions": [4], "near_duplicates": True}
    seen = {}
    for near in (False, True):
        out = tmp_path / f"near_{near}"
        prepare(corpus_config("gpt2", pattern, out, sequence_length=1024, canaries=planted,
                              near_dedup={"enabled": near}), IN_MEMORY)
        manifest = read_manifest(out)
        tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
        spec = {"token_ids": tf.io.FixedLenFeature([1024], tf.int64)}
        windows = [tokenizer.decode(tf.io.parse_single_example(r, spec)["token_ids"].numpy().tolist())
                   for path in shard_paths(manifest, "train") for r in read_records(path)]
        secrets = [c["secret"] for c in C.read_key(out / "canaries.json")["canaries"]]
        seen[near] = [sum(w.count(f"my secret code is {s}") for w in windows) for s in secrets]
        # canary copies are counted apart: the corpus lost nothing to near-dedup, 2 of 8 copies survived it
        assert manifest["stages"]["near_duplicates_removed"] == 0
        assert manifest["stages"]["canary_copies_kept"] == (2 if near else 8)
    assert seen == {False: [4, 4], True: [1, 1]}
