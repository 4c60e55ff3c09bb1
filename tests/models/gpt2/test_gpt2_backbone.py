"""GPT2Backbone: the model harness, embed / encode as the forward pass and the KV cache, causality."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import factories
from tests.support.model_harness import check_model
from tfpretrain.data import features as F
from tfpretrain.models.gpt2.gpt2_backbone import GPT2Backbone

H = factories.GPT2_KWARGS["hidden_dim"]


@functools.cache
def gpt2():
    return factories.gpt2_backbone()


def test_harness(rng, tmp_path):
    check_model(factories.gpt2_backbone, factories.causal_lm_features(rng), (4, 16, H), tmp_path)


def test_call_is_encode_of_embed(rng):
    inputs = factories.causal_lm_features(rng)
    backbone = gpt2()
    expected = backbone(inputs).numpy()
    via_ids = backbone.encode(backbone.embed(inputs, training=False), inputs[F.PADDING_MASK], training=False)
    tokens = backbone.token_embedding(inputs[F.TOKEN_IDS])
    via_embeddings = backbone.encode(backbone.embed({}, token_embeddings=tokens), inputs[F.PADDING_MASK])
    np.testing.assert_array_equal(via_ids, expected)
    np.testing.assert_array_equal(via_embeddings, expected)


def test_cached_steps_equal_the_full_forward_pass(rng):
    """A 5-token prefill then one token at a time (positions from embed's start_index) gives the full pass's outputs."""
    ids = rng.integers(1, factories.VOCAB, (2, 9)).astype(np.int32)
    backbone = gpt2()
    full = backbone({F.TOKEN_IDS: ids, F.PADDING_MASK: np.ones_like(ids)}).numpy()
    hidden, cache = backbone.call_with_cache(ids[:, :5], backbone.empty_cache(2, 9), 0)
    steps = [hidden.numpy()]
    for index in range(5, 9):
        hidden, cache = backbone.call_with_cache(ids[:, index : index + 1], cache, index)
        steps.append(hidden.numpy())
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(t=st.integers(0, 10), seed=st.integers(0, 2**16))
def test_output_at_t_ignores_later_tokens(t, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, factories.VOCAB, (1, 12)).astype(np.int32)
    changed = ids.copy()
    changed[0, t + 1 :] = rng.integers(1, factories.VOCAB, 11 - t)
    mask = np.ones_like(ids)
    a = gpt2()({F.TOKEN_IDS: ids, F.PADDING_MASK: mask})
    b = gpt2()({F.TOKEN_IDS: changed, F.PADDING_MASK: mask})
    np.testing.assert_allclose(a[0, : t + 1], b[0, : t + 1], atol=1e-5)


def test_heads_must_divide_hidden_dim():
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        GPT2Backbone(**{**factories.GPT2_KWARGS, "num_heads": 3})
