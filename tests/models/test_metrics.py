"""models/metrics.py against independent references: numpy's argmax and Keras' SparseCategoricalAccuracy."""

import numpy as np
import pytest
import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.models.metrics import Perplexity, TopOneAccuracy


@pytest.mark.parametrize("shape", [(6, 11), (3, 5, 97)])
def test_top_one_accuracy_equals_argmax_accuracy_weighted(shape):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=shape).astype(np.float32)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    labels.flat[::2] = logits.argmax(-1).flat[::2]  # about half right, so the test can tell right from wrong
    weights = rng.uniform(size=shape[:-1]).astype(np.float32)
    expected = np.sum((logits.argmax(-1) == labels) * weights) / np.sum(weights)

    ours, theirs = TopOneAccuracy(), keras.metrics.SparseCategoricalAccuracy()
    for metric in (ours, theirs):
        metric.update_state(labels, logits, sample_weight=weights)
    assert 0.3 < expected < 0.9
    assert float(ours.result()) == pytest.approx(expected, abs=1e-6)
    assert float(ours.result()) == pytest.approx(float(theirs.result()), abs=1e-6)


def test_top_one_accuracy_under_xla_accumulates_over_updates():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 4, 8, 50)).astype(np.float32)  # two updates of [4, 8, 50]
    labels = rng.integers(0, 50, size=(2, 4, 8))
    labels[:, :, :4] = logits.argmax(-1)[:, :, :4]
    metric = TopOneAccuracy()

    @tf.function(jit_compile=True)
    def update(labels, logits):
        metric.update_state(labels, logits)

    for i in range(2):
        update(labels[i], logits[i])
    assert float(metric.result()) == pytest.approx(np.mean(logits.argmax(-1) == labels), abs=1e-6)


def test_ties_credit_every_maximal_class_where_argmax_credits_the_first():
    logits = np.array([[1.0, 3.0, 3.0], [0.0, 0.0, 0.0]], np.float32)
    metric = TopOneAccuracy()
    metric.update_state(np.array([2, 1]), logits)  # argmax would say [1, 0]: both wrong
    assert float(metric.result()) == 1.0


def test_perplexity_is_exp_of_the_weighted_mean_loss():
    losses, weights = np.array([[0.5, 2.0], [1.0, 4.0]], np.float32), np.array([[1, 1], [2, 0]], np.float32)
    metric = Perplexity()
    metric.update_state(losses, sample_weight=weights)
    assert float(metric.result()) == pytest.approx(np.exp((0.5 + 2.0 + 2 * 1.0) / 4), rel=1e-6)
