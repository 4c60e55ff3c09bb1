"""tfpretrain.data.pretrain_input: shards + manifest -> the feature dicts the task models train on.

Tiny corpora are written here (tf.io.TFRecordWriter + manifest.write_manifest), following the formats' record_spec.
"""

import json
import logging
import os
import posixpath
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import ROOT, factories
from tfpretrain.data import features as F
from tfpretrain.data import pretrain_input as ip
from tfpretrain.data.manifest import FORMAT_VERSION, ManifestError, shard_name, write_manifest
from tfpretrain.data.prepared_corpus import ShardsError
from tfpretrain.errors import UserError

VOCAB = factories.VOCAB  # 97: ids 0-4 special, 5-49 word starts, 50-96 "##" continuation pieces
PAD, UNK, CLS, SEP, MASK = range(5)
BERT_SPECIAL = {"pad": PAD, "unk": UNK, "cls": CLS, "sep": SEP, "mask": MASK}
FIRST_CONTINUATION = 50
S, P = 16, 4


# -- corpus writer -----------------------------------------------------------------------------------------------
def _int64(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _words(rng, count):
    """`count` WordPiece ids: words of 1-3 pieces (a start id, then "##" ids)."""
    out = []
    while len(out) < count:
        out.append(int(rng.integers(5, FIRST_CONTINUATION)))
        out.extend(int(rng.integers(FIRST_CONTINUATION, VOCAB)) for _ in range(min(int(rng.integers(0, 3)),
                                                                                   count - len(out))))
    return out


def bert_record(rng, length=S):
    """An unmasked, right-padded NSP pair: [CLS] A [SEP] B [SEP] 0 ..."""
    body = int(rng.integers(3, length - 2))  # real tokens = body + 3 <= length
    split = int(rng.integers(1, body))
    a, b = _words(rng, split), _words(rng, body - split)
    ids = [CLS, *a, SEP, *b, SEP]
    pad = [0] * (length - len(ids))
    return {
        F.TOKEN_IDS: ids + pad,
        F.SEGMENT_IDS: [0] * (len(a) + 2) + [1] * (len(b) + 1) + pad,
        F.PADDING_MASK: [1] * len(ids) + pad,
        F.NEXT_SENTENCE_LABELS: [int(rng.integers(0, 2))],
    }


def gpt2_record(index, length=S):
    """A packed window whose first two tokens spell its index (index = t0 * VOCAB + t1)."""
    return {F.TOKEN_IDS: [index // VOCAB, index % VOCAB] + [(index + k) % VOCAB for k in range(length - 2)]}


def gpt2_index(token_ids):
    return int(token_ids[0]) * VOCAB + int(token_ids[1])


def write_tokenizer(directory):
    """A WordPiece tokenizer.json over the test vocabulary; -> sha256."""
    from tokenizers import Tokenizer, models

    from tfpretrain.data.tokenizer import save_tokenizer

    vocab = {name: i for i, name in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])}
    vocab.update({f"w{i}": i for i in range(5, FIRST_CONTINUATION)})
    vocab.update({f"##c{i}": i for i in range(FIRST_CONTINUATION, VOCAB)})
    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    return save_tokenizer(tokenizer, Path(directory, "tokenizer.json"))


def write_corpus(directory, family="bert", shard_sizes=(5, 4, 3), *, sequence_length=S, vocabulary_size=VOCAB,
                 compression="", split="train", seed=0, tokenizer=True):
    """Shards + manifest.json in `directory`; -> list of records (dicts of int lists) in shard order."""
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    records, shards = [], []
    options = tf.io.TFRecordOptions(compression_type=compression)
    for index, size in enumerate(shard_sizes):
        name = shard_name(split, index, len(shard_sizes), compression)
        with tf.io.TFRecordWriter(posixpath.join(directory, name), options) as writer:
            for _ in range(size):
                if family == "bert":
                    record = bert_record(rng, sequence_length)
                else:
                    record = gpt2_record(len(records), sequence_length)
                example = tf.train.Example(features=tf.train.Features(feature={k: _int64(v) for k, v in
                                                                               record.items()}))
                writer.write(example.SerializeToString())
                records.append(record)
        shards.append({"file": name, "records": size})
    sha = write_tokenizer(directory) if family == "bert" and tokenizer else ""
    write_manifest(directory, {
        "format_version": FORMAT_VERSION,
        "family": family,
        "sequence_length": sequence_length,
        "vocabulary_size": vocabulary_size,
        "special_tokens": BERT_SPECIAL if family == "bert" else {"end": 0},
        "tokenizer": {"file": "tokenizer.json", "sha256": sha,
                      "kind": "wordpiece" if family == "bert" else "byte_level_bpe"},
        "compression": compression,
        "splits": {split: {"records": sum(shard_sizes), "shards": shards}},
    })
    return records


def make(*args, **kwargs):
    """make_dataset with a small record shuffle buffer: 10k records of a repeated 12-record corpus is slow to fill."""
    kwargs.setdefault("shuffle_buffer", 16)
    return ip.make_dataset(*args, **kwargs)


def batches(dataset, limit=None):
    out = []
    for batch in dataset.as_numpy_iterator():
        out.append(batch)
        if limit is not None and len(out) == limit:
            break
    return out


def unmask(batch):
    """Original token ids [B, S] of a masked BERT batch: the masked positions get masked_lm_ids back."""
    ids = batch[F.TOKEN_IDS].copy()
    for row in range(ids.shape[0]):
        real = batch[F.MASKED_LM_WEIGHTS][row] > 0
        ids[row, batch[F.MASKED_LM_POSITIONS][row][real]] = batch[F.MASKED_LM_IDS][row][real]
    return ids


def gpt2_indices(dataset):
    return [gpt2_index(row) for batch in dataset.as_numpy_iterator() for row in batch[F.TOKEN_IDS]]


@pytest.fixture
def bert_dir(tmp_path):
    records = write_corpus(tmp_path / "bert", "bert")
    return tmp_path / "bert", records


@pytest.fixture
def gpt2_dir(tmp_path):
    records = write_corpus(tmp_path / "gpt2", "gpt2", shard_sizes=(6, 5, 4, 3))
    return tmp_path / "gpt2", records


# -- output contract ---------------------------------------------------------------------------------------------
def test_bert_features_keys_shapes_and_dtypes(bert_dir):
    directory, records = bert_dir
    ds = make(directory, "bert", 4, max_predictions_per_seq=P, sequence_length=S, vocabulary_size=VOCAB)
    expected = {
        F.TOKEN_IDS: ((4, S), tf.int32), F.SEGMENT_IDS: ((4, S), tf.int32), F.PADDING_MASK: ((4, S), tf.int32),
        F.MASKED_LM_POSITIONS: ((4, P), tf.int32), F.MASKED_LM_IDS: ((4, P), tf.int32),
        F.MASKED_LM_WEIGHTS: ((4, P), tf.float32), F.NEXT_SENTENCE_LABELS: ((4,), tf.int32),
    }
    assert {k: (tuple(v.shape), v.dtype) for k, v in ds.element_spec.items()} == expected  # static shapes
    originals = {tuple(r[F.TOKEN_IDS]) for r in records}
    for batch in batches(ds, limit=3):  # repeats forever: 12 rows from 12 records
        for row, ids in enumerate(unmask(batch)):
            assert tuple(ids) in originals
            match = next(r for r in records if tuple(r[F.TOKEN_IDS]) == tuple(ids))
            np.testing.assert_array_equal(batch[F.SEGMENT_IDS][row], match[F.SEGMENT_IDS])
            np.testing.assert_array_equal(batch[F.PADDING_MASK][row], match[F.PADDING_MASK])
            assert batch[F.NEXT_SENTENCE_LABELS][row] == match[F.NEXT_SENTENCE_LABELS][0]


def test_gpt2_features_keys_shapes_and_dtypes(gpt2_dir):
    directory, _ = gpt2_dir
    ds = make(directory, "gpt2", 3, sequence_length=S, vocabulary_size=VOCAB)
    assert {k: (tuple(v.shape), v.dtype) for k, v in ds.element_spec.items()} == {
        F.TOKEN_IDS: ((3, S), tf.int32), F.PADDING_MASK: ((3, S), tf.int32)
    }
    batch = batches(ds, limit=1)[0]
    assert (batch[F.PADDING_MASK] == 1).all()
    for row in batch[F.TOKEN_IDS]:
        np.testing.assert_array_equal(row, gpt2_record(gpt2_index(row))[F.TOKEN_IDS])


# -- masking -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.15, 0.4])
def test_masking_skips_special_tokens_and_padding_at_the_configured_rate(tmp_path, rate):
    records = write_corpus(tmp_path, "bert", shard_sizes=(40, 40), seed=3)
    ds = make(tmp_path, "bert", 8, max_predictions_per_seq=6, mask_rate=rate, whole_word_masking=False,
                         repeat=False)
    originals = {tuple(r[F.TOKEN_IDS]) for r in records}
    rows = 0
    for batch in batches(ds):
        original = unmask(batch)
        for row in range(8):
            rows += 1
            assert tuple(original[row]) in originals  # unmasked tokens untouched; masked_lm_ids are the originals
            real = batch[F.MASKED_LM_WEIGHTS][row] > 0
            picked = batch[F.MASKED_LM_POSITIONS][row][real]
            assert len(set(picked.tolist())) == len(picked)
            assert (batch[F.PADDING_MASK][row][picked] == 1).all()
            assert not np.isin(original[row][picked], list(BERT_SPECIAL.values())).any()
            candidates = int(((batch[F.PADDING_MASK][row] == 1) & (original[row] >= 5)).sum())
            assert real.sum() == min(max(1, round(candidates * rate)), 6)
            changed = np.flatnonzero(batch[F.TOKEN_IDS][row] != original[row])
            assert set(changed.tolist()) <= set(picked.tolist())
    assert rows == 80


def _assert_whole_words(batch):
    """Every masked piece's whole word is masked (a row may predict fewer tokens: words are never cut)."""
    original = unmask(batch)
    assert batch[F.MASKED_LM_WEIGHTS].sum() > 0
    for row in range(original.shape[0]):
        picked = set(batch[F.MASKED_LM_POSITIONS][row][batch[F.MASKED_LM_WEIGHTS][row] > 0].tolist())
        for position in picked:  # the word around `position`: its start piece back to the next start piece
            start = position
            while original[row][start] >= FIRST_CONTINUATION:
                start -= 1
            end = position + 1
            while end < S and original[row][end] >= FIRST_CONTINUATION:
                end += 1
            assert set(range(start, end)) <= picked, (row, position, original[row])


def test_whole_word_masking_from_the_manifest_tokenizer(tmp_path):
    write_corpus(tmp_path, "bert", shard_sizes=(30,), seed=5)
    ds = make(tmp_path, "bert", 6, max_predictions_per_seq=6, mask_rate=0.3, repeat=False)
    found = batches(ds)
    assert len(found) == 5
    assert any((b[F.MASKED_LM_IDS][b[F.MASKED_LM_WEIGHTS] > 0] >= FIRST_CONTINUATION).any() for b in found)
    for batch in found:
        _assert_whole_words(batch)


def test_whole_word_masking_from_a_table_argument_with_a_glob(tmp_path):
    write_corpus(tmp_path, "bert", shard_sizes=(12, 12), seed=6, tokenizer=False)
    table = [i >= FIRST_CONTINUATION for i in range(VOCAB)]
    ds = make(str(tmp_path / "train-*.tfrecord"), "bert", 6, vocabulary_size=VOCAB, mask_rate=0.3,
                         max_predictions_per_seq=6, continuation_table=table, repeat=False)
    found = batches(ds)
    assert len(found) == 4
    for batch in found:
        _assert_whole_words(batch)


def test_whole_word_masking_that_cannot_run_is_an_error_naming_the_file_and_the_fix(tmp_path):
    write_corpus(tmp_path / "none", "bert", shard_sizes=(8,), tokenizer=False)
    with pytest.raises(ManifestError, match=r"none/tokenizer.json: not found.*whole_word_masking: false"):
        make(tmp_path / "none", "bert", 4, max_predictions_per_seq=P)
    write_corpus(tmp_path / "other", "bert", shard_sizes=(8,))
    with open(tmp_path / "other" / "tokenizer.json", "a") as f:
        f.write(" ")  # same vocabulary, another file: not the tokenizer the manifest names
    with pytest.raises(ManifestError, match=r"other/tokenizer.json: its sha256 differs.*whole_word_masking"):
        make(tmp_path / "other", "bert", 4, max_predictions_per_seq=P)
    with pytest.raises(ShardsError, match=r"file pattern names no tokenizer.*continuation_table="):
        make(str(tmp_path / "other" / "*.tfrecord"), "bert", 4, vocabulary_size=VOCAB, max_predictions_per_seq=P)
    assert issubclass(ManifestError, UserError) and issubclass(ShardsError, UserError)
    # Turned off, token-level masking is what was asked for: no error.
    for directory in ("none", "other"):
        ds = make(tmp_path / directory, "bert", 4, max_predictions_per_seq=P, whole_word_masking=False, repeat=False)
        assert len(batches(ds)) == 2


def test_a_version_1_manifest_with_task_still_reads(tmp_path):
    write_corpus(tmp_path, "gpt2", shard_sizes=(4,))
    path = tmp_path / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"], manifest["task"] = 1, manifest.pop("family")
    path.write_text(json.dumps(manifest))
    assert sorted(gpt2_indices(make(tmp_path, "gpt2", 1, repeat=False))) == [0, 1, 2, 3]
    assert ip.validate_shards(tmp_path) == {str(tmp_path / shard_name("train", 0, 1)): 4}
    manifest["format_version"] = 3
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"format_version 3, this reader reads \(1, 2\)"):
        make(tmp_path, "gpt2", 1)


