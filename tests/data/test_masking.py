"""Dynamic masking properties: never special/padding, exact counts, static shapes, 80/10/10, whole words."""

import numpy as np
import tensorflow as tf
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tfpretrain.data import features as F
from tfpretrain.data.masking import mask_tokens

PAD, CLS, SEP, MASK = 0, 1, 2, 3
SPECIAL = (PAD, CLS, SEP, MASK)
VOCAB = 50


def _batch(rng, batch, length):
    lengths = rng.integers(3, length + 1, batch)
    mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int32)
    ids = rng.integers(4, VOCAB, (batch, length)).astype(np.int32)
    ids[:, 0] = CLS
    ids[np.arange(batch), lengths - 1] = SEP
    return ids * mask, mask


def _mask(ids, mask, seed=(1, 2), **kwargs):
    kwargs = {
        "vocabulary_size": VOCAB,
        "mask_token_id": MASK,
        "special_token_ids": SPECIAL,
        "max_predictions": 5,
        **kwargs,
    }
    return {k: v.numpy() for k, v in mask_tokens(ids, mask, tf.constant(seed), **kwargs).items()}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**30), batch=st.integers(1, 4), length=st.integers(5, 24), rate=st.floats(0.05, 0.5))
@example(seed=0, batch=1, length=5, rate=0.49999999999999994)  # rounds differently in float32
def test_masks_only_real_tokens_with_exact_counts(seed, batch, length, rate):
    rng = np.random.default_rng(seed)
    ids, mask = _batch(rng, batch, length)
    out = _mask(ids, mask, seed=(seed, 0), mask_rate=rate)
    positions, weights = out[F.MASKED_LM_POSITIONS], out[F.MASKED_LM_WEIGHTS]
    assert positions.shape == (batch, 5) and weights.shape == (batch, 5)
    candidates = ((mask == 1) & ~np.isin(ids, SPECIAL)).sum(1)
    # float32 like the graph (0.49999999999999994 becomes 0.5 there; np.round and tf.round both round half to even)
    expected = np.minimum(np.clip(np.round(candidates.astype(np.float32) * np.float32(rate)), 1, 5), candidates)
    np.testing.assert_array_equal(weights.sum(1), expected)
    for row in range(batch):
        real = positions[row][weights[row] > 0]
        assert len(set(real)) == len(real)  # no position twice
        assert (mask[row, real] == 1).all() and not np.isin(ids[row, real], SPECIAL).any()
        np.testing.assert_array_equal(out[F.MASKED_LM_IDS][row][weights[row] > 0], ids[row, real])
        untouched = np.setdiff1d(np.arange(length), real)
        np.testing.assert_array_equal(out[F.TOKEN_IDS][row, untouched], ids[row, untouched])


def test_replacement_proportions_are_80_10_10():
    rng = np.random.default_rng(0)
    ids, mask = _batch(rng, 256, 64)
    out = _mask(ids, mask, max_predictions=10)
    real = out[F.MASKED_LM_WEIGHTS].ravel() > 0
    rows = np.repeat(np.arange(256), 10)[real]
    flat_pos = out[F.MASKED_LM_POSITIONS].ravel()[real]
    new, old = out[F.TOKEN_IDS][rows, flat_pos], ids[rows, flat_pos]
    assert abs((new == MASK).mean() - 0.8) < 0.03
    assert abs((new == old).mean() - 0.1) < 0.03  # kept (a random draw equal to the original is rare)


def test_same_seed_same_mask_and_different_seed_differs():
    ids, mask = _batch(np.random.default_rng(1), 4, 32)
    a, b, c = _mask(ids, mask, (7, 7)), _mask(ids, mask, (7, 7)), _mask(ids, mask, (8, 7))
    np.testing.assert_array_equal(a[F.TOKEN_IDS], b[F.TOKEN_IDS])
    assert not np.array_equal(a[F.MASKED_LM_POSITIONS], c[F.MASKED_LM_POSITIONS])


def test_whole_word_masking_takes_every_piece_of_a_word():
    # vocabulary ids >= 30 are "##" continuation pieces; words here are [w, ##, ##] triples after [CLS]
    table = np.arange(VOCAB) >= 30
    ids = np.array([[CLS] + [10, 30, 31] * 6 + [SEP]], np.int32)
    mask = np.ones_like(ids)
    for seed in range(20):
        out = _mask(ids, mask, (seed, 1), max_predictions=6, mask_rate=0.3, continuation_table=table)
        picked = set(out[F.MASKED_LM_POSITIONS][0][out[F.MASKED_LM_WEIGHTS][0] > 0].tolist())
        words = {(p - 1) // 3 for p in picked}
        assert picked == {1 + 3 * w + k for w in words for k in range(3)}


def test_runs_inside_tf_data_and_xla():
    ids, mask = _batch(np.random.default_rng(2), 2, 16)
    fn = tf.function(
        lambda i, m: mask_tokens(
            i,
            m,
            tf.constant([1, 2]),
            vocabulary_size=VOCAB,
            mask_token_id=MASK,
            special_token_ids=SPECIAL,
            max_predictions=4,
        ),
        jit_compile=True,
    )
    out = fn(tf.constant(ids), tf.constant(mask))
    assert out[F.MASKED_LM_POSITIONS].shape == (2, 4)
