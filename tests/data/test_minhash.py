"""MinHash estimator and LSH banding (data/minhash.py) against exact Jaccard and the closed-form S-curve, and the
candidate pairs and union-find of data/near_dedup.py (against a plain BFS over the edges)."""

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.near_duplicates import edit_to_jaccard, exact_jaccard, lexicon, random_document
from tfpretrain.config import ConfigError
from tfpretrain.data.minhash import NearDedupConfig, Signer, band_keys, estimated_jaccard, shingles
from tfpretrain.data.near_dedup import candidate_pairs, components
from tfpretrain.data.prepare_config import load_prepare_config


def _pair_with_jaccard(pair, shared, unique):
    """Two texts of one-word shingles with exactly `shared` common and `unique` own words each: J = s / (s + 2u)."""
    common = [f"p{pair}c{i}" for i in range(shared)]
    return (" ".join(common + [f"p{pair}a{i}" for i in range(unique)]),
            " ".join(common + [f"p{pair}b{i}" for i in range(unique)]))


@pytest.mark.parametrize("num_perm", [64, 256])
def test_estimate_is_within_the_binomial_standard_error_of_exact_jaccard(num_perm):
    """300 random document pairs edited to Jaccard in [0.05, 0.95]: z = (estimate - J) / sqrt(J (1 - J) / k) is
    N(0, 1)-like: every |z| < 4.5, >= 90% within 2, mean within 4 standard errors of 0."""
    rng, words, n = random.Random(num_perm), lexicon(), 5
    signer = Signer(num_perm, seed=1, ngram=n)
    z = []
    for _ in range(300):
        base = random_document(rng, words, rng.randint(60, 200))
        edited, _ = edit_to_jaccard(rng, base, rng.uniform(0.05, 0.95), n, fresh="zz")
        a, b = " ".join(base), " ".join(edited)
        exact = exact_jaccard(a, b, n)
        estimate = estimated_jaccard(signer.signature(a), signer.signature(b))
        z.append((estimate - exact) / math.sqrt(exact * (1 - exact) / num_perm))
    z = np.asarray(z)
    assert np.abs(z).max() < 4.5
    assert np.mean(np.abs(z) < 2) >= 0.90
    assert abs(z.mean()) < 4 / math.sqrt(len(z))


def test_identical_and_disjoint_texts_estimate_one_and_zero():
    signer = Signer(128, seed=1, ngram=3)
    a, b = _pair_with_jaccard(0, shared=0, unique=50)
    assert estimated_jaccard(signer.signature(a), signer.signature(a.upper())) == 1.0  # casefolded shingles
    assert estimated_jaccard(signer.signature(a), signer.signature(b)) < 0.05


@pytest.mark.parametrize("shared,unique", [(40, 20), (60, 20), (70, 15), (80, 10)])  # J = 0.5, 0.6, 0.7, 0.8
def test_band_collision_rate_matches_the_closed_form_s_curve(shared, unique):
    """Empirical P(a shared band key) over 1000 independent pairs vs 1 - (1 - J^r)^b, within 4 binomial sigmas."""
    config = NearDedupConfig(enabled=True)
    bands, rows = config.bands_rows
    signer = Signer(config.num_perm, config.seed, ngram=1)
    jaccard, trials, hits = shared / (shared + 2 * unique), 1000, 0
    for pair in range(trials):
        a, b = _pair_with_jaccard(pair, shared, unique)
        keys_a, keys_b = band_keys(signer.signature(a), bands, rows), band_keys(signer.signature(b), bands, rows)
        hits += bool(set(keys_a) & set(keys_b))
    expected = 1 - (1 - jaccard**rows) ** bands
    sigma = math.sqrt(expected * (1 - expected) / trials)
    assert abs(hits / trials - expected) <= 4 * sigma, (jaccard, bands, rows, hits / trials, expected)


def test_default_bands_find_pairs_above_the_threshold():
    bands, rows = NearDedupConfig().bands_rows
    assert bands * rows <= 256
    assert 1 - (1 - 0.9**rows) ** bands >= 0.995  # a J = 0.9 pair almost surely becomes a candidate
    assert 1 - (1 - 0.5**rows) ** bands <= 0.05  # and a J = 0.5 pair rarely costs a comparison


def test_shingles_are_word_ngrams_of_the_canonical_text():
    assert shingles("A  b\tC d", 2) == {b"a b", b"b c", b"c d"}
    assert shingles("one two", 5) == {b"one two"} and shingles("", 5) == set()


def test_bad_settings_are_config_errors_naming_the_key():
    base = {"family": "gpt2", "sources": ["x"], "output": "o"}
    for key, value in (("threshold", 1.0), ("num_perm", 1), ("ngram", 0), ("seed", -1)):
        with pytest.raises(ConfigError, match=f"near_dedup.{key}: must be"):
            load_prepare_config(data={**base, "near_dedup": {key: value}})
    with pytest.raises(ConfigError, match="near_dedup.bands: unknown key"):
        load_prepare_config(data={**base, "near_dedup": {"bands": 4}})


def _reference_components(nodes, edges):
    adjacent = {v: set() for v in nodes}
    for a, b in edges:
        adjacent[a].add(b)
        adjacent[b].add(a)
    seen, out = set(), []
    for v in sorted(nodes):
        if v in seen:
            continue
        stack, comp = [v], set()
        while stack:
            x = stack.pop()
            if x not in comp:
                comp.add(x)
                stack.extend(adjacent[x] - comp)
        seen |= comp
        out.append(comp)
    return out


def _run_components(edges):
    dropped, stats = {}, []
    for item in components(edges):
        if hasattr(item, "tag"):
            dropped[item.value[0]] = item.value[1]
        else:
            stats.append(item)
    return dropped, stats[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)).filter(lambda e: e[0] != e[1]), max_size=40))
def test_union_find_keeps_the_smallest_key_of_each_connected_component(raw):
    edges = [(f"k{min(e):02d}", f"k{max(e):02d}") for e in raw]
    nodes = {k for e in edges for k in e}
    dropped, stats = _run_components(edges)
    clusters = [c for c in _reference_components(nodes, edges) if len(c) > 1]
    assert dropped == {m: min(c) for c in clusters for m in c if m != min(c)}
    assert stats == {"near_duplicate_clusters": len(clusters), "near_duplicates_removed": len(dropped)}


def test_band_buckets_give_every_pair_or_a_star_around_the_smallest_key():
    small = [f"k{i:03d}" for i in (5, 1, 3)]
    assert sorted(candidate_pairs((("band", b"x"), small + small[:1]))) == [
        ("k001", "k003"), ("k001", "k005"), ("k003", "k005")]
    large = [f"k{i:03d}" for i in range(100, 0, -1)]
    assert sorted(candidate_pairs((("band", b"x"), large))) == [("k001", f"k{i:03d}") for i in range(2, 101)]
