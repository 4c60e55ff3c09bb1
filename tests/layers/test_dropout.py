"""Stateless dropout: rate and scaling, identity at inference, XLA path, a checkpoint restores the mask stream."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tfpretrain.layers.dropout import Dropout


@pytest.mark.parametrize("jit", [False, True])
def test_drops_at_rate_and_rescales(jit):
    layer = Dropout(0.3, seed=1)
    x = tf.ones([400, 250])
    y = tf.function(lambda t: layer(t, training=True), jit_compile=jit)(x).numpy()
    dropped = (y == 0).mean()
    assert abs(dropped - 0.3) < 0.01  # 100k draws: 4 sigma is 0.006
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)


def test_identity_at_inference_and_for_rate_zero():
    x = tf.random.normal([3, 5])
    np.testing.assert_array_equal(Dropout(0.5, seed=1)(x, training=False), x)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True), x)


def test_fresh_mask_each_call_and_checkpoint_restores_stream(tmp_path):
    layer = Dropout(0.5, seed=3)
    x = tf.ones([64, 64])
    layer(x, training=True)
    path = tf.train.Checkpoint(layer=layer).save(str(tmp_path / "ckpt"))
    first, second = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert not np.array_equal(first, second)
    tf.train.Checkpoint(layer=layer).restore(path)
    np.testing.assert_array_equal(layer(x, training=True), first)


def test_rejects_bad_rate():
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)


def test_generator_state_is_not_a_model_weight():
    """Weight files and HF name maps see only model parameters, whatever the dropout rate."""
    with_dropout = factories.bert_backbone(dropout=0.1)
    without = factories.bert_backbone(dropout=0.0)
    assert [w.name for w in with_dropout.weights] == [w.name for w in without.weights]
