"""Layer-level invariants: KV cache equivalence, causality, padding invariance, masked-position MLM head."""

import functools

import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import factories
from tfpretrain.data import features as F
from tfpretrain.layers.attention_masks import causal_attention_mask, causal_padding_attention_mask
from tfpretrain.layers.multi_head_attention import MultiHeadAttention


@functools.cache
def gpt2():
    return factories.gpt2_backbone()


@functools.cache
def bert():
    return factories.bert_backbone()


def test_cached_attention_matches_full_attention(rng):
    layer = MultiHeadAttention(num_heads=2)
    x = tf.constant(rng.normal(size=(2, 6, 8)), tf.float32)
    full = layer(x, attention_mask=causal_attention_mask(6, 6))
    cache = tf.zeros([2, 2, 6, 2, 4])
    prefix, cache = layer(x[:, :4], attention_mask=causal_attention_mask(4, 6), cache=cache)
    steps = [prefix]
    for i in (4, 5):
        out, cache = layer(
            x[:, i : i + 1], attention_mask=causal_attention_mask(1, 6, i), cache=cache, cache_update_index=i
        )
        steps.append(out)
    np.testing.assert_allclose(tf.concat(steps, axis=1), full, atol=1e-5)


def test_causal_padding_mask_shape_and_values():
    mask = causal_padding_attention_mask(tf.constant([[1, 1, 0]]))
    np.testing.assert_array_equal(mask[0], [[1, 0, 0], [1, 1, 0], [1, 1, 0]])


@settings(max_examples=15, deadline=None)
@given(t=st.integers(0, 10), seed=st.integers(0, 2**16))
def test_gpt2_output_at_t_ignores_later_tokens(t, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, factories.VOCAB, (1, 12)).astype(np.int32)
    changed = ids.copy()
    changed[0, t + 1 :] = rng.integers(1, factories.VOCAB, 11 - t)
    mask = np.ones_like(ids)
    a = gpt2()({F.TOKEN_IDS: ids, F.PADDING_MASK: mask})
    b = gpt2()({F.TOKEN_IDS: changed, F.PADDING_MASK: mask})
    np.testing.assert_allclose(a[0, : t + 1], b[0, : t + 1], atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(length=st.integers(2, 12), seed=st.integers(0, 2**16))
def test_bert_ignores_padding_content_and_amount(length, seed):
    rng = np.random.default_rng(seed)
    backbone = bert()
    ids = rng.integers(5, factories.VOCAB, (1, length)).astype(np.int32)
    base = {F.TOKEN_IDS: ids, F.SEGMENT_IDS: np.zeros_like(ids), F.PADDING_MASK: np.ones_like(ids)}
    pad = 16 - length
    padded = {
        F.TOKEN_IDS: np.concatenate([ids, rng.integers(1, factories.VOCAB, (1, pad))], 1).astype(np.int32),
        F.SEGMENT_IDS: np.zeros((1, 16), np.int32),
        F.PADDING_MASK: (np.arange(16) < length).astype(np.int32)[None],
    }
    a, b = backbone(base), backbone(padded)
    np.testing.assert_allclose(a["sequence_output"], b["sequence_output"][:, :length], atol=1e-5)
    np.testing.assert_allclose(a["pooled_output"], b["pooled_output"], atol=1e-5)


def test_mlm_head_at_positions_equals_head_over_all_positions(rng):
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer

    model = BertPretrainer(factories.bert_backbone())
    features = factories.bert_pretraining_features(rng, batch=2, length=8, predictions=3)
    everywhere = dict(features, masked_lm_positions=np.tile(np.arange(8, dtype=np.int32), (2, 1)))
    some = model(features)["mlm_logits"].numpy()
    full = model(everywhere)["mlm_logits"].numpy()
    expected = np.take_along_axis(full, features[F.MASKED_LM_POSITIONS][..., None], axis=1)
    np.testing.assert_allclose(some, expected, atol=1e-5)
    assert some.dtype == np.float32 and some.shape == (2, 3, factories.VOCAB)
