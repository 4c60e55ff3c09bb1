"""trainer.dp.trainable: top_n_layers (training/privacy/trainable.py): DP-SGD trains only the top N transformer
layers, the pooler and the head; per-example norms and clipping cover those parameters only (against a per-example
reference over ALL parameters, restricted to the trained columns), frozen weights do not move; bad settings name
their key."""

import numpy as np
import pytest

from tests.support import factories
from tests.support.dp_reference import SMALL, clip_rows, per_example_reference
from tfpretrain.config import ConfigError
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.training.experiment import DPConfig, TrainerConfig
from tfpretrain.training.privacy.dp_sgd import enable_dp
from tfpretrain.training.privacy.plan import plan_dp
from tfpretrain.training.privacy.trainable import train_top_layers


def test_only_the_top_layers_and_head_are_clipped_noised_and_trained():
    keras.utils.set_random_seed(0)
    model = BertClassifier(factories.bert_backbone(**{**SMALL, "num_layers": 2}), num_classes=3, dropout=0.0)
    rng = np.random.default_rng(0)
    features = factories.classifier_features(rng, batch=4, length=8, num_classes=3, vocab=50)
    features[F.SAMPLE_WEIGHT] = np.ones(4, np.float32)
    every = list(model.trainable_variables)
    full = per_example_reference(model, features)  # [B, P_all], before freezing
    sizes = [int(np.prod(v.shape)) for v in every]
    top = model.backbone.transformer_layers[-1]
    trained_ids = {id(v) for v in [*top.weights, *model.backbone.pooler.weights, *model.layers[-1].weights]}

    names = train_top_layers(model, 1)
    assert {id(v) for v in model.trainable_variables} == trained_ids and len(names) == len(trained_ids)
    columns = np.concatenate([np.full(n, id(v) in trained_ids) for v, n in zip(every, sizes)])
    subset = full[:, columns]
    l2_norm_clip = float(np.median(np.linalg.norm(subset, axis=1)))
    clipped, norms = clip_rows(subset, l2_norm_clip)
    assert (np.linalg.norm(full, axis=1) > norms).all()  # the frozen part would have changed the clipping

    before = [v.numpy().copy() for v in every]
    enable_dp(model, l2_norm_clip, 0.0, seed=3)
    model.compile(optimizer=keras.optimizers.SGD(1.0), jit_compile=False)
    logs = model.train_on_batch(features, return_dict=True)
    moved = np.concatenate([(b - v.numpy()).ravel() for b, v in zip(before, every)])
    assert not moved[~columns].any(), "a frozen weight moved"
    np.testing.assert_allclose(moved[columns], clipped.mean(axis=0), atol=1e-6)
    assert logs["dp_clipped_fraction"] == pytest.approx((norms > l2_norm_clip).mean())


def test_top_n_layers_settings_are_checked():
    with pytest.raises(ConfigError, match="top_n_layers"):
        DPConfig(enabled=True, trainable="top_n_layers")
    with pytest.raises(ConfigError, match="top_n_layers"):
        DPConfig(enabled=True, top_n_layers=2)
    keras.utils.set_random_seed(0)
    model = BertClassifier(factories.bert_backbone(**SMALL), num_classes=3, dropout=0.0)
    with pytest.raises(ValueError, match=r"top_n_layers must be in 0\.\.1"):
        train_top_layers(model, 2)
    trainer = TrainerConfig(dp=DPConfig(enabled=True, trainable="top_n_layers", top_n_layers=1))
    with pytest.raises(ConfigError, match=r"p\.yaml: trainer\.dp\.trainable: top_n_layers is for fine-tuning"):
        plan_dp(trainer, 1000, "one record", "p.yaml", fine_tuning=False)
