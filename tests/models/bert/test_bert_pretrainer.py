"""BertPretrainer: the model harness, the loss, MLM logits only at the masked positions, the tied embedding."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tests.support.fused_loss import check_fused_loss
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


def test_fused_mlm_loss_trains_like_the_materialised_logits_and_never_builds_them(rng, monkeypatch):
    """3-row chunks of 2 x 4 masked positions per micro-batch (the output bias and NSP head included): the last
    chunk padded; weights 0 at some positions."""
    logs = check_fused_loss(lambda rows: BertPretrainer(factories.bert_backbone(), gradient_accumulation_steps=2,
                                                        loss_chunk_rows=rows),
                            factories.bert_pretraining_features(rng), 4, monkeypatch, chunk_rows=3)
    assert {"mlm_accuracy", "mlm_perplexity", "nsp_accuracy"} <= set(logs)


def test_loss_chunk_rows_is_validated_and_serialised():
    with pytest.raises(ValueError, match="loss_chunk_rows"):
        BertPretrainer(factories.bert_backbone(), loss_chunk_rows=-1)
    model = BertPretrainer(factories.bert_backbone(), loss_chunk_rows=0)
    assert model.fused_loss_numerators({}) is None
    assert BertPretrainer.from_config(model.get_config()).loss_chunk_rows == 0
