"""Integrated gradients for BertClassifier and GPT-2.

Closed forms first: on a model whose explained value is linear in the token embeddings the attributions are exactly
(x - x') . w for any number of steps (GPT-2's logit); under a sigmoid of such a logit (BertClassifier's score) every
token gets (x_i - x'_i) . w times one factor per example, the trapezoid rule's mean of sigmoid' along the path. Then
the real models: their embed / encode path equals the model, completeness holds with a score change far above its
tolerance, and padding (and, for GPT-2, tokens after the explained position) gets nothing."""

import types

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tfpretrain.data import features as F
from tfpretrain.evaluation.explain.integrated_gradients import (
    baseline_ids,
    integrated_gradients,
    logits_from_token_embeddings,
    top_tokens,
)
from tfpretrain.evaluation.explain.next_token import hidden_from_token_embeddings, integrated_gradients_next_token
from tfpretrain.keras import keras
from tfpretrain.layers.token_embedding import TokenEmbedding
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

HIDDEN, LENGTH = 8, 12


class LinearBackbone:
    """A backbone linear in its token embeddings x [B, S, H]: embed adds fixed position vectors P, encode sums the real
    positions' (x + P) through a fixed matrix A, causally per position (GPT-2) or over the whole row (BERT's pooled)."""

    def __init__(self, rng, causal):
        self.causal = causal
        self.token_embedding = TokenEmbedding(factories.VOCAB, HIDDEN)
        self.token_embedding(np.zeros((1, 1), np.int32))  # build; then the table from the test's seeded rng
        self.token_embedding.embeddings.assign(rng.normal(0, 0.5, (factories.VOCAB, HIDDEN)).astype(np.float32))
        self.positions = rng.normal(0, 0.1, (LENGTH, HIDDEN))
        self.matrix = rng.normal(size=(HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)

    def embed(self, inputs, token_embeddings=None, start_index=0, training=None):
        assert token_embeddings is not None and training is False  # attributions pass their points, for inference
        return token_embeddings + tf.constant(self.positions, tf.float32)[: tf.shape(token_embeddings)[1]]

    def encode(self, embeddings, padding_mask, training=None):
        real = embeddings * tf.cast(padding_mask, tf.float32)[..., None]  # [B, S, H]
        if self.causal:
            return tf.cumsum(real, axis=1) @ tf.constant(self.matrix, tf.float32)  # [B, S, H]
        return {"pooled_output": tf.reduce_sum(real, axis=1) @ tf.constant(self.matrix, tf.float32)}  # [B, H]

    def table(self):
        return self.token_embedding.embeddings.numpy().astype(np.float64)  # [V, H]


def _trapezoid_mean(values):
    """The trapezoid rule's mean over [0, 1] of equally spaced samples (numpy's own rule)."""
    return np.trapezoid(values, np.linspace(0.0, 1.0, values.shape[-1]))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("steps", [2, 3, 16])
@pytest.mark.parametrize("baseline", ["zeros", "end_token"])
def test_gpt2_logit_attributions_on_a_linear_model_are_exactly_the_closed_form(rng, steps, baseline):
    """logit_t(p) = sum over real s <= p of (x_s + P_s) A . E_t, so grad_{x_s} = A E_t and attribution_s is
    (x_s - x'_s) . A E_t for s <= p, 0 after p and on padding, whatever the number of steps."""
    backbone = LinearBackbone(rng, causal=True)
    model = types.SimpleNamespace(backbone=backbone, compute_dtype="float32")
    features = factories.causal_lm_features(rng, batch=3, length=LENGTH)
    ids, mask = features[F.TOKEN_IDS], features[F.PADDING_MASK]
    positions, targets = np.array([LENGTH - 1, 3, 5]), np.array([7, 8, 9])
    mask[1:, :6] = 1  # the explained positions are real tokens
    result = integrated_gradients_next_token(model, ids, mask, target_id=targets, position=positions,
                                             baseline=baseline, end_token_id=4, score="logit", steps=steps)
    table = backbone.table()
    x = table[ids]  # [B, S, H]
    x0 = np.where(mask[..., None] == 1, 0.0 if baseline == "zeros" else table[4], x)
    w = table[targets] @ backbone.matrix.T  # [B, H]: A E_t
    expected = np.einsum("bsh,bh->bs", x - x0, w) * mask * (np.arange(LENGTH) <= positions[:, None])
    np.testing.assert_allclose(result["attributions"], expected, rtol=1e-4, atol=1e-5)
    hidden = np.cumsum((x + backbone.positions) * mask[..., None], axis=1) @ backbone.matrix  # [B, S, H]
    score = np.einsum("bh,bh->b", hidden[np.arange(3), positions], table[targets])
    np.testing.assert_allclose(result["score"], score, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["attributions"].sum(-1), score - result["baseline_score"], rtol=1e-4, atol=1e-4)
    assert (np.abs(expected).sum(-1) > 1).all()  # every row has attributions to get right


@pytest.mark.parametrize("steps", [2, 5, 64])
def test_classifier_attributions_under_a_sigmoid_of_a_linear_logit_match_the_closed_form(rng, steps):
    """logit = sum over real s of (x_s + P_s) A u: grad_{x_s} score = sigmoid'(logit) A u along the path, so
    attribution_s = (x_s - x'_s) . A u times the trapezoid mean of sigmoid' over the path's logits. Completeness:
    as the steps grow that mean tends to (sigmoid(l1) - sigmoid(l0)) / (l1 - l0)."""
    backbone = LinearBackbone(rng, causal=False)
    u = rng.normal(size=(HIDDEN, 1))
    head = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(u), bias_initializer="zeros")
    model = types.SimpleNamespace(backbone=backbone, classifier_head=head, compute_dtype="float32")
    features = factories.classifier_features(rng, batch=3, length=LENGTH)
    features[F.TOKEN_IDS][:, 0] = 2  # [CLS]: kept by the baseline
    result = integrated_gradients(model, features, baseline="pad", steps=steps)
    ids, mask = features[F.TOKEN_IDS], features[F.PADDING_MASK]
    table = backbone.table()
    x, x0 = table[ids], table[baseline_ids(ids, mask, (2, 3))]
    w = (backbone.matrix @ u)[:, 0]  # [H]: A u
    logit = lambda e: ((e + backbone.positions) * mask[..., None]).sum(1) @ w  # noqa: E731  [B]
    l1, l0 = logit(x), logit(x0)
    path = l0[:, None] + np.linspace(0, 1, steps)[None] * (l1 - l0)[:, None]  # [B, K]: logits along the path
    factor = _trapezoid_mean(_sigmoid(path) * (1 - _sigmoid(path)))  # [B]
    expected = np.einsum("bsh,h->bs", x - x0, w) * mask * factor[:, None]
    np.testing.assert_allclose(result["attributions"], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result["score"], _sigmoid(l1), rtol=1e-5)
    np.testing.assert_allclose(result["baseline_score"], _sigmoid(l0), rtol=1e-5)
    assert (np.abs(l1 - l0) > 2).sum() >= 2  # the sigmoid bends along these paths: sigmoid' is no constant there
    if steps == 64:
        np.testing.assert_allclose(result["attributions"].sum(-1), _sigmoid(l1) - _sigmoid(l0), atol=2e-3)


