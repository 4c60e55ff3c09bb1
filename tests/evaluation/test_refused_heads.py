"""Probes and the exposure audit refuse a checkpoint without the heads they score with, instead of scoring with
freshly initialised ones: the real all-MiniLM-L6-v2 checkpoint is a plain BERT encoder (no MLM, no NSP head), so
CrowS-Pairs, StereoSet and the audit stop with one line naming the head, the use and the path, and write nothing."""

import os
import re

import pytest

from tfpretrain.checkpoints.hf.convert import MissingHeadError
from tfpretrain.errors import UserError
from tfpretrain.evaluation import lm_scoring
from tfpretrain.evaluation.memorization import audit
from tfpretrain.evaluation.probes.data import sample_path
from tfpretrain.evaluation.probes.run import run_probe

MLM = "no MLM head (cls.predictions.*) in the checkpoint"
MASKED_LM = "needs a masked-LM head (a BertForPreTraining / BertForMaskedLM checkpoint)"


def test_load_language_model_names_head_use_and_path(minilm):
    with pytest.raises(MissingHeadError) as error:
        lm_scoring.load_language_model(minilm, needs={lm_scoring.TOKENS: "CrowS-Pairs"})
    assert str(error.value) == f"{minilm}: {MLM}; CrowS-Pairs {MASKED_LM}"
    assert isinstance(error.value, UserError)
    with pytest.raises(MissingHeadError, match="LM scoring needs a masked-LM head"):
        lm_scoring.load_language_model(minilm)  # by default every use is required


def test_probes_refuse_a_checkpoint_without_their_heads(minilm, tmp_path):
    out = tmp_path / "crows"
    with pytest.raises(MissingHeadError, match=re.escape(f"{minilm}: {MLM}; CrowS-Pairs {MASKED_LM}")):
        run_probe(minilm, "crows_pairs", sample_path("crows_pairs"), out, tfma=False)
    with pytest.raises(MissingHeadError, match="; StereoSet intrasentence needs a masked-LM head"):
        run_probe(minilm, "stereoset", sample_path("stereoset"), tmp_path / "stereoset", tfma=False)
    lines = open(sample_path("stereoset_jsonl")).read().splitlines()
    inter = tmp_path / "intersentence.jsonl"
    inter.write_text("".join(line + "\n" for line in lines if '"intersentence"' in line))
    with pytest.raises(MissingHeadError, match=r"no NSP head \(cls.seq_relationship.\*\) in the checkpoint; "
                                               r"StereoSet intersentence needs a next-sentence-prediction head"):
        run_probe(minilm, "stereoset", inter, tmp_path / "inter", tfma=False)
    assert sorted(os.listdir(tmp_path)) == ["intersentence.jsonl"]  # nothing written


def test_audit_refuses_a_checkpoint_without_an_mlm_head(minilm, tmp_path):
    from tfpretrain.data import canaries as C
    from tfpretrain.data import tokenizer as tok
    from tfpretrain.data.prepare_config import load_prepare_config

    config = load_prepare_config(data={"family": "bert", "sources": ["x"], "output": str(tmp_path / "data"),
                                       "canaries": {"count": 1, "repetitions": [1], "length": 4}})
    tokenizer = tok.train_wordpiece(["a few words to train on"] * 5 + C.tokenizer_texts(config), 100)._tokenizer
    C.write_key(config.output, config, C.prepared(config, tokenizer))
    with pytest.raises(MissingHeadError, match=re.escape(f"{minilm}: {MLM}; the canary exposure audit {MASKED_LM}")):
        audit(minilm, os.path.join(config.output, C.KEY_FILE), tmp_path / "audit", candidates=10)
    assert not (tmp_path / "audit").exists()


def test_the_probe_command_says_so_in_one_line_and_exits_2(minilm, tmp_path, capsys):
    from tfpretrain import cli

    out = tmp_path / "probe"
    with pytest.raises(SystemExit) as caught:
        cli.main(["probe", "--model", minilm, "--probe", "crows_pairs", "--data", sample_path("crows_pairs"),
                  "--out", str(out)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("tfpretrain")] == [
        f"tfpretrain probe: error: {minilm}: {MLM}; CrowS-Pairs {MASKED_LM}"]
    assert not out.exists()


def test_explanations_refuse_a_checkpoint_without_a_classifier_head(minilm):
    from tfpretrain.evaluation.explain.selection import load_classifier

    with pytest.raises(MissingHeadError, match=re.escape(
            f"{minilm}: no classifier head (classifier.*) in the checkpoint; explaining a classifier's scores needs "
            "a sequence-classification head (a BertForSequenceClassification checkpoint)")):
        load_classifier(minilm)
