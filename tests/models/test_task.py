"""Task train_step contracts shared by every task: the logged gradient norm, exact gradient accumulation,
precision policies. (Each task's own tests, the model harness with its XLA check included: tests/models/bert, gpt2.)"""

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
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


def _one_sgd_step(kind, features, weights, accumulation):
    """-> (logs, trainable weights before, after) of one SGD(0.5) step from `weights`."""
    model = _task(kind, gradient_accumulation_steps=accumulation)
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    before = [w.numpy() for w in model.trainable_weights]  # model.weights also holds metric totals
    logs = model.train_on_batch(features, return_dict=True)
    return logs, before, [w.numpy() for w in model.trainable_weights]


@pytest.fixture(scope="module", params=TASKS)
def sgd_steps(request):
    """{accumulation steps: one SGD step's (logs, weights before, after)} from the same weights and batch of 4;
    shared by the tests below (each train step costs a trace of seconds)."""
    kind = request.param
    features = _features(kind, np.random.default_rng(0), batch=4)
    weights = _task(kind).get_weights()  # the fresh metric totals in here are zeros for both runs
    return {accumulation: _one_sgd_step(kind, features, weights, accumulation) for accumulation in (1, 2)}


def test_logged_gradient_norm_is_the_applied_gradients_norm(sgd_steps):
    """With SGD the weight change is lr * gradient, so its norm / lr is the gradient's global norm (with and without
    accumulation)."""
    for logs, before, after in sgd_steps.values():
        delta = np.sqrt(sum(((b - a) ** 2).sum() for b, a in zip(before, after)))
        np.testing.assert_allclose(logs["gradient_norm"], delta / 0.5, rtol=1e-4)


def test_gradient_accumulation_equals_one_large_batch(sgd_steps):
    (logs_1, _, after_1), (logs_2, _, after_2) = sgd_steps[1], sgd_steps[2]
    np.testing.assert_allclose(logs_2["loss"], logs_1["loss"], rtol=1e-5)
    for a, b in zip(after_1, after_2):
        np.testing.assert_allclose(a, b, atol=1e-5)


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


def test_accumulation_steps_must_be_positive():
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        _task("causal_lm", gradient_accumulation_steps=0)


class _ConstantGradients:
    """A gradient strategy (the hook DP-SGD uses) whose gradients are all 1 and that logs one metric."""

    def __init__(self):
        self.calls = keras.metrics.Sum(name="strategy_calls")
        self.metrics = [self.calls]

    def gradients(self, task, features, denominators):
        self.calls.update_state(1.0)
        return tf.constant(0.0), [tf.ones_like(v) for v in task.trainable_variables]


def test_a_gradient_strategy_supplies_the_applied_gradients_and_its_metrics(rng):
    model = _task("causal_lm")
    features = _features("causal_lm", rng)
    model(features)
    model.set_gradient_strategy(_ConstantGradients())
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    before = [w.numpy() for w in model.trainable_weights]
    logs = model.train_on_batch(features, return_dict=True)
    for b, w in zip(before, model.trainable_weights):
        np.testing.assert_allclose(b - w.numpy(), 0.5, rtol=1e-6)
    assert logs["strategy_calls"] == 1.0
    assert logs["gradient_norm"] == pytest.approx(np.sqrt(sum(b.size for b in before)), rel=1e-6)
    model.set_gradient_strategy(None)  # back to the exact gradients: weights move by something else than 0.5
    before = [w.numpy() for w in model.trainable_weights]
    logs = model.train_on_batch(features, return_dict=True)
    assert "strategy_calls" not in logs
    assert not np.allclose(before[0] - model.trainable_weights[0].numpy(), 0.5)
