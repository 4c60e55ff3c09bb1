"""BertClassifier: the model harness, binary and multi-class heads, (x, y) input."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tests.support.model_harness import check_model
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_classifier import BertClassifier


def test_harness(rng, tmp_path):
    features = factories.classifier_features(rng, batch=4, num_classes=3)
    check_model(lambda: BertClassifier(factories.bert_backbone(), num_classes=3, dropout=0.0), features, (4, 3),
                tmp_path)


@pytest.mark.parametrize("num_classes", [1, 2])
def test_binary_classifier_reports_auc(num_classes, rng):
    model = BertClassifier(factories.bert_backbone(), num_classes=num_classes)
    features = factories.classifier_features(rng, batch=8)
    features[F.SAMPLE_WEIGHT] = np.linspace(0.5, 1.5, 8).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = model.fit(tf.data.Dataset.from_tensors(features).repeat(), steps_per_epoch=20, verbose=0).history
    assert {"loss", "accuracy", "auc"} <= set(logs)
    logits = model(features).numpy()
    expected = 1 / (1 + np.exp(-logits[:, 0])) if num_classes == 1 else np.exp(logits[:, 1]) / np.exp(logits).sum(-1)
    np.testing.assert_allclose(model.positive_probability(logits).numpy(), expected, rtol=1e-5)


def test_fit_accepts_x_y_tuples(rng):
    model = BertClassifier(factories.bert_backbone(), num_classes=3)
    features = factories.classifier_features(rng, num_classes=3)
    labels = features.pop(F.LABELS)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = model.fit(features, labels, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0])


def test_num_classes_must_be_positive():
    with pytest.raises(ValueError, match="num_classes"):
        BertClassifier(factories.bert_backbone(), num_classes=0)
