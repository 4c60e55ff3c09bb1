"""BertClassifier: the model harness, binary and multi-class heads, (x, y, sample_weight) input."""

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


# Each fit costs a train trace of seconds: the 2-logit run also shows that fit accepts (x, y, sample_weight) tuples.
@pytest.mark.parametrize("num_classes, as_tuples", [(1, False), (2, True)])
def test_binary_classifier_reports_auc(num_classes, as_tuples, rng):
    model = BertClassifier(factories.bert_backbone(), num_classes=num_classes)
    features = factories.classifier_features(rng, batch=8)
    features[F.SAMPLE_WEIGHT] = np.linspace(0.5, 1.5, 8).astype(np.float32)
    data = features
    if as_tuples:  # fit merges x, y and sample_weight into one features dict
        data = ({k: features[k] for k in F.BERT_INPUTS}, features[F.LABELS], features[F.SAMPLE_WEIGHT])
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = model.fit(tf.data.Dataset.from_tensors(data).repeat(), steps_per_epoch=20, verbose=0).history
    assert {"loss", "accuracy", "auc"} <= set(logs) and np.isfinite(logs["loss"]).all()
    logits = model(features).numpy()
    expected = 1 / (1 + np.exp(-logits[:, 0])) if num_classes == 1 else np.exp(logits[:, 1]) / np.exp(logits).sum(-1)
    np.testing.assert_allclose(model.positive_probability(logits).numpy(), expected, rtol=1e-5)


def test_num_classes_must_be_positive():
    with pytest.raises(ValueError, match="num_classes"):
        BertClassifier(factories.bert_backbone(), num_classes=0)