# -- coverage, sharding, determinism -----------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_record_exactly_once_per_epoch(gpt2_dir, shuffle):
    directory, records = gpt2_dir
    ds = make(directory, "gpt2", 1, shuffle=shuffle, repeat=False)
    assert sorted(gpt2_indices(ds)) == list(range(len(records)))


def test_one_pass_drops_only_the_last_partial_batch(gpt2_dir):
    directory, _ = gpt2_dir
    found = batches(make(directory, "gpt2", 4, repeat=False))
    indices = [gpt2_index(row) for batch in found for row in batch[F.TOKEN_IDS]]
    assert len(found) == 4 and len(set(indices)) == 16  # 18 records: 4 full batches of 4


def test_repeat_cycles_through_every_record(gpt2_dir):
    directory, records = gpt2_dir
    found = gpt2_indices(make(directory, "gpt2", 2, shuffle=False, deterministic=True).take(18))
    assert sorted(found) == sorted(list(range(18)) * 2)  # two full epochs


def _host_indices(directory, hosts, **kwargs):
    """GPT-2 record indices each of `hosts` simulated input pipelines reads in one epoch (per-replica batch 1)."""
    out = []
    for host in range(hosts):
        context = tf.distribute.InputContext(num_input_pipelines=hosts, input_pipeline_id=host,
                                             num_replicas_in_sync=hosts)
        out.append(gpt2_indices(make(directory, "gpt2", hosts, context, repeat=False, **kwargs)))
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shard_sizes=st.lists(st.integers(1, 6), min_size=1, max_size=5), hosts=st.integers(1, 4),
       seed=st.integers(0, 100))
