"""Task train_step contracts: fit trains, accumulation is exact, precision policies, XLA, metrics."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM


def _task(kind, **kwargs):
    if kind == "pretrainer":
        return BertPretrainer(factories.bert_backbone(), **kwargs)
    if kind == "classifier":
        return BertClassifier(factories.bert_backbone(), num_classes=3, dropout=0.0, **kwargs)
    return GPT2CausalLM(factories.gpt2_backbone(), **kwargs)


def _features(kind, rng, batch=4):
    if kind == "pretrainer":
        return factories.bert_pretraining_features(rng, batch=batch)
    if kind == "classifier":
        return factories.classifier_features(rng, batch=batch, num_classes=3)
    return factories.causal_lm_features(rng, batch=batch)


TASKS = ["pretrainer", "classifier", "causal_lm"]


@pytest.mark.parametrize("kind", TASKS)
def test_fit_with_xla_lowers_the_loss(kind, rng):
    """train_step compiles with jit_compile=True on CPU (the TPU-shape contract) and learns a fixed batch."""
    model = _task(kind)
    data = tf.data.Dataset.from_tensors(_features(kind, rng)).repeat()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
    history = model.fit(data, steps_per_epoch=15, epochs=2, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert set(history) == {m.name for m in model.metrics} and "gradient_norm" in history


def test_logged_gradient_norm_is_the_applied_gradients_norm(rng):
    """With SGD the weight change is lr * gradient, so its norm / lr is the gradient's global norm."""
    model = _task("pretrainer")
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    features = _features("pretrainer", rng)
    model(features)
    before = [w.numpy() for w in model.trainable_weights]
    logs = model.train_on_batch(features, return_dict=True)
    delta = np.sqrt(sum(((b - w.numpy()) ** 2).sum() for b, w in zip(before, model.trainable_weights)))
    np.testing.assert_allclose(logs["gradient_norm"], delta / 0.1, rtol=1e-4)


def _one_sgd_step(kind, features, weights, accumulation):
    model = _task(kind, gradient_accumulation_steps=accumulation)
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    logs = model.train_on_batch(features, return_dict=True)
    return logs["loss"], [w.numpy() for w in model.trainable_weights]  # model.weights also holds metric totals


@pytest.mark.parametrize("kind", TASKS)
def test_gradient_accumulation_equals_one_large_batch(kind, rng):
    features = _features(kind, rng, batch=4)
    weights = _task(kind).get_weights()  # the fresh metric totals in here are zeros for both runs
    loss_1, after_1 = _one_sgd_step(kind, features, weights, 1)
    loss_2, after_2 = _one_sgd_step(kind, features, weights, 2)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-5)
    for a, b in zip(after_1, after_2):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_pretrainer_loss_is_weighted_mlm_mean_plus_nsp_mean(rng):
    model = _task("pretrainer")
    features = factories.bert_pretraining_features(rng)
    out = model(features)
    mlm = tf.nn.sparse_softmax_cross_entropy_with_logits(features[F.MASKED_LM_IDS], out["mlm_logits"]).numpy()
    w = features[F.MASKED_LM_WEIGHTS]
    nsp = tf.nn.sparse_softmax_cross_entropy_with_logits(features[F.NEXT_SENTENCE_LABELS], out["nsp_logits"])
    expected = (mlm * w).sum() / w.sum() + nsp.numpy().mean()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    assert model.evaluate(features, verbose=0, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)


def test_causal_lm_loss_skips_padding_targets(rng):
    model = _task("causal_lm")
    features = factories.causal_lm_features(rng)
    logits = model(features).numpy()
    ids, mask = features[F.TOKEN_IDS], features[F.PADDING_MASK]
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(ids[:, 1:], logits[:, :-1]).numpy()
    expected = (ce * mask[:, 1:]).sum() / mask[:, 1:].sum()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    assert model.evaluate(features, verbose=0, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_keeps_logits_and_loss_in_float32(policy, rng):
    keras.mixed_precision.set_global_policy(policy)
    model = _task("pretrainer")
    features = factories.bert_pretraining_features(rng)
    outputs = model(features)
    assert outputs["mlm_logits"].dtype == tf.float32 and outputs["nsp_logits"].dtype == tf.float32
    assert model.backbone.token_embedding.embeddings.dtype == tf.float32  # float32 master weights
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    if policy == "mixed_float16":  # Keras wraps the optimizer; train_step scales and unscales the loss
        assert isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer)
    data = tf.data.Dataset.from_tensors(features).repeat()
    history = model.fit(data, steps_per_epoch=10, epochs=2, verbose=0).history
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize("num_classes", [1, 2])
def test_binary_classifier_reports_auc(num_classes, rng):
    model = BertClassifier(factories.bert_backbone(), num_classes=num_classes)
    features = factories.classifier_features(rng, batch=8)
    features[F.SAMPLE_WEIGHT] = np.linspace(0.5, 1.5, 8).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = model.fit(tf.data.Dataset.from_tensors(features).repeat(), steps_per_epoch=20, verbose=0).history
    assert {"loss", "accuracy", "auc"} <= set(logs)
    probabilities = model.positive_probability(model(features)).numpy()
    assert probabilities.shape == (8,) and ((0 <= probabilities) & (probabilities <= 1)).all()


def test_fit_accepts_x_y_tuples(rng):
    model = _task("classifier")
    features = factories.classifier_features(rng, num_classes=3)
    labels = features.pop(F.LABELS)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = model.fit(features, labels, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0])


def test_accumulation_steps_must_be_positive():
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        _task("causal_lm", gradient_accumulation_steps=0)
