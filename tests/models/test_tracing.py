"""`fit` traces a task's train_step once: the optimizer's slots exist before the first trace (a tf.function whose
first call creates variables is traced twice: once to create them, once to run). Counted by a Python side effect,
which runs only while tracing; compared with a plain Keras model, which pays the second trace."""

import numpy as np

from tests.support import factories
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_classifier import BertClassifier


def _traces_of_train_step(model, features, labels):
    traced = []
    train_step = model.train_step
    model.train_step = lambda data: (traced.append(1), train_step(data))[1]
    model.fit(features, labels, batch_size=4, epochs=2, verbose=0)
    return len(traced)


def test_fit_traces_train_step_once(rng):
    features = factories.classifier_features(rng, batch=8)
    labels = features.pop(F.LABELS)
    model = BertClassifier(factories.bert_backbone(), num_classes=2, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert _traces_of_train_step(model, features, labels) == 1

    # The reference: Keras' own Model with the same optimizer traces twice (its slots are made by the first trace).
    plain = keras.Sequential([keras.layers.Dense(2)])
    plain.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    assert _traces_of_train_step(plain, np.ones((8, 3), np.float32), np.ones((8, 2), np.float32)) == 2
