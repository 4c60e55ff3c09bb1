"""Ghost clipping (training/privacy/ghost_clipping.py, layer_calls.py, layer_norms.py).

References: per-example gradients materialised in numpy for the norm formulas (a Dense layer; an embedding used both
as lookup and as tied output projection, whose norm needs the cross term), and the exact per-example implementation
(dp_sgd.clipped_gradient_sum, vectorised per-example gradients) for whole models: the clipped sums must agree to
1e-5 relative to the largest gradient entry (measured: ~2e-7) on the three tasks, eagerly-traced and under XLA, and
with dropout on under the same masks.
test_dp_sgd.py runs enable_dp (ghost by default) against separate-tape references, with accumulation, XLA and
MirroredStrategy over 2 logical CPUs.
"""

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tests.support.dp_reference import SMALL, flat, per_example_reference
from tfpretrain.config import ConfigError
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM
from tfpretrain.training.experiment import load_experiment
from tfpretrain.training.privacy import dp_sgd, ghost_clipping, layer_norms

RELATIVE_TOLERANCE = 1e-5  # of the largest entry of the oracle's clipped sum


def _task_and_features(kind, rng):
    keras.utils.set_random_seed(0)
    if kind == "pretrainer":
        return (BertPretrainer(factories.bert_backbone(**SMALL)),
                factories.bert_pretraining_features(rng, batch=4, length=8, predictions=3, vocab=50))
    if kind == "classifier":
        return (BertClassifier(factories.bert_backbone(**SMALL), num_classes=3, dropout=0.0),
                factories.classifier_features(rng, batch=4, length=8, num_classes=3, vocab=50))
    return (GPT2CausalLM(factories.gpt2_backbone(**SMALL)),
            factories.causal_lm_features(rng, batch=4, length=8, vocab=50))


# -- norm formulas against numpy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["gram", "direct", "auto"])
def test_dense_norms_equal_numpy_per_example_gradients(mode, rng):
    """Dense over [B, T, d_in]: example b's kernel gradient a_b^T g_b [d_in, d_out], bias gradient sum_t g_bt."""
    a, g = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 6))
    kernel = np.einsum("btu,btw->buw", a, g)
    bias = g.sum(axis=1)
    got_kernel = layer_norms.squared_norms([layer_norms.outer(tf.constant(a), tf.constant(g))], mode)
    got_bias = layer_norms.squared_norms([layer_norms.direct(tf.constant(bias))], mode)
    np.testing.assert_allclose(got_kernel, (kernel**2).sum(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(got_bias, (bias**2).sum(axis=1), rtol=1e-5)


@pytest.mark.parametrize("mode", ["gram", "direct", "auto"])
def test_tied_embedding_norm_includes_the_cross_term(mode, rng):
    """Table [V, H] used as lookup (ids [B, T], output gradient [B, T, H]) and as projection (logits = x E^T: x
    [B, P, H], logit gradient [B, P, V]): the norm of the sum, not the sum of the norms."""
    vocab, hidden = 7, 3
    ids = rng.integers(0, vocab, (2, 6))
    ids[0, :3] = 4  # repeated ids: several rows of the lookup gradient land on one table row
    lookup_grad, x, logit_grad = rng.normal(size=(2, 6, hidden)), rng.normal(size=(2, 4, hidden)), rng.normal(
        size=(2, 4, vocab))
    lookup = np.zeros((2, vocab, hidden))
    for b in range(2):
        np.add.at(lookup[b], ids[b], lookup_grad[b])
    projection = np.einsum("bpv,bph->bvh", logit_grad, x)
    terms = [layer_norms.outer(tf.constant(ids), tf.constant(lookup_grad), vocabulary=vocab),
             layer_norms.outer(tf.constant(logit_grad), tf.constant(x))]
    expected = ((lookup + projection) ** 2).sum(axis=(1, 2))
    np.testing.assert_allclose(layer_norms.squared_norms(terms, mode), expected, rtol=1e-5)
    separate = (lookup**2).sum(axis=(1, 2)) + (projection**2).sum(axis=(1, 2))
    assert not np.allclose(expected, separate, rtol=1e-3)  # the cross term matters here


# -- whole models against the exact per-example implementation ----------------------------------------------------
def _exact(model, features, l2_norm_clip, jit_compile=False):
    features = {k: tf.constant(v) for k, v in features.items()}
    variables = model.trainable_variables
    return tf.function(lambda f: dp_sgd.clipped_gradient_sum(model, f, variables, l2_norm_clip),
                       jit_compile=jit_compile)(features)


def _ghost(model, features, l2_norm_clip, jit_compile=False, mode="auto"):
    features = {k: tf.constant(v) for k, v in features.items()}
    variables = model.trainable_variables
    return tf.function(lambda f: ghost_clipping.clipped_gradient_sum(model, f, variables, l2_norm_clip, mode),
                       jit_compile=jit_compile)(features)


def _median_norm(model, features):
    """The median per-example gradient norm, from separate tapes (so that some examples get clipped)."""
    norms = np.linalg.norm(per_example_reference(model, features), axis=1)
    return float(np.median(norms)), list(norms)


@pytest.fixture(scope="module")
def cases():
    """kind -> (model, features, C the median per-example norm, the norms), each built once: the clipped sums only
    read the weights, so the XLA test reuses the eager test's pretrainer (and its separate-tape norms)."""
    built = {}

    def case(kind):
        if kind not in built:
            model, features = _task_and_features(kind, np.random.default_rng(0))
            built[kind] = (model, features, *_median_norm(model, features))
        return built[kind]

    return case


def _assert_equal(exact, ghost):
    reference = flat(exact[1])
    assert np.abs(flat(ghost[1]) - reference).max() <= RELATIVE_TOLERANCE * np.abs(reference).max()
    assert float(ghost[2]) == float(exact[2])  # the same examples clipped
    for a, b in zip(tf.nest.flatten(exact[0]), tf.nest.flatten(ghost[0])):  # outputs for metrics and the logged loss
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind, modes", [("classifier", ["auto"]), ("pretrainer", ["auto"]),
                                         ("causal_lm", ["gram", "direct"])],
                         ids=lambda value: "+".join(value) if isinstance(value, list) else value)