def test_hosts_read_disjoint_shares_that_cover_the_corpus(shard_sizes, hosts, seed):
    with tempfile.TemporaryDirectory() as directory:
        write_corpus(directory, "gpt2", shard_sizes)
        per_host = _host_indices(directory, hosts, seed=seed)
    found = [i for host in per_host for i in host]
    assert sorted(found) == list(range(sum(shard_sizes)))  # disjoint and covering
    if len(shard_sizes) >= hosts:  # file-level sharding: host h reads exactly shards h, h + hosts, ...
        starts = np.cumsum([0, *shard_sizes])
        for host, indices in enumerate(per_host):
            mine = [i for s in range(host, len(shard_sizes), hosts) for i in range(starts[s], starts[s + 1])]
            assert sorted(indices) == mine


@pytest.mark.parametrize("seed", [4, None])  # None: each host draws its own seed; the file order must still agree
def test_fewer_shards_than_hosts_warns_and_splits_records(tmp_path, caplog, seed):
    write_corpus(tmp_path, "gpt2", (7, 6, 5))
    with caplog.at_level(logging.WARNING, logger=ip.__name__):
        per_host = _host_indices(tmp_path, 4, seed=seed)
    assert "3 shard(s) for 4 input pipelines" in caplog.text
    assert sorted(i for host in per_host for i in host) == list(range(18))
    assert all(per_host)


