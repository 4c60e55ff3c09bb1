"""Integrated gradients: the embedding-level forward equals the model, completeness holds, padding gets nothing."""

import numpy as np
import pytest

from tests import factories
from tfpretrain.data import features as F
from tfpretrain.evaluation.attribution import (
    _forward_from_token_embeddings,
    baseline_ids,
    integrated_gradients,
    top_tokens,
)
from tfpretrain.models.bert.bert_classifier import BertClassifier


@pytest.fixture(scope="module")
def model():
    # a wide init so a random model is sensitive enough to its tokens for completeness to be a real check
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