# -- the real models ------------------------------------------------------------------------------------------------
COMPLETENESS_TOL = 2e-3  # the 128-node trapezoid rule's error on these models: measured <= 5e-4


def _assert_completeness(result):
    """sum(attributions) = score change within the tolerance, on rows whose change is far above it: all-zero
    attributions fail."""
    change = result["score"] - result["baseline_score"]
    assert (np.abs(change) > 20 * COMPLETENESS_TOL).sum() >= 3  # the check has something to check
    np.testing.assert_allclose(result["attributions"].sum(-1), change, atol=COMPLETENESS_TOL)
    np.testing.assert_allclose(result["delta"], result["attributions"].sum(-1) - change, atol=1e-6)


@pytest.fixture(scope="module")
def model():
    # a wide init so a random model is sensitive enough to its tokens for completeness to be a real check; seeded,
    # since the quadrature error depends on the weights
    keras.utils.set_random_seed(0)
    return BertClassifier(factories.bert_backbone(initializer_range=0.6), num_classes=1)


def _features(rng, batch=3):
    features = factories.classifier_features(rng, batch=batch, length=LENGTH)
    features[F.TOKEN_IDS][:, 0] = 2  # [CLS]
    return {k: v for k, v in features.items() if k != F.LABELS}


def test_classifier_logits_from_embeddings_are_the_models(model, rng):
    features = _features(rng)
    tokens = model.backbone.token_embedding(features[F.TOKEN_IDS])
    got = logits_from_token_embeddings(model, tokens, features[F.SEGMENT_IDS], features[F.PADDING_MASK])
    np.testing.assert_array_equal(got.numpy(), model(features).numpy())  # one forward pass: bit for bit