def test_per_replica_batch_from_the_input_context(gpt2_dir):
    directory, _ = gpt2_dir
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=4)
    ds = make(directory, "gpt2", 8, context)
    assert ds.element_spec[F.TOKEN_IDS].shape == (2, S)


def test_same_seed_replays_exactly_and_another_seed_differs(bert_dir):
    directory, _ = bert_dir

    def run(seed):
        ds = make(directory, "bert", 4, seed=seed, deterministic=True, max_predictions_per_seq=P)
        return batches(ds, limit=9)  # 36 rows of a 12-record corpus: each record about three times

    first, again, other = run(1), run(1), run(2)
    for a, b in zip(first, again):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a[F.TOKEN_IDS], c[F.TOKEN_IDS]) for a, c in zip(first, other))
    # dynamic masking: a record seen again is masked afresh
    masks = {}
    for batch in first:
        for record, positions in zip(unmask(batch), batch[F.MASKED_LM_POSITIONS]):
            masks.setdefault(tuple(record), set()).add(tuple(positions))
    assert len(masks) == 12 and any(len(m) > 1 for m in masks.values())


@pytest.mark.parametrize("skip", [3, 64, 70])  # B=4: 64 batches per parse group; inside, at and past a boundary
def test_skip_batches_resumes_the_same_stream(bert_dir, skip):
    """A resumed run's reader (skip_batches = batches already consumed) continues the uninterrupted stream."""
    directory, _ = bert_dir
    kwargs = dict(seed=5, deterministic=True, max_predictions_per_seq=P)
    full = batches(make(directory, "bert", 4, **kwargs), limit=skip + 4)
    resumed = batches(make(directory, "bert", 4, skip_batches=skip, **kwargs), limit=4)
    for a, b in zip(full[skip:], resumed):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


