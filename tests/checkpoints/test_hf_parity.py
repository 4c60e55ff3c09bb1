"""Checkpoint interop with Hugging Face transformers: our models loaded from (and saved for) transformers agree with
transformers' own TF models within 1e-4 (float32, dropout 0, padding in every batch)."""

import json
import os
import shutil

import numpy as np
import pytest

from tests.support import factories

transformers = pytest.importorskip("transformers")
from safetensors.numpy import load_file, save_file  # noqa: E402
from transformers.modeling_tf_pytorch_utils import (  # noqa: E402
    TransposeType,
    convert_tf_weight_name_to_pt_weight_name,
    load_pytorch_state_dict_in_tf2_model,
)

from tfpretrain.checkpoints.hf import convert as hf_convert  # noqa: E402
from tfpretrain.data import features as F  # noqa: E402
from tfpretrain.models.bert.bert_backbone import BertBackbone  # noqa: E402
from tfpretrain.models.bert.bert_classifier import BertClassifier  # noqa: E402
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer  # noqa: E402
from tfpretrain.models.gpt2.gpt2_backbone import GPT2Backbone  # noqa: E402
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM  # noqa: E402

ATOL = 1e-4
VOCAB, BATCH, LENGTH = 99, 3, 12
BERT_CONFIG = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                   max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
GPT2_CONFIG = dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=32, resid_pdrop=0.0, embd_pdrop=0.0,
                   attn_pdrop=0.0)
FORMATS = ["tf_model.h5", "model.safetensors"]


def _randomize(model, seed=0):
    """Nonzero biases and LayerNorm parameters everywhere, so no mis-mapped tensor can hide behind a zero init."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign((1.0 if "gamma" in w.name else 0.0) + rng.normal(0.0, 0.2, w.shape).astype(np.float32))


def _max_diff(label, ours, theirs, mask=None):
    diff = np.abs(np.asarray(ours) - np.asarray(theirs))
    diff = float((diff[mask] if mask is not None else diff).max())
    print(f"\n{label}: max abs diff {diff:.2e}")
    return diff


def _save_both_formats(hf_model, root):
    """{format: dir}: transformers' own TF save (tf_model.h5), and the same weights renamed to PyTorch names by
    transformers' TF->PyTorch rule (model.safetensors), an oracle independent of hf_convert."""
    dirs = {name: root / name.split(".")[-1] for name in FORMATS}
    hf_model.save_pretrained(dirs["tf_model.h5"])
    tensors = {}
    for w in hf_model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(w.name, tf_weight_shape=w.shape)
        array = w.numpy().T if transpose is TransposeType.SIMPLE else w.numpy()
        tensors[name] = np.ascontiguousarray(array.reshape(-1) if name.endswith("bias") else array)
    dirs["model.safetensors"].mkdir()
    shutil.copy(dirs["tf_model.h5"] / "config.json", dirs["model.safetensors"])
    save_file(tensors, str(dirs["model.safetensors"] / "model.safetensors"), metadata={"format": "pt"})
    return dirs


def _hf_model(model_class, config_class, config, root):
    model = model_class(config_class(**config))
    model(model.dummy_inputs, training=False)
    _randomize(model)
    return model, _save_both_formats(model, root)


def _tf_oracle(model_class, config_class, directory):
    """transformers' TF model with PyTorch safetensors weights loaded by transformers' own converter."""
    model = model_class(config_class.from_json_file(os.path.join(directory, "config.json")))
    load_pytorch_state_dict_in_tf2_model(model, load_file(os.path.join(directory, "model.safetensors")))
    return model


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(1)
    mask = (np.arange(LENGTH)[None] < np.array([[LENGTH], [7], [4]])).astype(np.int32)  # right padding
    return {
        F.TOKEN_IDS: (rng.integers(1, VOCAB, (BATCH, LENGTH)) * mask).astype(np.int32),
        F.SEGMENT_IDS: ((np.arange(LENGTH)[None] >= 3) * mask).astype(np.int32),
        F.PADDING_MASK: mask,
    }


