"""GPT2CausalLM: the model harness, the next-token loss over real targets, the tied output projection.
(generate(): tests/models/test_sampling.py.)"""

import functools

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tests.support.fused_loss import check_fused_loss
from tests.support.model_harness import check_model
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM


def _lm():
    return GPT2CausalLM(factories.gpt2_backbone())


@functools.cache
def lm():
    """One model for the tests that do not train it (a build costs about a second)."""
    return _lm()


def test_harness(rng, tmp_path):
    check_model(_lm, factories.causal_lm_features(rng), (4, 16, factories.VOCAB), tmp_path)


def test_loss_skips_padding_targets(rng):
    model = lm()
    features = factories.causal_lm_features(rng)
    logits = model(features).numpy()
    ids, mask = features[F.TOKEN_IDS], features[F.PADDING_MASK]
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(ids[:, 1:], logits[:, :-1]).numpy()
    expected = (ce * mask[:, 1:]).sum() / mask[:, 1:].sum()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = model.evaluate(features, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    assert logs["perplexity"] == pytest.approx(np.exp(expected), rel=1e-5)
    right = logits[:, :-1].argmax(-1) == ids[:, 1:]  # the last position predicts nothing and is not counted
    assert logs["accuracy"] == pytest.approx((right * mask[:, 1:]).sum() / mask[:, 1:].sum(), abs=1e-6)


def test_output_projection_is_the_token_embedding(rng):
    """The LM head adds no weights: logits = hidden @ E^T."""
    model = lm()
    features = factories.causal_lm_features(rng)
    assert len(model.trainable_weights) == len(model.backbone.trainable_weights)
    hidden = model.backbone(features).numpy()
    table = model.backbone.token_embedding.embeddings.numpy()
    np.testing.assert_allclose(model(features).numpy(), hidden @ table.T, rtol=1e-5, atol=1e-5)


def test_fused_loss_trains_like_the_materialised_logits_and_never_builds_them(rng, monkeypatch):
    """24-row chunks of 2 x 16 positions per micro-batch: 2 chunks, the last padded."""
    check_fused_loss(lambda rows: GPT2CausalLM(factories.gpt2_backbone(), gradient_accumulation_steps=2,
                                               loss_chunk_rows=rows),
                     factories.causal_lm_features(rng), 4, monkeypatch, chunk_rows=24)


def test_loss_chunk_rows_is_validated_and_serialised():
    assert GPT2CausalLM(factories.gpt2_backbone(), loss_chunk_rows=0).fused_loss_numerators({}) is None
    with pytest.raises(ValueError, match="loss_chunk_rows"):
        GPT2CausalLM(factories.gpt2_backbone(), loss_chunk_rows=-1)
    model = GPT2CausalLM(factories.gpt2_backbone(), loss_chunk_rows=96)
    assert GPT2CausalLM.from_config(model.get_config()).loss_chunk_rows == 96
