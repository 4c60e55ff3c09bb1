"""RunDir and the one loader: where a run's files are, which checkpoint and tokenizer a path resolves to (run
directory, fine-tuning run, Hugging Face directory with vocab.txt), and a loaded model that computes what the
saved one did."""

import json

import numpy as np
import pytest
from tokenizers import Tokenizer

from tests.support import factories
from tfpretrain import runs
from tfpretrain.errors import UserError


def _touch(path, text="{}"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_the_layout_names_are_the_documented_ones(tmp_path):
    run = runs.RunDir(tmp_path)
    # README / trainer docstrings promise these paths to users and to other tools (TensorBoard, TFMA, HF).
    expected = {"final": "final", "tokenizer": "tokenizer.json", "experiment": "experiment.yaml",
                "finetune_config": "finetune.yaml", "checkpoints": "checkpoints", "metrics": "metrics.jsonl",
                "tensorboard": "tensorboard", "energy": "energy.json", "privacy": "privacy.json",
                "run_info": "run_info.json", "export": "export", "eval_data": "eval.tfrecord"}
    assert {name: getattr(run, name) for name in expected} == {k: str(tmp_path / v) for k, v in expected.items()}


def test_run_kind_and_records(tmp_path):
    run = runs.RunDir(tmp_path)
    assert not run.is_pretraining() and not run.is_finetuning() and not run.has_export()
    assert run.read_finetune_config() is None and run.read_json(runs.RunDir.ENERGY) is None
    _touch(tmp_path / "finetune.yaml", "init: runs/bert\nnum_classes: 1\n")
    _touch(tmp_path / "export" / "saved_model.pb", "")
    _touch(tmp_path / "energy.json", json.dumps({"energy_kwh": 0.5}))
    assert run.is_finetuning() and run.has_export() and not run.is_pretraining()
    assert run.read_finetune_config() == {"init": "runs/bert", "num_classes": 1}
    assert run.read_json(runs.RunDir.ENERGY) == {"energy_kwh": 0.5}
    _touch(tmp_path / "privacy.json", "{not json")
    with pytest.raises(UserError, match=r"privacy.json: not valid JSON"):
        run.read_json(runs.RunDir.PRIVACY)


@pytest.mark.parametrize("files, directory, tokenizer", [
    # a pretraining run: final/ + RUN/tokenizer.json
    (["final/config.json", "tokenizer.json"], "final", "tokenizer.json"),
    # a fine-tuning run: the tokenizer file is inside final/
    (["final/config.json", "final/vocab.txt"], "final", "final/vocab.txt"),
    # a Hugging Face directory with vocab.txt only
    (["config.json", "vocab.txt"], ".", "vocab.txt"),
    # tokenizer.json wins over vocab.txt; the run's copy over the checkpoint's
    (["config.json", "vocab.txt", "tokenizer.json"], ".", "tokenizer.json"),
    (["final/config.json", "final/tokenizer.json", "tokenizer.json"], "final", "tokenizer.json"),
])
def test_find_checkpoint(tmp_path, files, directory, tokenizer):
    for name in files:
        _touch(tmp_path / name)
    checkpoint = runs.find_checkpoint(tmp_path)
    assert checkpoint.directory == (str(tmp_path) if directory == "." else str(tmp_path / directory))
    assert checkpoint.tokenizer_path == str(tmp_path / tokenizer)
    assert checkpoint.run.path == str(tmp_path)


def test_find_checkpoint_errors_name_the_path(tmp_path):
    with pytest.raises(runs.RunNotFoundError, match=f"{tmp_path}: neither a pretraining run") as caught:
        runs.find_checkpoint(tmp_path)
    assert isinstance(caught.value, UserError) and isinstance(caught.value, FileNotFoundError)
    _touch(tmp_path / "final" / "config.json")
    with pytest.raises(runs.CheckpointError, match="no tokenizer.json or vocab.txt"):
        runs.find_checkpoint(tmp_path)


def test_load_gives_the_saved_model_and_its_tokenizer(tmp_path):
    from tfpretrain.data.tokenizer import save_tokenizer, train_wordpiece
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer

    tokenizer = train_wordpiece(factories.SAMPLE_TEXTS, vocabulary_size=120, min_frequency=1)
    saved = BertPretrainer(factories.bert_backbone(vocabulary_size=tokenizer.get_vocab_size()))
    features = factories.bert_pretraining_features(np.random.default_rng(0), vocab=tokenizer.get_vocab_size())
    saved(features, training=False)
    rng = np.random.default_rng(1)
    for w in saved.weights:  # every tensor nonzero and unlike a fresh initialisation: none may be left unloaded
        w.assign(rng.normal(0.0, 0.2, w.shape).astype(np.float32) + (1.0 if "gamma" in w.name else 0.0))
    expected = saved(features, training=False)
    saved.save_pretrained(str(tmp_path / "run" / "final"))
    save_tokenizer(tokenizer, str(tmp_path / "run" / "tokenizer.json"))

    loaded = runs.load(tmp_path / "run", BertPretrainer)
    assert isinstance(loaded.model, BertPretrainer)
    actual = loaded.model(features, training=False)
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], atol=1e-5)
    reference = Tokenizer.from_file(str(tmp_path / "run" / "tokenizer.json"))  # the file itself, read directly
    text = factories.SAMPLE_TEXTS[0]
    assert loaded.tokenizer.encode(text).ids == reference.encode(text).ids
    assert loaded.checkpoint.model_type == "bert"
