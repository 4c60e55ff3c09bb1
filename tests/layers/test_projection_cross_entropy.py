"""The fused, chunked projection + cross-entropy against the materialised head: numpy's log-softmax for the values,
TensorFlow's autodiff of sparse_softmax_cross_entropy_with_logits for the gradients. Row counts that do not divide
into chunks (padding), one chunk larger than the rows, zero weights, graph and XLA."""

import numpy as np
import pytest
import tensorflow as tf

from tfpretrain.layers.projection_cross_entropy import projection_cross_entropy

ROWS, WIDTH, VOCABULARY = 37, 16, 101


def _inputs():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(ROWS, WIDTH)).astype(np.float32)
    table = (rng.normal(size=(VOCABULARY, WIDTH)) * 0.5).astype(np.float32)
    labels = rng.integers(0, VOCABULARY, ROWS).astype(np.int32)
    labels[::3] = np.argmax(hidden @ table.T, axis=1)[::3]  # some hits
    weights = rng.uniform(0.5, 2.0, ROWS).astype(np.float32)
    weights[::5] = 0.0
    return hidden, table, labels, weights


@pytest.mark.parametrize("chunk_rows,with_bias", [(8, False), (37, True), (64, False), (16, True)])
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_values_and_gradients_equal_the_materialised_head(chunk_rows, with_bias, jit):
    hidden, table, labels, weights = _inputs()
    bias_values = np.random.default_rng(1).normal(size=VOCABULARY).astype(np.float32) if with_bias else None
    h, e = tf.constant(hidden), tf.constant(table)
    b = tf.constant(bias_values if with_bias else np.zeros(VOCABULARY, np.float32))

    @tf.function(jit_compile=jit)
    def fused():
        with tf.GradientTape() as tape:
            tape.watch([h, e, b])
            loss, hits = projection_cross_entropy(h, e, labels, weights, chunk_rows, bias=b if with_bias else None)
            scaled = 0.3 * loss  # a non-unit upstream gradient
        return loss, hits, tape.gradient(scaled, [h, e, b])

    @tf.function(jit_compile=jit)
    def materialised():
        with tf.GradientTape() as tape:
            tape.watch([h, e, b])
            logits = tf.matmul(h, e, transpose_b=True) + b
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits) * weights)
            scaled = 0.3 * loss
        return tape.gradient(scaled, [h, e, b])

    loss, hits, (grad_h, grad_e, grad_b) = fused()
    logits = hidden.astype(np.float64) @ table.astype(np.float64).T
    if with_bias:
        logits += bias_values
    log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    expected = np.sum((log_z - logits[np.arange(ROWS), labels]) * weights)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(hits) == pytest.approx(float(np.sum((logits.argmax(1) == labels) * weights)), rel=1e-6)
    assert float(hits) > 0
    reference_h, reference_e, reference_b = materialised()
    np.testing.assert_allclose(grad_h.numpy(), reference_h.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_e.numpy(), reference_e.numpy(), rtol=1e-4, atol=1e-6)
    if with_bias:
        np.testing.assert_allclose(grad_b.numpy(), reference_b.numpy(), rtol=1e-4, atol=1e-6)
    else:
        assert grad_b is None  # not an input of the head


def test_mixed_precision_inputs_give_float32_sums_and_input_dtype_gradients():
    hidden, table, labels, weights = _inputs()
    h, e = tf.constant(hidden, tf.bfloat16), tf.constant(table, tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch([h, e])
        loss, hits = projection_cross_entropy(h, e, labels, weights, 16)
    grad_h, grad_e = tape.gradient(loss, [h, e])
    assert loss.dtype == hits.dtype == tf.float32
    assert grad_h.dtype == grad_e.dtype == tf.bfloat16
    logits = hidden @ table.T
    log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    assert float(loss) == pytest.approx(np.sum((log_z - logits[np.arange(ROWS), labels]) * weights), rel=2e-2)
