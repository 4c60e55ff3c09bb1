"""trainer.dp.trainable: lora (training/lora.py, layers/lora.py): adapters on every attention projection.

The adapted model equals the loaded one at init (B = 0); only adapters, pooler and head train, and DP-SGD steps leave
every frozen weight where it was; ghost-clipped sums with adapters equal the exact per-example implementation, whose
norms equal separate tapes; the merged model (W + alpha / r B A, numpy) computes what the adapted one did, and a LoRA
fine-tune's RUN/final/ loads back with the predictions of its adapted checkpoint; bad settings name their key."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tests.support.dp_reference import SMALL, flat, per_example_reference
from tests.support.finetuning import tiny_experiment, tiny_inputs
from tfpretrain import runs
from tfpretrain.config import ConfigError
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.layers.lora import LoRADense
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.training.experiment import DPConfig, TrainerConfig
from tfpretrain.training.finetune import finetune, load_finetune_experiment
from tfpretrain.training.lora import add_adapters, merge_adapters
from tfpretrain.training.privacy import dp_sgd, ghost_clipping
from tfpretrain.training.privacy.plan import plan_dp

RANK, ALPHA = 2, 6.0


def _classifier(rng, num_layers=1):
    keras.utils.set_random_seed(0)
    model = BertClassifier(factories.bert_backbone(**{**SMALL, "num_layers": num_layers}), num_classes=3, dropout=0.0)
    features = factories.classifier_features(rng, batch=4, length=8, num_classes=3, vocab=50)
    features[F.SAMPLE_WEIGHT] = np.ones(4, np.float32)
    return model, features


def _logits(model, features):
    return model({k: features[k] for k in model.input_keys}, training=False).numpy()


def _adapters(model):
    return [m for m in model.submodules if isinstance(m, LoRADense)]


def _move_adapters(model, rng):
    """B = 0 leaves A without gradient: give every up-projection random weights."""
    for adapter in _adapters(model):
        for up in adapter.up:
            up.kernel.assign(rng.normal(0.0, 0.5, up.kernel.shape))


def test_adapters_start_at_the_base_model_and_only_they_pooler_and_head_train(rng):
    model, features = _classifier(rng, num_layers=2)
    base = _logits(model, features)
    names = add_adapters(model, RANK, ALPHA)
    np.testing.assert_allclose(_logits(model, features), base, rtol=0, atol=1e-6)
    adapters = _adapters(model)
    assert len(adapters) == 4  # (query/key/value, output) x 2 layers
    expected = {id(v) for a in adapters for v in a.trainable_weights}
    expected |= {id(v) for v in [*model.backbone.pooler.weights, *model.classifier_head.weights]}
    assert {id(v) for v in model.trainable_variables} == expected and len(names) == len(expected)
    assert sum(int(np.prod(v.shape)) for a in adapters for v in a.trainable_weights) == 2 * (
        8 * 3 * RANK + 3 * RANK * 8 + 8 * RANK + RANK * 8)  # A [8, 3r] + 3 B [r, 8]; A [8, r] + B [r, 8]

    frozen = model.backbone.non_trainable_weights  # every other weight of the backbone
    qkv = model.backbone.transformer_layers[0].attention.qkv_dense.base.kernel
    assert len(frozen) + len(expected) - 2 == len(model.backbone.weights) and any(v is qkv for v in frozen)
    before = [v.numpy().copy() for v in frozen]
    trained_before = flat(v.numpy() for v in model.trainable_variables)
    dp_sgd.enable_dp(model, 1.0, 1.0, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    for _ in range(3):
        model.train_on_batch(features)
    for v, b in zip(frozen, before):
        np.testing.assert_array_equal(v.numpy(), b, err_msg=v.name)
    assert np.abs(flat(v.numpy() for v in model.trainable_variables) - trained_before).min() > 0


def test_ghost_norms_with_adapters_equal_per_example_gradients(rng):
    model, features = _classifier(rng)
    add_adapters(model, RANK, ALPHA)
    _move_adapters(model, rng)
    variables = model.trainable_variables
    norms = np.linalg.norm(per_example_reference(model, features), axis=1)  # separate tapes
    l2_norm_clip = float(np.median(norms))
    tensors = {k: tf.constant(v) for k, v in features.items()}
    exact = tf.function(lambda f: dp_sgd.clipped_gradient_sum(model, f, variables, l2_norm_clip))(tensors)
    ghost = tf.function(lambda f: ghost_clipping.clipped_gradient_sum(model, f, variables, l2_norm_clip))(tensors)
    reference = flat(exact[1])
    assert np.abs(reference[:RANK * 24]).max() > 0  # the first A gets a gradient
    assert np.abs(flat(ghost[1]) - reference).max() <= 1e-5 * np.abs(reference).max()
    assert float(ghost[2]) == float(exact[2]) == float((norms > l2_norm_clip).sum()) == 2.0


def test_merged_model_computes_what_the_adapted_one_did(rng):
    model, features = _classifier(rng)
    qkv = model.backbone.transformer_layers[0].attention.qkv_dense
    add_adapters(model, RANK, ALPHA)
    _move_adapters(model, rng)
    adapted = _logits(model, features)
    adapter = model.backbone.transformer_layers[0].attention.qkv_dense
    a, bs = adapter.down.kernel.numpy(), [up.kernel.numpy() for up in adapter.up]
    expected = qkv.kernel.numpy() + ALPHA / RANK * np.concatenate(
        [a[:, s * RANK:(s + 1) * RANK] @ b for s, b in enumerate(bs)], axis=1)  # [8, 24]
    assert merge_adapters(model) == 2 and not _adapters(model)
    assert model.backbone.transformer_layers[0].attention.qkv_dense is qkv
    np.testing.assert_allclose(qkv.kernel.numpy(), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_logits(model, features), adapted, rtol=1e-5, atol=1e-6)


def test_lora_fine_tune_exports_the_merged_model(tmp_path):
    """RUN/final/ (merged) predicts what the run's last checkpoint (adapters) predicts."""
    inputs = tiny_inputs(tmp_path / "inputs", train_rows=32, eval_rows=8)
    dp = {"enabled": True, "sampling": "poisson", "noise_multiplier": 0.5, "trainable": "lora", "lora_rank": RANK,
          "lora_alpha": ALPHA}
    experiment = load_finetune_experiment(data=tiny_experiment(
        inputs, with_eval=False, train_steps=2, log_every=2, optimizer={"learning_rate": 5e-2}, dp=dp))
    finetune(experiment, str(tmp_path / "run"), verbose=0)
    features = factories.classifier_features(np.random.default_rng(1), batch=4, length=16, num_classes=1, vocab=50)
    adapted = BertClassifier.from_pretrained(runs.find_checkpoint(inputs["init"]).directory, num_classes=1)
    add_adapters(adapted, RANK, ALPHA)
    tf.train.Checkpoint(model=adapted).read(
        tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints"))).expect_partial()
    assert np.abs(flat(up.kernel.numpy() for a in _adapters(adapted) for up in a.up)).max() > 0  # B moved
    loaded = runs.load(str(tmp_path / "run"), BertClassifier, num_classes=1).model
    np.testing.assert_allclose(_logits(loaded, features), _logits(adapted, features), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("settings, key", [
    (dict(trainable="lora"), "lora_rank"), (dict(lora_rank=4), "lora_rank"),
    (dict(trainable="lora", lora_rank=0), "lora_rank"),
    (dict(trainable="lora", lora_rank=4, lora_alpha=0), "lora_alpha"),
    (dict(lora_alpha=8.0), "lora_alpha")])
def test_lora_settings_are_checked(settings, key):
    with pytest.raises(ConfigError, match=key):
        DPConfig(enabled=True, **settings)


def test_finetune_names_the_key_and_pretraining_refuses_lora(rng):
    with pytest.raises(ConfigError, match=r"trainer\.dp\.lora_rank"):
        load_finetune_experiment(data={"init": "x", "train": {"source": "x"},
                                       "trainer": {"dp": {"enabled": True, "trainable": "lora"}}})
    trainer = TrainerConfig(dp=DPConfig(enabled=True, trainable="lora", lora_rank=RANK))
    with pytest.raises(ConfigError, match=r"p\.yaml: trainer\.dp\.trainable: lora is for fine-tuning"):
        plan_dp(trainer, 1000, "one record", "p.yaml", fine_tuning=False)
    model, _ = _classifier(rng)
    add_adapters(model, RANK)
    with pytest.raises(ValueError, match="no attention layer without adapters"):
        add_adapters(model, RANK)