@pytest.mark.parametrize("baseline", ["pad", "mask"])
def test_completeness_attributions_sum_to_the_score_difference(model, rng, baseline):
    features = _features(rng, batch=6)
    result = integrated_gradients(model, features, baseline=baseline, steps=128)
    _assert_completeness(result)
    assert (result["attributions"][features[F.PADDING_MASK] == 0] == 0).all()
    # The score comes from the batched interpolation pass (other matmul shapes, so other float32 summation
    # orders): a few ulps of a probability, not bit-for-bit.
    np.testing.assert_allclose(result["score"], _sigmoid(model(features).numpy()[:, 0]), rtol=1e-5, atol=1e-5)


def test_baseline_keeps_special_tokens_and_padding():
    ids = np.array([[2, 10, 11, 3, 0]])
    mask = np.array([[1, 1, 1, 1, 0]])
    np.testing.assert_array_equal(baseline_ids(ids, mask, (2, 3), fill_id=4), [[2, 4, 4, 3, 0]])


def test_top_tokens_orders_by_magnitude_and_rejects_bad_arguments(model, rng):
    assert top_tokens([0.1, -0.5, 0.2], ["a", "b", "c"], k=2) == [("b", -0.5), ("c", 0.2)]
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(model, _features(rng), baseline="zeros")


# -- GPT-2 next token -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lm():
    keras.utils.set_random_seed(0)
    return GPT2CausalLM(factories.gpt2_backbone(initializer_range=0.3))


def _log_probs(lm, features):
    logits = lm(features).numpy()  # [B, S, V]
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def test_gpt2_hidden_from_embeddings_is_the_models(lm, rng):
    features = factories.causal_lm_features(rng, batch=3, length=LENGTH)
    tokens = lm.backbone.token_embedding(features[F.TOKEN_IDS])
    hidden = hidden_from_token_embeddings(lm, tokens, features[F.PADDING_MASK])
    np.testing.assert_array_equal(hidden.numpy(), lm.backbone(features).numpy())  # one forward pass: bit for bit


@pytest.mark.parametrize("baseline,score", [("zeros", "log_prob"), ("end_token", "log_prob"), ("zeros", "logit")])
def test_gpt2_completeness_and_default_target(lm, rng, baseline, score):
    features = factories.causal_lm_features(rng, batch=4, length=LENGTH)
    result = integrated_gradients_next_token(lm, features[F.TOKEN_IDS], features[F.PADDING_MASK],
                                             baseline=baseline, score=score, steps=128)
    _assert_completeness(result)
    last = features[F.PADDING_MASK].sum(-1) - 1  # right-padded rows
    np.testing.assert_array_equal(result["position"], last)
    rows = np.arange(4)
    expected = (_log_probs(lm, features) if score == "log_prob" else lm(features).numpy())[rows, last]  # [B, V]
    np.testing.assert_array_equal(result["target_id"], expected.argmax(-1))
    np.testing.assert_allclose(result["score"], expected.max(-1), atol=1e-4)
    assert (result["attributions"][features[F.PADDING_MASK] == 0] == 0).all()


def test_gpt2_tokens_after_the_position_get_zero_attribution(lm, rng):
    features = factories.causal_lm_features(rng, batch=2, length=LENGTH)
    features[F.PADDING_MASK][:] = 1
    ids = features[F.TOKEN_IDS]
    ids[ids == 0] = 7
    # row 0 is explained at position 4 while row 1 (at 11) keeps all 12 columns in the passes
    result = integrated_gradients_next_token(lm, ids, features[F.PADDING_MASK], target_id=[5, 6], position=[4, 11],
                                             steps=16)
    assert (result["attributions"][0, 5:] == 0).all() and (result["attributions"][0, :5] != 0).all()
    changed = ids.copy()
    changed[0, 5:] = 9  # later tokens cannot change the prediction at position 4
    again = integrated_gradients_next_token(lm, changed, features[F.PADDING_MASK], target_id=[5, 6],
                                            position=[4, 11], steps=16)
    np.testing.assert_allclose(again["attributions"][0], result["attributions"][0], atol=1e-6)
    np.testing.assert_allclose(again["score"][0], _log_probs(lm, {F.TOKEN_IDS: changed,
                                                                    F.PADDING_MASK: features[F.PADDING_MASK]})[0, 4, 5],
                               atol=1e-4)


def test_gpt2_rejects_bad_arguments(lm):
    ids, mask = np.array([[5, 6, 7, 0]]), np.array([[1, 1, 1, 0]])
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients_next_token(lm, ids, mask, baseline="pad")
    with pytest.raises(ValueError, match="position"):
        integrated_gradients_next_token(lm, ids, mask, position=3)  # padding
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients_next_token(lm, ids, mask, steps=1)