def test_clipped_sum_equals_the_per_example_implementation(kind, modes, cases):
    """Ghost's norm modes only change the ghost side: the exact sum is traced once per model for all of them."""
    model, features, l2_norm_clip, norms = cases(kind)
    assert min(norms) < l2_norm_clip < max(norms)
    exact = _exact(model, features, l2_norm_clip)
    for mode in modes:
        _assert_equal(exact, _ghost(model, features, l2_norm_clip, mode=mode))


def test_clipped_sum_equals_the_per_example_implementation_under_xla(cases):
    """BertPretrainer has every layer type: tied lookup + MLM projection, MLM bias, segments, positions, norms."""
    model, features, l2_norm_clip, _ = cases("pretrainer")
    _assert_equal(_exact(model, features, l2_norm_clip, jit_compile=True),
                  _ghost(model, features, l2_norm_clip, jit_compile=True))


def test_equal_with_dropout_under_the_same_masks(rng):
    """Both paths draw one seed per Dropout layer and the same masks from it: restore the generators in between."""
    keras.utils.set_random_seed(0)
    model = BertClassifier(factories.bert_backbone(**SMALL, dropout=0.3), num_classes=3, dropout=0.3)
    features = factories.classifier_features(rng, batch=4, length=8, num_classes=3, vocab=50)
    generators = [m._generator for m in model.submodules if getattr(m, "_generator", None) is not None]
    assert len(generators) >= 4
    states = [g.state.numpy() for g in generators]
    features = {k: tf.constant(v) for k, v in features.items()}
    variables = model.trainable_variables
    exact = tf.function(lambda f: dp_sgd.clipped_gradient_sum(model, f, variables, 1e-2))(features)
    for g, state in zip(generators, states):
        g.state.assign(state)
    ghost = tf.function(lambda f: ghost_clipping.clipped_gradient_sum(model, f, variables, 1e-2))(features)
    _assert_equal(exact, ghost)
    assert float(ghost[2]) == 4  # all clipped: the norms are compared too


# -- refusals and the setting ----------------------------------------------------------------------------------------
def test_unknown_layers_are_refused_naming_the_variables():
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.Conv1D(2, 2, name="conv"), keras.layers.Dense(1)])
    with pytest.raises(ghost_clipping.GhostClippingUnsupported, match=r"conv \(Conv1D: conv/kernel.*per_example"):
        ghost_clipping.check_supported(model)


def test_a_variable_read_outside_its_layers_call_is_refused(rng):
    model, features = _task_and_features("classifier", rng)
    extra = keras.layers.Dense(3, name="extra")  # a known layer type, never called: its kernel is read directly
    extra.build((None, 3))
    model.extra = extra
    numerators = model.example_loss_numerators
    model.example_loss_numerators = lambda f, logits: numerators(f, logits @ extra.kernel)
    with pytest.raises(ghost_clipping.GhostClippingUnsupported, match=r"\[.kernel:0.\] get a gradient"):
        ghost_clipping.clipped_gradient_sum(model, features, model.trainable_variables, 1.0)


def test_clipping_setting_defaults_to_ghost_and_names_the_key():
    good = {"model": {"preset": "bert_tiny"}, "data": {"train": "unused"}}
    assert load_experiment(data=good).trainer.dp.clipping == "ghost"
    chosen = load_experiment(data=good, overrides=["trainer.dp.clipping=per_example"])
    assert chosen.trainer.dp.clipping == "per_example"
    with pytest.raises(ConfigError, match=r"trainer\.dp\.clipping"):
        load_experiment(data=good, overrides=["trainer.dp.clipping=fast"])
    model, _ = _task_and_features("classifier", np.random.default_rng(0))
    with pytest.raises(ValueError, match="clipping must be one of"):
        dp_sgd.enable_dp(model, 1.0, 1.0, clipping="fast")
    dp_sgd.enable_dp(model, 1.0, 1.0, clipping="per_example")
    assert model.gradient_strategy.clipping == "per_example"