def _hf_inputs(inputs, bert=True):
    out = {"input_ids": inputs[F.TOKEN_IDS], "attention_mask": inputs[F.PADDING_MASK]}
    return {**out, "token_type_ids": inputs[F.SEGMENT_IDS]} if bert else out


@pytest.fixture(scope="module")
def bert_model(tmp_path_factory):
    return _hf_model(transformers.TFBertModel, transformers.BertConfig, BERT_CONFIG, tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def bert_pretraining(tmp_path_factory):
    root = tmp_path_factory.mktemp("bert_pretraining")
    return _hf_model(transformers.TFBertForPreTraining, transformers.BertConfig, BERT_CONFIG, root)


@pytest.fixture(scope="module")
def gpt2_lm(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpt2")
    return _hf_model(transformers.TFGPT2LMHeadModel, transformers.GPT2Config, GPT2_CONFIG, root)


@pytest.mark.parametrize("weights_file", FORMATS)
def test_bert_backbone_matches_tf_bert_model(bert_model, inputs, weights_file):
    hf_model, dirs = bert_model
    ours = BertBackbone.from_pretrained(dirs[weights_file], dropout=0.0)(inputs, training=False)
    theirs = hf_model(**_hf_inputs(inputs), training=False)
    mask = inputs[F.PADDING_MASK].astype(bool)
    label = f"bert {weights_file}"
    assert _max_diff(f"{label} sequence", ours["sequence_output"], theirs.last_hidden_state, mask) < ATOL
    assert _max_diff(f"{label} pooled", ours["pooled_output"], theirs.pooler_output) < ATOL


@pytest.mark.parametrize("weights_file", FORMATS)
def test_bert_pretrainer_matches_tf_bert_for_pretraining(bert_pretraining, inputs, weights_file):
    hf_model, dirs = bert_pretraining
    positions = np.array([[0, 5, 11], [1, 3, 6], [0, 2, 3]], np.int32)  # inside each row's non-padded part
    ours = BertPretrainer.from_pretrained(dirs[weights_file], dropout=0.0)
    out = ours({**inputs, F.MASKED_LM_POSITIONS: positions}, training=False)
    theirs = hf_model(**_hf_inputs(inputs), training=False)
    expected_mlm = np.take_along_axis(theirs.prediction_logits.numpy(), positions[..., None], axis=1)
    assert _max_diff(f"mlm {weights_file}", out["mlm_logits"], expected_mlm) < ATOL
    assert _max_diff(f"nsp {weights_file}", out["nsp_logits"], theirs.seq_relationship_logits) < ATOL


@pytest.mark.parametrize("weights_file", FORMATS)
def test_gpt2_causal_lm_matches_tf_gpt2_lm_head_model(gpt2_lm, inputs, weights_file):
    hf_model, dirs = gpt2_lm
    gpt2_inputs = {k: inputs[k] for k in F.GPT2_INPUTS}
    ours = GPT2CausalLM.from_pretrained(dirs[weights_file], dropout=0.0)(gpt2_inputs, training=False)
    theirs = hf_model(**_hf_inputs(inputs, bert=False), training=False).logits
    assert _max_diff(f"gpt2 {weights_file}", ours, theirs, inputs[F.PADDING_MASK].astype(bool)) < ATOL


@pytest.mark.slow
def test_real_minilm_checkpoint_matches_transformers(minilm):
    directory = minilm
    sentences = ["The quick brown fox jumps over the lazy dog.", "Checkpoints should load exactly.", "Hello!"]
    batch = transformers.BertTokenizerFast.from_pretrained(directory)(sentences, padding=True, return_tensors="np")
    inputs = {F.TOKEN_IDS: batch["input_ids"], F.SEGMENT_IDS: batch["token_type_ids"],
              F.PADDING_MASK: batch["attention_mask"]}
    ours = BertBackbone.from_pretrained(directory, dropout=0.0)(inputs, training=False)
    theirs = _tf_oracle(transformers.TFBertModel, transformers.BertConfig, directory)(**batch, training=False)
    mask = inputs[F.PADDING_MASK].astype(bool)
    assert _max_diff("minilm sequence", ours["sequence_output"], theirs.last_hidden_state, mask) < ATOL
    assert _max_diff("minilm pooled", ours["pooled_output"], theirs.pooler_output) < ATOL


@pytest.fixture(scope="module")
def saved_backbones(tmp_path_factory):
    """{family: (our randomised backbone, its save_pretrained directory)}."""
    saved = {}
    for family, build in (("bert", factories.bert_backbone), ("gpt2", factories.gpt2_backbone)):
        backbone = build()
        _randomize(backbone, seed=2)
        directory = tmp_path_factory.mktemp("saved") / family
        backbone.save_pretrained(directory)
        saved[family] = backbone, directory
    return saved


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_save_pretrained_round_trip(saved_backbones, inputs, family):
    backbone, directory = saved_backbones[family]
    config = json.loads((directory / "config.json").read_text())
    assert config["model_type"] == family
    assert config["architectures"] == [{"bert": "BertModel", "gpt2": "GPT2Model"}[family]]
    assert sorted(os.listdir(directory)) == ["config.json", "model.safetensors"]
    model_inputs = {k: np.minimum(inputs[k], factories.VOCAB - 1) for k in backbone.input_keys}
    ours = backbone(model_inputs, training=False)
    if family == "bert":
        oracle = _tf_oracle(transformers.TFBertModel, transformers.BertConfig, directory)
        theirs = oracle(**_hf_inputs(model_inputs), training=False)
        assert _max_diff("round trip pooled", ours["pooled_output"], theirs.pooler_output) < ATOL
        ours = ours["sequence_output"]
    else:
        oracle = _tf_oracle(transformers.TFGPT2Model, transformers.GPT2Config, directory)
        theirs = oracle(**_hf_inputs(model_inputs, bert=False), training=False)
    mask = inputs[F.PADDING_MASK].astype(bool)
    assert _max_diff(f"round trip {family}", ours, theirs.last_hidden_state, mask) < ATOL
    reloaded = type(backbone).from_pretrained(directory)
    assert reloaded.get_config() == backbone.get_config() | {"name": reloaded.name}
    for ours_w, reloaded_w in zip(backbone.weights, reloaded.weights):
        np.testing.assert_array_equal(ours_w.numpy(), reloaded_w.numpy())


def test_task_save_pretrained_round_trip(tmp_path, inputs):
    pretrainer = BertPretrainer(factories.bert_backbone())
    _randomize(pretrainer, seed=3)
    pretrainer.save_pretrained(tmp_path)
    positions = np.array([[0, 5, 11], [1, 3, 6], [0, 2, 3]], np.int32)
    model_inputs = {**{k: np.minimum(v, factories.VOCAB - 1) for k, v in inputs.items()},
                    F.MASKED_LM_POSITIONS: positions}
    ours = pretrainer(model_inputs, training=False)
    oracle = _tf_oracle(transformers.TFBertForPreTraining, transformers.BertConfig, tmp_path)
    theirs = oracle(**_hf_inputs(model_inputs), training=False)
    expected_mlm = np.take_along_axis(theirs.prediction_logits.numpy(), positions[..., None], axis=1)
    assert _max_diff("task round trip mlm", ours["mlm_logits"], expected_mlm) < ATOL
    assert _max_diff("task round trip nsp", ours["nsp_logits"], theirs.seq_relationship_logits) < ATOL
    reloaded = BertPretrainer.from_pretrained(tmp_path)(model_inputs, training=False)
    for key in ours:
        np.testing.assert_array_equal(ours[key].numpy(), reloaded[key].numpy())


def test_classifier_from_backbone_checkpoint(saved_backbones):
    backbone, directory = saved_backbones["bert"]
    classifier = BertClassifier.from_pretrained(directory, num_classes=3, dropout=0.2, backbone_kwargs={"dropout": 0.0})
    assert classifier.num_classes == 3 and classifier.backbone.dropout == 0.0
    assert classifier.get_layer("classifier_dropout").rate == 0.2  # the task's own dropout, not the backbone's
    for ours_w, loaded_w in zip(backbone.weights, classifier.backbone.weights):
        np.testing.assert_array_equal(ours_w.numpy(), loaded_w.numpy())


def test_larger_vocabulary_keeps_checkpoint_rows(saved_backbones):
    backbone, directory = saved_backbones["bert"]
    grown = BertBackbone.from_pretrained(directory, vocabulary_size=factories.VOCAB + 20)
    rows = grown.token_embedding.embeddings.numpy()
    np.testing.assert_array_equal(rows[: factories.VOCAB], backbone.token_embedding.embeddings.numpy())
    assert rows.shape == (factories.VOCAB + 20, backbone.hidden_dim)


def test_config_round_trip():
    for family, kwargs in (("bert", factories.BERT_KWARGS), ("gpt2", factories.GPT2_KWARGS)):
        defaults = {"activation": "gelu" if family == "bert" else "gelu_new", "layer_norm_epsilon": 1e-12,
                    "initializer_range": 0.02, **({"num_segments": 2} if family == "bert" else {})}
        kwargs = {**defaults, **kwargs}
        assert hf_convert.config_to_kwargs(hf_convert.kwargs_to_config(family, kwargs)) == (family, kwargs)
    gpt2 = {"model_type": "gpt2", "vocab_size": 50, "n_layer": 1, "n_head": 2, "n_embd": 8, "n_inner": None}
    assert hf_convert.config_to_kwargs(gpt2)[1]["intermediate_dim"] == 32


def _edited_checkpoint(directory, target, edit):
    shutil.copytree(directory, target)
    tensors = load_file(str(target / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(target / "model.safetensors"))
    return target


def test_bad_checkpoints_raise_clear_errors(saved_backbones, tmp_path):
    bert_dir, gpt2_dir = saved_backbones["bert"][1], saved_backbones["gpt2"][1]
    with pytest.raises(ValueError, match="model_type 'gpt2'; BertBackbone needs a 'bert' checkpoint"):
        BertBackbone.from_pretrained(gpt2_dir)
    with pytest.raises(ValueError, match="model_type 'bert'; GPT2Backbone needs a 'gpt2' checkpoint"):
        GPT2Backbone.from_pretrained(bert_dir)
    with pytest.raises(ValueError, match="model_type 'gpt2'; BertPretrainer needs a 'bert' checkpoint"):
        BertPretrainer.from_pretrained(gpt2_dir)
    with pytest.raises(ValueError, match=r"vocabulary_size=50 is smaller than the 97 rows of 'wte.weight'"):
        GPT2Backbone.from_pretrained(gpt2_dir, vocabulary_size=50)
    with pytest.raises(ValueError, match="no config.json"):
        BertBackbone.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="no weights file"):
        BertBackbone.from_pretrained(tmp_path)

    def reshape(tensors):
        tensors["pooler.dense.weight"] = tensors["pooler.dense.weight"][:, :8].copy()

    bad = _edited_checkpoint(bert_dir, tmp_path / "bad_shape", reshape)
    with pytest.raises(ValueError, match=r"'pooler.dense.weight' has shape \(16, 8\), expected \(16, 16\)"):
        BertBackbone.from_pretrained(bad)
    key = "encoder.layer.1.attention.self.key.bias"
    missing = _edited_checkpoint(bert_dir, tmp_path / "missing", lambda tensors: tensors.pop(key))
    with pytest.raises(ValueError, match=r"missing tensor 'encoder.layer.1.attention.self.key.bias' .*\(16,\)"):
        BertBackbone.from_pretrained(missing)