# -- errors ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(family="gpt2"), "the corpus is prepared for 'bert' but the model is 'gpt2'"),
        (dict(sequence_length=32), "sequence_length is 16 but the model reads 32"),
        (dict(vocabulary_size=50), "vocabulary_size is 97 but the model embeds only 50"),
    ],
)
def test_a_manifest_that_does_not_fit_the_model_is_one_clear_error(bert_dir, kwargs, message):
    directory, _ = bert_dir
    kwargs = {"family": "bert", **kwargs}
    with pytest.raises(ManifestError, match=message) as info:
        make(directory, global_batch_size=4, **kwargs)
    assert str(directory / "manifest.json") in str(info.value)


def test_a_bigger_model_vocabulary_is_fine(bert_dir):
    directory, _ = bert_dir
    ds = make(str(directory / "manifest.json"), "bert", 4, sequence_length=S, vocabulary_size=VOCAB + 3,
                         max_predictions_per_seq=P)
    assert len(batches(ds, limit=1)) == 1


def test_missing_data_is_one_clear_error(tmp_path):
    with pytest.raises(ManifestError, match=f"{tmp_path / 'nowhere'}.*no manifest"):
        make(tmp_path / "nowhere", "bert", 4)
    with pytest.raises(ShardsError, match=r"no files match .*train-\*\.tfrecord"):
        make(str(tmp_path / "train-*.tfrecord"), "gpt2", 4)
    write_corpus(tmp_path / "empty", "gpt2", shard_sizes=())
    with pytest.raises(ManifestError, match="split 'train' is empty"):
        make(tmp_path / "empty", "gpt2", 4)
    write_corpus(tmp_path / "gone", "gpt2", shard_sizes=(2, 2))
    os.remove(tmp_path / "gone" / shard_name("train", 1, 2))
    with pytest.raises(ManifestError, match="1 of 2 'train' shards are missing.*train-00001-of-00002"):
        make(tmp_path / "gone", "gpt2", 4)
    with pytest.raises(ManifestError, match="no split 'validation'"):
        make(tmp_path / "gone", "gpt2", 4, split="validation")


def _truncate(path, keep_bytes):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:keep_bytes])


def test_a_truncated_shard_is_named_by_the_reader_and_by_validate_shards(gpt2_dir):
    directory, _ = gpt2_dir
    assert sum(ip.validate_shards(directory).values()) == 18
    bad = directory / shard_name("train", 2, 4)
    _truncate(bad, bad.stat().st_size - 5)
    with pytest.raises(tf.errors.DataLossError, match=f"{bad}: bad data .*truncated record"):
        ip.validate_shards(directory)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{bad}' is truncated or corrupt"):
        batches(make(directory, "gpt2", 2, repeat=False))


