"""benchmarks/step_parts.py does not rot, and its variants compute the same thing (else the timings compare apples
with pears): the head variants the same loss and accuracy as numpy, the dropout variants masks at the set rate,
the GELU variants the same function, the optimizer variants the same AdamW update.

Never asserts on timings (a benchmark is a script, not a timed test)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.support import load_benchmark


def test_head_variants_give_numpys_loss_and_the_same_accuracy():
    bench = load_benchmark("step_parts")
    variants = bench._head_variants(64, 300)
    losses = {name: float(fn()[0]) for name, fn in variants.items()}
    assert max(losses.values()) - min(losses.values()) < 1e-3 * abs(losses["no_accuracy"])
    accuracy = {name: float(fn.metric.result()) for name, fn in variants.items() if fn.metric is not None}
    assert accuracy["top_one_accuracy"] == accuracy["argmax_accuracy"]
    # numpy's cross-entropy of the same inputs (the variants draw them from default_rng(0) in this order)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, bench.HIDDEN)).astype(np.float64)
    table = rng.normal(size=(300, bench.HIDDEN)).astype(np.float32).astype(np.float64) * 0.02
    labels = rng.integers(0, 300, size=(64,))
    logits = x.astype(np.float32).astype(np.float64) @ table.T
    labels[::2] = logits.argmax(1)[::2]
    log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    assert losses["no_accuracy"] == pytest.approx(float(np.sum(log_z - logits[np.arange(64), labels])), rel=1e-4)
    assert 0.45 < accuracy["top_one_accuracy"] == pytest.approx(float(np.mean(logits.argmax(1) == labels)))


def test_dropout_variants_drop_at_the_rate():
    bench = load_benchmark("step_parts")
    for name, fn in bench._dropout_variants((8, 64, 64)).items():
        dropped = float(np.mean(fn().numpy() == 0.0))
        assert abs(dropped - bench.RATE) < 0.01, name  # 32,768 draws: 4.5 standard deviations is 0.0075


def test_gelu_variants_compute_the_same_gelu_and_gradient():
    """The exact forms agree to float32 rounding; the tanh approximation is a different function (within 1e-3)."""
    from scipy.special import erf

    bench = load_benchmark("step_parts")
    out = {name: [t.numpy().astype(np.float64) for t in fn()] for name, fn in bench._gelu_variants((4, 64, 32)).items()}
    x = tf.random.stateless_normal((4, 64, 32), [0, 2]).numpy().astype(np.float64)
    np.testing.assert_allclose(out["ours"][0], x * 0.5 * (1.0 + erf(x / np.sqrt(2.0))), atol=1e-6)
    np.testing.assert_allclose(out["erf_form"][0], out["ours"][0], atol=2e-6)
    np.testing.assert_allclose(out["erf_form"][1], out["ours"][1], atol=2e-6)
    approximate = np.abs(out["tanh_approximation"][0] - out["ours"][0]).max()
    assert 1e-5 < approximate < 1e-3


def test_optimizer_variants_make_the_same_update():
    """Ours (decay, then the fused kernel) and the elementwise rule, graph and XLA, move the weights alike: after 3
    steps within float32 rounding of each other, and the first step's change is numpy's AdamW step."""
    bench = load_benchmark("step_parts")
    variants = bench._optimizer_variants(50, 8, 1, 16)
    before = [v.numpy().astype(np.float64) for v in variants["ours_graph"].variables]
    first = {}
    for name, fn in variants.items():
        fn()
        first[name] = [v.numpy().astype(np.float64) for v in fn.variables]
        fn(), fn()
    grads = [tf.random.stateless_normal(w.shape, [1, i]).numpy().astype(np.float64) * 1e-3
             for i, w in enumerate(before)]
    # step 1: m_hat = g, v_hat = g^2, so w <- w - lr (g / (|g| + eps) + wd w) where the name decays (not bias/gamma)
    for name, got in first.items():
        for variable, w, g, w1 in zip(variants[name].variables, before, grads, got):
            wd = 0.0 if variable.name.endswith(("bias:0", "gamma:0")) else 0.01
            np.testing.assert_allclose(w1, w - 1e-3 * (g / (np.abs(g) + 1e-6) + wd * w), rtol=1e-5, atol=1e-8,
                                       err_msg=f"{name} {variable.name}")
    final = {name: [v.numpy() for v in fn.variables] for name, fn in variants.items()}
    for name, weights in final.items():
        for a, b in zip(weights, final["elementwise_graph"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=name)


def test_quick_run_and_json(capsys):
    bench = load_benchmark("step_parts")
    assert bench.main(["--quick", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["part"] for r in records] == ["head", "dropout", "gelu", "optimizer"]
    head, dropout, gelu, optimizer = records
    assert set(head["ms"]) == {"argmax_accuracy", "top_one_accuracy", "no_accuracy"} and min(head["ms"].values()) > 0
    assert set(dropout["ms"]) == {"threefry_float", "philox_float", "threefry_uint32", "threefry_16bit"}
    assert dropout["ratio_to_first"]["threefry_float"] == 1.0
    assert set(gelu["ms"]) == {"ours", "erf_form", "tanh_approximation"}
    assert set(optimizer["ms"]) == {"ours_graph", "elementwise_graph", "ours_xla", "elementwise_xla"}
