"""get_config/from_config round trips and saving as weights (TF and H5) and as SavedModel."""

import numpy as np
import pytest

from tests.support import factories
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_backbone import BertBackbone
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
from tfpretrain.models.gpt2.gpt2_backbone import GPT2Backbone
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM


def _models(rng):
    return {
        "bert_backbone": (factories.bert_backbone(), factories.bert_pretraining_features(rng)),
        "gpt2_backbone": (factories.gpt2_backbone(), factories.causal_lm_features(rng)),
        "pretrainer": (BertPretrainer(factories.bert_backbone()), factories.bert_pretraining_features(rng)),
        "classifier": (BertClassifier(factories.bert_backbone(), num_classes=3), factories.classifier_features(rng)),
        "causal_lm": (GPT2CausalLM(factories.gpt2_backbone()), factories.causal_lm_features(rng)),
    }


def _inputs(model, features):
    return {k: features[k] for k in model.input_names}


def _assert_same_outputs(a, b):
    for x, y in zip(_flat(a), _flat(b)):
        np.testing.assert_allclose(x, y, atol=1e-6)


def _flat(outputs):
    if isinstance(outputs, dict):
        return [np.asarray(outputs[k]) for k in sorted(outputs)]
    return [np.asarray(outputs)]


@pytest.mark.parametrize("name", ["bert_backbone", "gpt2_backbone", "pretrainer", "classifier", "causal_lm"])
def test_config_round_trip_rebuilds_the_same_model(name, rng):
    model, features = _models(rng)[name]
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    _assert_same_outputs(model(_inputs(model, features)), clone(_inputs(clone, features)))


@pytest.mark.parametrize("suffix", ["ckpt", "weights.h5"])
def test_weights_round_trip(suffix, rng, tmp_path):
    model, features = _models(rng)["pretrainer"]
    path = str(tmp_path / f"model.{suffix}")
    model.save_weights(path)
    other = BertPretrainer(factories.bert_backbone())
    other.load_weights(path)
    _assert_same_outputs(model(features), other(features))


@pytest.mark.parametrize("name", ["pretrainer", "classifier", "causal_lm"])
def test_savedmodel_round_trip_keeps_outputs_and_trains(name, rng, tmp_path):
    model, features = _models(rng)[name]
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.save(tmp_path / "saved")
    loaded = keras.models.load_model(tmp_path / "saved")
    assert type(loaded) is type(model)
    _assert_same_outputs(model(_inputs(model, features)), loaded(_inputs(loaded, features)))
    logs = loaded.train_on_batch(features, return_dict=True)  # custom train_step survives the round trip
    assert np.isfinite(logs["loss"])


def test_tied_embedding_is_one_variable(rng):
    model = BertPretrainer(factories.bert_backbone())
    embeddings = [w for w in model.weights if "token_embedding" in w.name]
    assert len(embeddings) == 1
    lm = GPT2CausalLM(factories.gpt2_backbone())
    # the LM head adds no weights: it is the embedding
    assert len(lm.trainable_weights) == len(lm.backbone.trainable_weights)


@pytest.mark.parametrize("cls, kwargs", [(BertBackbone, factories.BERT_KWARGS), (GPT2Backbone, factories.GPT2_KWARGS)])
def test_heads_must_divide_hidden_dim(cls, kwargs):
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        cls(**{**kwargs, "num_heads": 3})


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: {**f, F.TOKEN_IDS: f[F.TOKEN_IDS].astype(np.float32)}, "must be an integer tensor"),
        (lambda f: {**f, F.TOKEN_IDS: f[F.TOKEN_IDS][..., None]}, "must have rank 2"),
        (lambda f: {k: np.tile(v, (1, 3)) for k, v in f.items()}, "longer than max_sequence_length=32"),
        (lambda f: {k: v for k, v in f.items() if k != F.SEGMENT_IDS}, "missing key"),
        (lambda f: f[F.TOKEN_IDS], "expects a dict"),
    ],
)
def test_bad_inputs_raise_one_clear_error(change, message, rng):
    model = factories.bert_backbone()
    features = {k: v for k, v in factories.classifier_features(rng).items() if k in model.input_keys}
    with pytest.raises(ValueError, match=message):
        model(change(features))
