"""Canaries planted as near-duplicates (data/canaries.py near_duplicate_copies): exact dedup keeps every copy,
near-dedup (data/near_dedup.py, a Beam pipeline on the DirectRunner) collapses each canary's copies to one."""

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import BeamAssertException, assert_that

from tests.support.corpus import IN_MEMORY
from tests.support.near_duplicates import exact_jaccard, planted_corpus
from tfpretrain.data import canaries as C
from tfpretrain.data.minhash import NearDedupConfig
from tfpretrain.data.near_dedup import NearDedup
from tfpretrain.data.pii import dedup_key

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
