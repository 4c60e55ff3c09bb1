"""Integrated gradients for BertClassifier and GPT-2: the embedding-level forward equals the model, completeness
holds, padding (and, for GPT-2, tokens after the explained position) gets nothing."""

import numpy as np
import pytest

from tests.support import factories
from tfpretrain.data import features as F
from tfpretrain.evaluation.explain.integrated_gradients import (
    _forward_from_token_embeddings,
    baseline_ids,
    integrated_gradients,
    top_tokens,
)
from tfpretrain.evaluation.explain.next_token import _hidden_from_token_embeddings, integrated_gradients_next_token
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_classifier import BertClassifier


@pytest.fixture(scope="module")
def model():
    # a wide init so a random model is sensitive enough to its tokens for completeness to be a real check; seeded,
    # since the quadrature error depends on the weights
    keras.utils.set_random_seed(0)
    return BertClassifier(factories.bert_backbone(initializer_range=0.6), num_classes=1)


def _features(rng):
    features = factories.classifier_features(rng, batch=3, length=12)
    features[F.TOKEN_IDS][:, 0] = 2  # [CLS]
    return {k: v for k, v in features.items() if k != F.LABELS}


def test_forward_from_embeddings_equals_the_model(model, rng):
    features = _features(rng)
    expected = model(features).numpy()
    tokens = model.backbone.token_embedding(features[F.TOKEN_IDS])
    got = _forward_from_token_embeddings(model, tokens, features[F.SEGMENT_IDS], features[F.PADDING_MASK])
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("baseline", ["pad", "mask"])
def test_completeness_attributions_sum_to_the_score_difference(model, rng, baseline):
    features = _features(rng)
    result = integrated_gradients(model, features, baseline=baseline, steps=64)
    change = result["score"] - result["baseline_score"]
    assert np.abs(change).max() > 1e-4  # the check has something to check
    np.testing.assert_allclose(result["attributions"].sum(-1), change, atol=5e-3)  # 64-node trapezoid error
    assert (result["attributions"][features[F.PADDING_MASK] == 0] == 0).all()
    scores = 1 / (1 + np.exp(-model(features).numpy()[:, 0]))
    np.testing.assert_allclose(result["score"], scores, atol=1e-5)


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
    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    keras.utils.set_random_seed(0)
    return GPT2CausalLM(factories.gpt2_backbone(initializer_range=0.3))


def _log_probs(lm, features):
    logits = lm(features).numpy()  # [B, S, V]
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def test_gpt2_hidden_from_embeddings_equals_the_model(lm, rng):
    features = factories.causal_lm_features(rng, batch=3, length=12)
    tokens = lm.backbone.token_embedding(features[F.TOKEN_IDS])
    hidden = _hidden_from_token_embeddings(lm, tokens, features[F.PADDING_MASK])
    got = lm.backbone.token_embedding(hidden, reverse=True).numpy()
    np.testing.assert_allclose(got, lm(features).numpy(), atol=1e-4)


@pytest.mark.parametrize("baseline,score", [("zeros", "log_prob"), ("end_token", "log_prob"), ("zeros", "logit")])
def test_gpt2_completeness_and_default_target(lm, rng, baseline, score):
    features = factories.causal_lm_features(rng, batch=3, length=12)
    result = integrated_gradients_next_token(lm, features[F.TOKEN_IDS], features[F.PADDING_MASK],
                                             baseline=baseline, score=score, steps=64)
    change = result["score"] - result["baseline_score"]
    assert np.abs(change).max() > 0.5  # the check has something to check (changes of 0.06-3.4 nats here)
    np.testing.assert_allclose(result["attributions"].sum(-1), change, atol=5e-3)  # measured <= 1.5e-3
    np.testing.assert_allclose(result["delta"], result["attributions"].sum(-1) - change, atol=1e-6)
    last = features[F.PADDING_MASK].sum(-1) - 1  # right-padded rows
    np.testing.assert_array_equal(result["position"], last)
    rows = np.arange(3)
    expected = (_log_probs(lm, features) if score == "log_prob" else lm(features).numpy())[rows, last]  # [B, V]
    np.testing.assert_array_equal(result["target_id"], expected.argmax(-1))
    np.testing.assert_allclose(result["score"], expected.max(-1), atol=1e-4)
    assert (result["attributions"][features[F.PADDING_MASK] == 0] == 0).all()


def test_gpt2_tokens_after_the_position_get_zero_attribution(lm, rng):
    features = factories.causal_lm_features(rng, batch=2, length=12)
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
