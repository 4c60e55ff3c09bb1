"""Task heads from checkpoints: loaded when present, required ones refused with one line when absent (probes and
audits never score with a freshly initialised head), fresh ones only when nobody requires them (fine-tuning)."""

import json
import logging
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tests.support import factories
from tfpretrain.checkpoints.hf.convert import MissingHeadError
from tfpretrain.errors import UserError
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

MASKED_LM_CHECKPOINTS = "a BertForPreTraining / BertForMaskedLM checkpoint"


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign((1.0 if "gamma" in w.name else 0.0) + rng.normal(0.0, 0.2, w.shape).astype(np.float32))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """{name: (model, checkpoint dir)}: a tiny BERT backbone, BertPretrainer and GPT2CausalLM, randomised."""
    rng = np.random.default_rng(0)
    models = {
        "backbone": factories.bert_backbone(),
        "pretrainer": BertPretrainer(factories.bert_backbone()),
        "gpt2": GPT2CausalLM(factories.gpt2_backbone()),
    }
    models["pretrainer"](factories.bert_pretraining_features(rng), training=False)
    out = {}
    for seed, (name, model) in enumerate(models.items()):
        _randomize(model, seed)
        directory = tmp_path_factory.mktemp(name)
        model.save_pretrained(directory)
        out[name] = model, directory
    return out


def test_minilm_has_no_mlm_head_and_a_probe_is_refused(minilm):
    with pytest.raises(MissingHeadError) as error:
        BertPretrainer.from_pretrained(minilm, require_heads={"mlm": "CrowS-Pairs"})
    assert str(error.value) == (f"{minilm}: no MLM head (cls.predictions.*) in the checkpoint; CrowS-Pairs needs a "
                                f"masked-LM head ({MASKED_LM_CHECKPOINTS})")
    assert isinstance(error.value, UserError) and "\n" not in str(error.value)
    with pytest.raises(MissingHeadError, match=r"no NSP head \(cls.seq_relationship.\*\) in the checkpoint; "
                                               r"StereoSet intersentence needs a next-sentence-prediction head"):
        BertPretrainer.from_pretrained(minilm, require_heads=[("nsp", "StereoSet intersentence")])


def test_required_heads_the_checkpoint_has_load_exactly(saved):
    model, directory = saved["pretrainer"]
    loaded = BertPretrainer.from_pretrained(directory, require_heads=("mlm", "nsp"))
    assert len(loaded.trainable_weights) == len(model.trainable_weights)
    for ours, theirs in zip(model.trainable_weights, loaded.trainable_weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_unrequired_missing_heads_stay_fresh_for_fine_tuning(saved, caplog):
    backbone, directory = saved["backbone"]
    with caplog.at_level(logging.INFO, logger="tfpretrain.checkpoints.hf.convert"):
        pretrainer = BertPretrainer.from_pretrained(directory)
    assert "has no MLM head" in caplog.text and "has no NSP head" in caplog.text
    np.testing.assert_array_equal(pretrainer.backbone.get_layer("pooler").kernel.numpy(),
                                  backbone.get_layer("pooler").kernel.numpy())
    with pytest.raises(MissingHeadError, match=r"no NSP head .*; this use needs a next-sentence-prediction head"):
        BertPretrainer.from_pretrained(directory, require_heads=("nsp",))
    _, pretraining = saved["pretrainer"]
    with pytest.raises(MissingHeadError, match=r"no classifier head \(classifier.\*\) in the checkpoint; fairness "
                                               r"evaluation needs a sequence-classification head"):
        BertClassifier.from_pretrained(pretraining, num_classes=1, require_heads={"classifier": "fairness evaluation"})
    with pytest.raises(ValueError, match=r"BertPretrainer has no 'lm' head; its heads: \['mlm', 'nsp'\]"):
        BertPretrainer.from_pretrained(pretraining, require_heads=("lm",))


def _variant(directory, target, config_changes, edit=None):
    shutil.copytree(directory, target)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, **config_changes}))
    if edit is not None:
        tensors = load_file(str(target / "model.safetensors"))
        edit(tensors)
        save_file(tensors, str(target / "model.safetensors"))
    return target


def test_gpt2_lm_head_is_the_tied_embedding_unless_config_unties_it(saved, tmp_path):
    model, directory = saved["gpt2"]
    assert "lm_head.weight" not in load_file(str(directory / "model.safetensors"))  # tied, as transformers saves it
    GPT2CausalLM.from_pretrained(directory, require_heads={"lm": "the canary exposure audit"})
    untied = _variant(directory, tmp_path / "untied", {"tie_word_embeddings": False})
    with pytest.raises(MissingHeadError, match=r"untied: no LM head \(lm_head.weight, untied from wte by "
                                               r"tie_word_embeddings=false\) in the checkpoint; the canary exposure "
                                               r"audit needs a language-model head \(a GPT2LMHeadModel checkpoint\)"):
        GPT2CausalLM.from_pretrained(untied, require_heads={"lm": "the canary exposure audit"})

    def copy_wte(tensors):
        tensors["lm_head.weight"] = tensors["transformer.wte.weight"].copy()

    same = _variant(directory, tmp_path / "same", {"tie_word_embeddings": False}, copy_wte)
    loaded = GPT2CausalLM.from_pretrained(same, require_heads=("lm",))
    np.testing.assert_array_equal(loaded.backbone.token_embedding.embeddings.numpy(),
                                  model.backbone.token_embedding.embeddings.numpy())

    def different(tensors):
        tensors["lm_head.weight"] = tensors["transformer.wte.weight"] + 1.0

    other = _variant(directory, tmp_path / "other", {"tie_word_embeddings": False}, different)
    with pytest.raises(UserError, match="lm_head.weight differs from wte.weight"):
        GPT2CausalLM.from_pretrained(other, require_heads=("lm",))
