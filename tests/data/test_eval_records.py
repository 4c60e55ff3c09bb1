"""Evaluation TFRecords: written for TFMA (features equal to the encoder's, atomic, validated before writing) and read
back by read_examples (as a fine-tuning source) and by read_eval_records (for explanations)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tests.support.labeled_rows import EXPECTED, VOCAB_TXT
from tfpretrain.data import features as F
from tfpretrain.data.eval_records import EvalRecordsError, read_eval_records, write_eval_tfrecords
from tfpretrain.data.labeled import FinetuneData, FinetuneDataError, encode, read_examples
from tfpretrain.data.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(VOCAB_TXT)


@pytest.mark.parametrize("name", ["eval.tfrecord", "eval.tfrecord.gz"])
def test_write_eval_tfrecords_round_trip(tmp_path, tokenizer, name):
    examples = [
        {**e, "religion": r, "muslim": m, "mixed": x}
        for e, r, m, x in zip(EXPECTED, ["christian", None, "muslim"], [0.25, 1.0, None], [1, "two", None])
    ]
    path = tmp_path / "out" / name
    groups = ("gender", "female", "religion", "muslim", "mixed")
    assert write_eval_tfrecords(str(path), examples, tokenizer, 16, label_key="toxic", group_fields=groups) == 3
    assert os.listdir(path.parent) == [name]  # no temporary file left behind

    encoded = encode(examples, tokenizer, 16)
    compression = "GZIP" if name.endswith(".gz") else ""
    records = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path), compression)]
    assert len(records) == 3
    for i, (record, example) in enumerate(zip(records, examples)):
        feature = record.features.feature
        for key in F.BERT_INPUTS:
            assert list(feature[key].int64_list.value) == encoded[key][i].tolist()
        assert list(feature["toxic"].int64_list.value) == [example["label"]]
        assert feature["text"].bytes_list.value == [example["text"].encode()]
        assert ("label" in feature, "text_pair" in feature) == (False, False)
        for group in groups:
            value = example[group]
            if value is None:
                assert group not in feature
            elif group in ("gender", "religion"):
                assert feature[group].bytes_list.value == [value.encode()]
            elif group == "mixed":  # strings and numbers in one column: all written as text
                assert feature[group].bytes_list.value == [str(value).encode()]
            else:
                assert feature[group].float_list.value == pytest.approx([value])

    # And back through read_examples: the same examples (float32 groups compared approximately).
    back = read_examples(FinetuneData(str(path), label_field="toxic", group_fields=groups))
    for got, want in zip(back, examples):
        floats = {k: pytest.approx(want[k]) for k in ("female", "muslim") if want[k] is not None}
        assert got == {**want, "mixed": None if want["mixed"] is None else str(want["mixed"]), **floats}


def test_write_eval_tfrecords_validates_before_writing(tmp_path, tokenizer):
    path = tmp_path / "eval.tfrecord"
    with pytest.raises(FinetuneDataError, match="example 1: 'label' must be an int"):
        write_eval_tfrecords(str(path), [{"text": "a", "label": 1}, {"text": "b"}], tokenizer, 8)
    with pytest.raises(FinetuneDataError, match="clash"):
        write_eval_tfrecords(str(path), [{"text": "a", "label": 1}], tokenizer, 8, group_fields=("token_ids",))
    assert not os.listdir(tmp_path)


def test_read_eval_records_round_trip_and_errors(tmp_path, tokenizer):
    examples = [{**e, "score": s} for e, s in zip(EXPECTED, [0.5, None, 2.0])]
    path = tmp_path / "eval.tfrecord.gz"
    write_eval_tfrecords(str(path), examples, tokenizer, 12, group_fields=("gender", "score"))
    encoded = encode(examples, tokenizer, 12)
    records = read_eval_records(path)
    assert len(records) == 3 and len(read_eval_records(path, max_examples=2)) == 2
    for i, (record, example) in enumerate(zip(records, examples)):
        for key in F.BERT_INPUTS:
            assert record[key].dtype == np.int32
            np.testing.assert_array_equal(record[key], encoded[key][i])
        assert record["text"] == example["text"] and record["label"] == example["label"]
        assert record.get("gender") == example["gender"]  # bytes decoded; None: the feature is absent
        assert record.get("score") == (None if example["score"] is None else pytest.approx(example["score"]))
    with pytest.raises(EvalRecordsError, match="does not exist"):
        read_eval_records(tmp_path / "missing.tfrecord")
    (tmp_path / "junk.tfrecord").write_bytes(b"not a tfrecord file at all")
    with pytest.raises(EvalRecordsError, match="junk.tfrecord: cannot read TFRecords"):
        read_eval_records(tmp_path / "junk.tfrecord")
    empty = tmp_path / "empty.tfrecord"
    with tf.io.TFRecordWriter(str(empty)):
        pass
    with pytest.raises(EvalRecordsError, match="empty.tfrecord: no records"):
        read_eval_records(empty)
    assert issubclass(EvalRecordsError, FinetuneDataError)
