"""BertPretrainer: the model harness, the loss, MLM logits only at the masked positions, the tied embedding."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tests.support.model_harness import check_model
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer


def _pretrainer():
    return BertPretrainer(factories.bert_backbone())


@functools.cache
def pretrainer():
    """One model for the tests that do not train it (a build costs about a second)."""
    return _pretrainer()


def test_harness(rng, tmp_path):
    features = factories.bert_pretraining_features(rng, batch=4, predictions=4)
    check_model(_pretrainer, features, {"mlm_logits": (4, 4, factories.VOCAB), "nsp_logits": (4, 2)}, tmp_path)


def test_loss_is_weighted_mlm_mean_plus_nsp_mean(rng):
    model = pretrainer()
    features = factories.bert_pretraining_features(rng)
    out = model(features)
    mlm = tf.nn.sparse_softmax_cross_entropy_with_logits(features[F.MASKED_LM_IDS], out["mlm_logits"]).numpy()
    w = features[F.MASKED_LM_WEIGHTS]
    nsp = tf.nn.sparse_softmax_cross_entropy_with_logits(features[F.NEXT_SENTENCE_LABELS], out["nsp_logits"])
    expected = (mlm * w).sum() / w.sum() + nsp.numpy().mean()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    assert model.evaluate(features, verbose=0, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)


def test_mlm_head_at_positions_equals_head_over_all_positions(rng):
    model = pretrainer()
    features = factories.bert_pretraining_features(rng, batch=2, length=8, predictions=3)
    everywhere = dict(features, masked_lm_positions=np.tile(np.arange(8, dtype=np.int32), (2, 1)))
    some = model(features)["mlm_logits"].numpy()
    full = model(everywhere)["mlm_logits"].numpy()
    expected = np.take_along_axis(full, features[F.MASKED_LM_POSITIONS][..., None], axis=1)
    np.testing.assert_allclose(some, expected, atol=1e-5)


def test_tied_embedding_is_one_variable():
    model = pretrainer()
    assert len([w for w in model.weights if "token_embedding" in w.name]) == 1