def test_validate_shards_on_a_glob_and_a_short_shard(gpt2_dir):
    directory, _ = gpt2_dir
    counts = ip.validate_shards(str(directory / "*.tfrecord"), "gpt2")
    assert sorted(counts.values()) == [3, 4, 5, 6]
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["splits"]["train"]["shards"][0]["records"] = 7  # one more than the shard holds
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(tf.errors.DataLossError, match="train-00000-of-00004.tfrecord: 6 records, but the manifest"):
        ip.validate_shards(directory)


def test_records_of_the_wrong_shape_fail_naming_the_manifest(tmp_path):
    write_corpus(tmp_path, "gpt2", (4,), sequence_length=S + 2)
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sequence_length"] = S  # the manifest lies about the records
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"Name: {manifest_path}, Key: token_ids"):
        batches(make(tmp_path, "gpt2", 2, repeat=False))
    with pytest.raises(tf.errors.DataLossError, match="train-00000-of-00001.tfrecord: bad data"):
        ip.validate_shards(tmp_path)


def test_gzip_shards(tmp_path):
    write_corpus(tmp_path, "gpt2", (4, 5), compression="GZIP")
    assert sorted(gpt2_indices(make(tmp_path, "gpt2", 1, repeat=False))) == list(range(9))
    globbed = make(str(tmp_path / "*.tfrecord.gz"), "gpt2", 1, repeat=False)  # GZIP from the suffix
    assert sorted(gpt2_indices(globbed)) == list(range(9))
    with pytest.raises(ManifestError, match="compression is 'GZIP'"):
        make(tmp_path, "gpt2", 1, compression="")


def test_a_glob_needs_a_vocabulary_for_bert_masking(tmp_path):
    write_corpus(tmp_path, "bert", (4,))
    with pytest.raises(ShardsError, match="vocabulary_size"):
        make(str(tmp_path / "*.tfrecord"), "bert", 2, whole_word_masking=False)
    ds = make(str(tmp_path / "*.tfrecord"), "bert", 2, vocabulary_size=VOCAB, max_predictions_per_seq=P,
              whole_word_masking=False)
    assert ds.element_spec[F.TOKEN_IDS].shape == (2, S)  # sequence length read from the first record


# -- training ----------------------------------------------------------------------------------------------------
def test_bert_pretrainer_and_gpt2_fit_on_the_reader(bert_dir, gpt2_dir):
    from tfpretrain.keras import keras
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    for directory, family, model, eager in (
        (bert_dir[0], "bert", BertPretrainer(factories.bert_backbone()), False),  # traced, from the element_spec
        (gpt2_dir[0], "gpt2", GPT2CausalLM(factories.gpt2_backbone()), True),  # eager: saves ~5 s of tracing
    ):
        model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=eager)
        ds = make(directory, family, 4, sequence_length=S, vocabulary_size=VOCAB, max_predictions_per_seq=P)
        history = model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0).history
        assert np.isfinite(history["loss"]).all()


def test_distribute_datasets_from_function_under_the_default_strategy(bert_dir):
    directory, _ = bert_dir
    strategy = tf.distribute.get_strategy()
    dist = ip.dataset_for_strategy(strategy, directory, "bert", 4, max_predictions_per_seq=P, shuffle_buffer=16)
    batch = next(iter(dist))
    assert batch[F.MASKED_LM_POSITIONS].shape == (4, P)
    contexts = []
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: contexts.append(ctx) or make(directory, "bert", 4, ctx, max_predictions_per_seq=P)
    )
    assert next(iter(dist))[F.TOKEN_IDS].shape == (4, S)
    assert contexts[0].num_input_pipelines == 1


# -- benchmark ---------------------------------------------------------------------------------------------------
def test_benchmark_quick_json():
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "input_pipeline.py"), "--quick", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_name = {r["measurement"]: r for r in records}
    assert {"reader_bert", "reader_gpt2", "consumer_bert", "ratio"} <= set(by_name)
    for record in records:
        assert {"measurement", "examples_per_s"} <= set(record)
    assert by_name["reader_bert"]["examples_per_s"] > 0 and by_name["consumer_bert"]["examples_per_s"] > 0
    assert {"ratio", "target", "target_met"} <= set(by_name["ratio"])
