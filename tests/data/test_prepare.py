"""`prepare` end to end on generated corpora: shards + manifest, dedup and PII counts, determinism across a
killed run, the CLI, and prepare -> make_dataset -> model.fit for BERT and GPT-2."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tests.support.corpus import (
    IN_MEMORY,
    WORDS,
    corpus_config,
    kill_then_rerun,
    read_records,
    shard_bytes,
    write_corpus,
)
from tfpretrain.config import ConfigError
from tfpretrain.data import features as F
from tfpretrain.data.formats import get_format
from tfpretrain.data.manifest import read_manifest, shard_paths
from tfpretrain.data.prepare import prepare
from tfpretrain.data.prepare_config import load_prepare_config


@pytest.fixture(scope="module")
def corpus_pattern(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def bert_out(corpus_pattern, tmp_path_factory):
    out = tmp_path_factory.mktemp("bert")
    prepare(corpus_config("bert", corpus_pattern, out), IN_MEMORY)
    return out


def test_bert_manifest_counts_and_shards(bert_out):
    manifest = read_manifest(bert_out)
    assert manifest["family"] == "bert" and manifest["format_version"] == 2 and manifest["sequence_length"] == 32
    assert manifest["documents"]["read"] == 127 and manifest["documents"]["duplicates"] == 7
    assert manifest["documents"]["unique"] == 120
    assert manifest["pii"] == {"email": 4}  # scrubbed before dedup: docs 3 and 5 also have upper-case copies
    assert manifest["special_tokens"] == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert manifest["vocabulary_size"] <= 300
    for split, count in (("train", 3), ("validation", 1)):
        entry = manifest["splits"][split]
        assert [Path(p).name for p in shard_paths(manifest, split)] == [
            f"{split}-{i:05d}-of-{count:05d}.tfrecord" for i in range(count)
        ]
        counted = [len(read_records(p)) for p in shard_paths(manifest, split)]
        assert counted == [s["records"] for s in entry["shards"]] and sum(counted) == entry["records"] > 0
    assert not (bert_out / ".work").exists()


def test_bert_records_are_unmasked_nsp_pairs_without_pii(bert_out):
    from tokenizers import Tokenizer

    manifest = read_manifest(bert_out)
    tokenizer = Tokenizer.from_file(str(bert_out / "tokenizer.json"))
    spec = {k: tf.io.FixedLenFeature(shape, tf.int64) for k, shape in get_format("bert").record_spec(32).items()}
    labels, texts = [], []
    for path in shard_paths(manifest, "train") + shard_paths(manifest, "validation"):
        for record in read_records(path):
            ex = {k: v.numpy() for k, v in tf.io.parse_single_example(record, spec).items()}
            length = int(ex[F.PADDING_MASK].sum())
            ids = ex[F.TOKEN_IDS][:length]
            assert ids[0] == 2 and ids[-1] == 3 and (ex[F.TOKEN_IDS][length:] == 0).all()
            assert (np.asarray(ids) == 3).sum() == 2 and 4 not in ids  # two [SEP], never [MASK]: masking is dynamic
            assert ex[F.SEGMENT_IDS][length - 1] == 1
            labels.append(int(ex[F.NEXT_SENTENCE_LABELS][0]))
            texts.append(tokenizer.decode(ids.tolist()))
    assert 0.25 < np.mean(labels) < 0.75
    joined = " ".join(texts)
    assert "lovelace" not in joined and "grace" not in joined and "email" in joined


def test_gpt2_windows_are_full_and_token_counts_match(corpus_pattern, tmp_path):
    manifest = prepare(corpus_config("gpt2", corpus_pattern, tmp_path, compression="GZIP"), IN_MEMORY)
    assert manifest["special_tokens"] == {"end": 0}
    manifest = read_manifest(tmp_path)
    spec = {F.TOKEN_IDS: tf.io.FixedLenFeature([32], tf.int64)}
    records = [r for p in shard_paths(manifest, "train") for r in read_records(p, "GZIP")]
    assert len(records) == manifest["splits"]["train"]["records"] > 0
    assert manifest["splits"]["train"]["tokens"] == 32 * len(records)
    ends = sum(int((tf.io.parse_single_example(r, spec)[F.TOKEN_IDS].numpy() == 0).sum()) for r in records)
    assert ends > 0  # documents are joined by the end token inside windows


def test_killed_run_then_rerun_equals_clean_run(corpus_pattern, tmp_path):
    """SIGKILL `prepare` in its examples stage, re-run: the same shards, byte for byte, as one clean run."""
    clean, out = tmp_path / "clean", tmp_path / "killed"
    prepare(corpus_config("gpt2", corpus_pattern, clean), IN_MEMORY)
    kill_then_rerun("gpt2", corpus_pattern, out)
    assert shard_bytes(out) == shard_bytes(clean)
    assert (out / "tokenizer.json").read_bytes() == (clean / "tokenizer.json").read_bytes()
    assert not list(out.glob(".*tmp*")) and not (out / ".work").exists()


def test_rerun_is_idempotent_and_keeps_the_trained_wordpiece(corpus_pattern, bert_out, tmp_path):
    """WordPiece training breaks ties nondeterministically, so a re-run reuses the tokenizer; shards are equal."""
    out = tmp_path / "again"
    shutil.copytree(bert_out, out)
    manifest = prepare(corpus_config("bert", corpus_pattern, out), IN_MEMORY)
    assert manifest["tokenizer"]["reused"] is True
    assert shard_bytes(out) == shard_bytes(bert_out)


def test_rerun_with_fewer_shards_removes_stale_ones(corpus_pattern, tmp_path):
    prepare(corpus_config("gpt2", corpus_pattern, tmp_path, num_shards=4), IN_MEMORY)
    prepare(corpus_config("gpt2", corpus_pattern, tmp_path, num_shards=2), IN_MEMORY)
    assert sorted(p.name for p in tmp_path.glob("train-*")) == [
        "train-00000-of-00002.tfrecord",
        "train-00001-of-00002.tfrecord",
    ]


def test_loads_an_existing_vocab_and_reports_missing_special_tokens(corpus_pattern, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS)), "."]) + "\n")
    config = corpus_config("bert", corpus_pattern, tmp_path / "out", tokenizer={"path": str(vocab)})
    manifest = prepare(config, IN_MEMORY)
    assert manifest["vocabulary_size"] == 5 + len(set(WORDS)) + 1
    assert manifest["tokenizer"]["loaded_from"] == str(vocab)
    vocab.write_text("[PAD]\n[UNK]\nthe\n")
    with pytest.raises(ValueError, match=r"vocab.txt.*\[CLS\]"):
        prepare(corpus_config("bert", corpus_pattern, tmp_path / "bad", tokenizer={"path": str(vocab)}), IN_MEMORY)
    assert not (tmp_path / "bad" / "manifest.json").exists()


def test_bad_config_and_empty_glob_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="num_shard"):
        load_prepare_config(data={"family": "bert", "sources": ["x"], "output": "o", "num_shard": 2})
    with pytest.raises(ConfigError, match="family: 't5' is not one of"):
        load_prepare_config(data={"family": "t5", "sources": ["x"], "output": "o"})
    with pytest.raises(ConfigError, match="family"):  # the old key name is an unknown key
        load_prepare_config(data={"task": "bert", "sources": ["x"], "output": "o"})
    with pytest.raises(ConfigError, match="sequence_length: a bert example needs at least 8"):
        load_prepare_config(data={"family": "bert", "sources": ["x"], "output": "o", "sequence_length": 7})
    missing = str(tmp_path / "nothing" / "*.txt")
    with pytest.raises(Exception, match="nothing"):
        prepare(corpus_config("bert", missing, tmp_path / "out"), IN_MEMORY)
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_cli_config_file_input_output_and_overrides(corpus_pattern, tmp_path, capsys):
    from tfpretrain import cli

    config = tmp_path / "data.yaml"
    config.write_text("family: gpt2\nsources: [unused/*.txt]\noutput: unused\nsequence_length: 64\n")
    argv = ["prepare", "--config", str(config), "--input", corpus_pattern, "--output", str(tmp_path / "out")]
    cli.main([*argv, "num_shards=2", "tokenizer.vocabulary_size=280", *IN_MEMORY])
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["sequence_length"] == 64 and len(manifest["splits"]["train"]["shards"]) == 2
    assert manifest["vocabulary_size"] <= 280
    assert "train:" in capsys.readouterr().out


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_prepare_then_make_dataset_then_fit(family, corpus_pattern, bert_out, tmp_path):
    from tfpretrain.data.pretrain_input import make_dataset
    from tfpretrain.keras import keras
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    out = bert_out if family == "bert" else tmp_path
    if family == "gpt2":
        prepare(corpus_config("gpt2", corpus_pattern, out), IN_MEMORY)
    vocab = read_manifest(out)["vocabulary_size"]
    if family == "bert":
        model = BertPretrainer(factories.bert_backbone(vocabulary_size=vocab))
    else:
        model = GPT2CausalLM(factories.gpt2_backbone(vocabulary_size=vocab))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    dataset = make_dataset(
        str(out), family, global_batch_size=4, sequence_length=32, vocabulary_size=vocab, max_predictions_per_seq=5
    )
    history = model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_prepare_from_a_tfds_source_without_download(tmp_path):
    """`tfds:NAME:SPLIT` through the whole pipeline under tfds.testing.mock_data (in-process runner)."""
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        config = load_prepare_config(data={
            "family": "gpt2", "sources": ["tfds:imdb_reviews:train"], "output": str(tmp_path), "sequence_length": 16,
            "num_shards": 2, "min_document_chars": 1, "tokenizer": {"vocabulary_size": 300, "min_frequency": 1},
        })
        manifest = prepare(config, IN_MEMORY)
    # mock_data ignores sub-split slices: each read unit yields the same 12 examples, and dedup keeps one copy
    assert manifest["documents"]["read"] % 12 == 0
    assert manifest["documents"]["unique"] <= 12 < manifest["documents"]["read"]
    assert manifest["sources"] == ["tfds:imdb_reviews:train text_field=text"]
    assert manifest["splits"]["train"]["records"] > 0
