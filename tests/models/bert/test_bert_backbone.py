"""BertBackbone: the model harness, embed / encode as the forward pass, padding invariance, clear errors."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import factories
from tests.support.model_harness import check_model
from tfpretrain.data import features as F
from tfpretrain.models.bert.bert_backbone import BertBackbone

H = factories.BERT_KWARGS["hidden_dim"]


@functools.cache
def bert():
    return factories.bert_backbone()


def _inputs(rng, batch=4, length=16):
    return {k: v for k, v in factories.classifier_features(rng, batch, length).items() if k in F.BERT_INPUTS}


def test_harness(rng, tmp_path):
    check_model(factories.bert_backbone, _inputs(rng), {"sequence_output": (4, 16, H), "pooled_output": (4, H)},
                tmp_path)


def test_call_is_encode_of_embed(rng):
    """The three users of the forward pass (call, attributions with token embeddings passed in) share one code path."""
    inputs = _inputs(rng)
    backbone = bert()
    expected = backbone(inputs)
    via_ids = backbone.encode(backbone.embed(inputs, training=False), inputs[F.PADDING_MASK], training=False)
    tokens = backbone.token_embedding(inputs[F.TOKEN_IDS])
    via_embeddings = backbone.encode(backbone.embed({F.SEGMENT_IDS: inputs[F.SEGMENT_IDS]}, token_embeddings=tokens),
                                     inputs[F.PADDING_MASK])
    for key in expected:
        np.testing.assert_array_equal(via_ids[key], expected[key])
        np.testing.assert_array_equal(via_embeddings[key], expected[key])


@settings(max_examples=10, deadline=None)
@given(length=st.integers(2, 12), seed=st.integers(0, 2**16))
def test_ignores_padding_content_and_amount(length, seed):
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


def test_heads_must_divide_hidden_dim():
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        BertBackbone(**{**factories.BERT_KWARGS, "num_heads": 3})


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: {**f, F.TOKEN_IDS: f[F.TOKEN_IDS].astype(np.float32)}, "must be an integer tensor"),
        (lambda f: {**f, F.TOKEN_IDS: f[F.TOKEN_IDS][..., None]}, "must have rank 2"),
        (lambda f: {k: np.tile(v, (1, 3)) for k, v in f.items()}, "longer than max_sequence_length=32"),
        (lambda f: {k: v for k, v in f.items() if k != F.SEGMENT_IDS}, "missing key"),
        (lambda f: f[F.TOKEN_IDS], "expects a dict"),
    ],
)
def test_bad_inputs_raise_one_clear_error(change, message, rng):
    with pytest.raises(ValueError, match=message):
        bert()(change(_inputs(rng)))
