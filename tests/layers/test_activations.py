"""The activations against scipy in float64: BERT's exact GELU x * Phi(x) and its derivative Phi(x) + x phi(x),
in graph mode and under XLA (each lowers erf its own way); GPT-2's tanh form against its closed form."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import erf

from tfpretrain.layers.activations import get_activation

X = np.concatenate([np.linspace(-12.0, 12.0, 20001), np.random.default_rng(0).normal(size=5000) * 3.0]).astype(
    np.float32)


def _value_and_gradient(fn, jit):
    @tf.function(jit_compile=jit)
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return y, tape.gradient(y, x)

    return [t.numpy().astype(np.float64) for t in run(tf.constant(X))]


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_exact_gelu_and_its_gradient_match_float64(jit):
    x = X.astype(np.float64)
    cdf = 0.5 * (1.0 + erf(x / np.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
    y, dy = _value_and_gradient(get_activation("gelu"), jit)
    # float32 spacing at |x| = 12 is 9.5e-7: an ulp of the largest values. (0.5 x (1 + erf(x / sqrt 2)), the
    # form XLA computes faster, is 1.9e-6 off there and 6e-5 relative in the negative tail: it fails this test.)
    np.testing.assert_allclose(y, x * cdf, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dy, cdf + x * pdf, rtol=0, atol=1e-6)
    core = np.abs(x) < 3.0  # near zero and in the negative tail, relative accuracy too
    np.testing.assert_allclose(y[core], (x * cdf)[core], rtol=5e-6, atol=1e-9)


def test_tanh_gelu_matches_its_closed_form():
    x = X.astype(np.float64)
    expected = 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    y, _ = _value_and_gradient(get_activation("gelu_new"), False)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)
