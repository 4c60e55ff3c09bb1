"""`evaluate` reads the pretraining corpus's manifest through the run chain: its "stages" reach the model card's
training-data section (as training["data_stages"]), its other statistics the pretraining entry."""

import yaml

from tfpretrain.commands.evaluate import _run_info
from tfpretrain.data.manifest import write_manifest

STAGES = {"read": 10, "too_short": 1, "filters": {"gopher": 2}, "filter_rules": {"gopher.min_words": 2},
          "c4_lines_removed": {}, "pii": {}, "cleaned": 7, "exact_duplicates": 1, "kept": 6}


def _runs(tmp_path, stages):
    corpus, pretraining, finetuning = tmp_path / "corpus", tmp_path / "bert", tmp_path / "classifier"
    manifest = {"format_version": 2, "family": "bert", "sequence_length": 32, "vocabulary_size": 300,
                "special_tokens": {}, "tokenizer": {"kind": "wordpiece", "sha256": "ab"}, "compression": "",
                "splits": {"train": {"records": 5, "shards": []}}, "documents": {"read": 10}, "pii": {},
                "sources": ["text:x"], **({"stages": stages} if stages else {})}
    write_manifest(corpus, manifest)
    pretraining.mkdir()
    (pretraining / "experiment.yaml").write_text(yaml.safe_dump({"model": {}, "data": {"train": str(corpus)}}))
    finetuning.mkdir()
    (finetuning / "finetune.yaml").write_text(yaml.safe_dump({"init": str(pretraining)}))
    return str(finetuning)


def test_stages_of_the_pretraining_corpus_reach_the_training_data(tmp_path):
    _, training, _ = _run_info(_runs(tmp_path, STAGES))
    assert training["data_stages"] == STAGES
    assert training["pretraining"]["corpus"]["documents"] == {"read": 10} and "stages" not in training["pretraining"]


def test_a_manifest_without_stages_adds_none(tmp_path):
    _, training, _ = _run_info(_runs(tmp_path, None))
    assert "data_stages" not in training and training["pretraining"]["corpus"]["sources"] == ["text:x"]
