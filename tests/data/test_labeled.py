"""Fine-tuning data: CSV / JSONL / TFRecord / TFDS sources, labels and groups, errors that name file, row and column,
BERT encoding identical to transformers' BertTokenizerFast, and tf.data batches."""

import csv
import gzip
import json

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tests.support.labeled_rows import EXPECTED, ROWS, TOKENIZER_JSON, VOCAB_TXT
from tfpretrain.data import features as F
from tfpretrain.data.labeled import FinetuneData, FinetuneDataError, encode, make_classifier_dataset, read_examples
from tfpretrain.data.tokenizer import load_tokenizer

GROUPS = ("gender", "female")


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(VOCAB_TXT)


def _write_csv(path, rows, fieldnames=None):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames or list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def _write_jsonl(path, rows):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def _feature(value):
    if isinstance(value, str):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    if isinstance(value, int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))


def _write_tfrecord(path, rows):
    options = tf.io.TFRecordOptions(compression_type="GZIP" if str(path).endswith(".gz") else "")
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for row in rows:
            feature = {k: _feature(v) for k, v in row.items() if v is not None}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


# ------------------------------------------------------------------------------------------------ sources


@pytest.mark.parametrize(
    "name, write",
    [
        ("data.csv", _write_csv),
        ("data.csv.gz", _write_csv),
        ("data.jsonl", _write_jsonl),
        ("data.json.gz", _write_jsonl),
        ("data.tfrecord", _write_tfrecord),
        ("data.tfrecord.gz", _write_tfrecord),
    ],
)
def test_file_sources(tmp_path, name, write):
    write(tmp_path / name, ROWS)
    examples = read_examples(FinetuneData(str(tmp_path / name), group_fields=GROUPS))
    if "tfrecord" in name:  # float32 storage: the floats compare approximately
        assert examples == [{**e, "female": e["female"] and pytest.approx(e["female"])} for e in EXPECTED]
    else:
        assert examples == EXPECTED
    assert read_examples(FinetuneData(str(tmp_path / name)), limit=2) == [
        {"text": r["text"], "label": r["label"]} for r in ROWS[:2]
    ]


def test_glob_sources_pairs_and_csv_numbers(tmp_path):
    rows = [{"q": f"question {i}", "a": f"answer {i}", "y": i % 3, "id": f"{i:03d}", "score": f"{i / 4}"}
            for i in range(6)]
    _write_csv(tmp_path / "part-1.csv", rows[3:])
    _write_csv(tmp_path / "part-0.csv", rows[:3])
    data = FinetuneData(str(tmp_path / "part-*.csv"), text_field="q", text_pair_field="a", label_field="y",
                        num_classes=3, group_fields=("id", "score"))
    examples = read_examples(data)
    assert [e["label"] for e in examples] == [0, 1, 2, 0, 1, 2]  # files in sorted order
    assert examples[4] == {"text": "question 4", "text_pair": "answer 4", "label": 1, "id": "004", "score": 1.0}


def test_label_threshold(tmp_path):
    _write_jsonl(tmp_path / "tox.jsonl", [{"comment": "a", "toxicity": t} for t in (0.0, 0.49, 0.5, 0.51, 1.0)])
    data = FinetuneData(str(tmp_path / "tox.jsonl"), text_field="comment", label_field="toxicity", label_threshold=0.5)
    assert [e["label"] for e in read_examples(data)] == [0, 0, 1, 1, 1]


def test_tfds_civil_comments_mock():
    import tensorflow_datasets as tfds

    identities = ("female", "male", "christian", "muslim", "black", "white")
    data = FinetuneData("tfds:civil_comments/CivilCommentsIdentities:validation", label_field="toxicity",
                        label_threshold=0.5, group_fields=identities)
    with tfds.testing.mock_data(num_examples=5, policy=tfds.testing.MockPolicy.USE_CODE):
        examples = read_examples(data)
        assert read_examples(data, limit=2) == examples[:2]
        split_field = FinetuneData("tfds:civil_comments/CivilCommentsIdentities", split="validation",
                                   label_field="toxicity", label_threshold=0.5, group_fields=identities)
        assert read_examples(split_field) == examples
        with pytest.raises(FinetuneDataError, match=r"tfds:civil_comments:train: no feature\(s\) \['female'\]"):
            read_examples(FinetuneData("tfds:civil_comments:train", label_field="toxicity", group_fields=("female",)))
        with pytest.raises(FinetuneDataError, match=r"example 1: label column 'toxicity' is .*label_threshold"):
            read_examples(FinetuneData("tfds:civil_comments:train", label_field="toxicity"))
    assert len(examples) == 5
    for example in examples:
        assert isinstance(example["text"], str) and example["label"] in (0, 1)
        assert set(example) == {"text", "label", *identities}
        assert all(isinstance(example[g], float) and 0.0 <= example[g] <= 1.0 for g in identities)


def test_tfds_spec_errors():
    with pytest.raises(FinetuneDataError, match="tfds:NAME"):
        read_examples(FinetuneData("tfds:civil_comments"))
    with pytest.raises(FinetuneDataError, match="unknown TFDS dataset 'no_such_dataset_xyz'"):
        read_examples(FinetuneData("tfds:no_such_dataset_xyz:train"))
    with pytest.raises(FinetuneDataError, match="tfds:civil_comments/Nope:train: .*BuilderConfig Nope not found"):
        read_examples(FinetuneData("tfds:civil_comments/Nope:train"))


# -------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "name, content, data_kwargs, message",
    [
        ("bad.csv", "body,label\nhi,1\n", {}, r"bad.csv:1: no column\(s\) \['text'\] in the CSV header"),
        ("bad.csv", "text,label,g\nhi,1,x\n\"two\nlines\",0,y\nthree,maybe,z\n", {"group_fields": ("g",)},
         r"bad.csv:5: label column 'label' is not numeric: 'maybe'"),
        ("bad.csv", "text,label\nhi,1\nho\n", {}, r"bad.csv:3: missing label column 'label'"),
        ("bad.csv", "text,label\nhi,2\n", {}, r"bad.csv:2: label column 'label' is '2', not a class id in 0..1"),
        ("bad.csv", "text,label\nhi,0.7\n", {}, r"bad.csv:2: .*not a class id in 0..1 \(set label_threshold"),
        ("bad.csv", "text,label\nhi,3\n", {"num_classes": 3}, r"bad.csv:2: .*'3', not a class id in 0..2"),
        ("bad.csv", "text,label\nhi,1\n", {"group_fields": ("religion",)}, r"bad.csv:1: .*\['religion'\]"),
        ("bad.jsonl", '{"text": "a", "label": 1}\n\n{"txt": "b", "label": 0}\n', {},
         r"bad.jsonl:3: missing text column 'text'"),
        ("bad.jsonl", '{"text": "a", "label": 1}\n{"text": 5, "label": 0}\n', {},
         r"bad.jsonl:2: text column 'text' is a int"),
        ("bad.jsonl", '{"text": "a", "label": "x"}\n', {}, r"bad.jsonl:1: label column 'label' is not numeric"),
        ("bad.jsonl", '{"text": "a", "label": 1, "g": [1]}\n', {"group_fields": ("g",)},
         r"bad.jsonl:1: column 'g' holds a list"),
        ("bad.jsonl", '{"text": "a", "label": 1}\n', {"group_fields": ("gendr",)},
         r"bad.jsonl: no record has the group column\(s\) \['gendr'\]"),
        ("bad.jsonl", '{"text": "a", "label": 1}\n{oops\n', {}, r"bad.jsonl:2: not valid JSON"),
        ("bad.csv.gz", "text,label\nhi,1\n", {}, r"bad.csv.gz: cannot decompress"),
        ("bad.txt", "hello\n", {}, r"bad.txt: unknown file type"),
        ("missing.csv", None, {}, r"missing.csv: no such file"),
    ],
)
def test_errors_name_file_row_and_column(tmp_path, name, content, data_kwargs, message):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(FinetuneDataError, match=message):
        read_examples(FinetuneData(str(tmp_path / name), **data_kwargs))


def test_tfrecord_errors(tmp_path):
    _write_tfrecord(tmp_path / "bad.tfrecord", [{"text": "a", "label": 1}, {"text": "b"}])
    with pytest.raises(FinetuneDataError, match=r"bad.tfrecord: record 2: missing label column 'label'"):
        read_examples(FinetuneData(str(tmp_path / "bad.tfrecord")))
    (tmp_path / "junk.tfrecord").write_bytes(b"not a tfrecord file at all")
    with pytest.raises(FinetuneDataError, match=r"junk.tfrecord: cannot read TFRecords"):
        read_examples(FinetuneData(str(tmp_path / "junk.tfrecord")))


def test_bad_data_spec():
    with pytest.raises(FinetuneDataError, match="clash"):
        FinetuneData("a.csv", group_fields=("label",))
    with pytest.raises(FinetuneDataError, match="num_classes"):
        FinetuneData("a.csv", num_classes=0)
    with pytest.raises(FinetuneDataError, match="label_threshold"):
        FinetuneData("a.csv", label_threshold=float("nan"))
    assert FinetuneData("a.csv", group_fields=["g"]).group_fields == ("g",)


# ------------------------------------------------------------------------------------------------ encoding

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Unbelievably, antidisestablishmentarianism isn't a na\u00efve caf\u00e9 word in \u6771\u4eac!",
    "",
    "short",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 3,
]
PAIRS = [(a, b) for a in SENTENCES for b in SENTENCES[::-1]]


@pytest.mark.parametrize("tokenizer_file", [VOCAB_TXT, TOKENIZER_JSON], ids=["vocab.txt", "tokenizer.json"])
@pytest.mark.parametrize("length", [5, 12, 32])
def test_encode_matches_bert_tokenizer_fast(tokenizer_file, length):
    transformers = pytest.importorskip("transformers")
    reference = transformers.BertTokenizerFast(vocab_file=VOCAB_TXT)
    tokenizer = load_tokenizer(tokenizer_file)
    settings = (tokenizer.truncation, tokenizer.padding)
    hf = dict(truncation="longest_first", max_length=length, padding="max_length", return_tensors="np")
    names = {F.TOKEN_IDS: "input_ids", F.SEGMENT_IDS: "token_type_ids", F.PADDING_MASK: "attention_mask"}

    singles = encode([{"text": s} for s in SENTENCES], tokenizer, length)
    # Batched calls, as transformers encodes an empty text_pair as a pair only in a batch.
    pairs = encode([{"text": a, "text_pair": b} for a, b in PAIRS], tokenizer, length)
    for ours, theirs in ((singles, reference(SENTENCES, **hf)), (pairs, reference(*zip(*PAIRS), **hf))):
        for key, name in names.items():
            assert ours[key].dtype == np.int32 and ours[key].shape == theirs[name].shape
            np.testing.assert_array_equal(ours[key], theirs[name], err_msg=key)
    assert (tokenizer.truncation, tokenizer.padding) == settings  # the caller's tokenizer is left as it was
    np.testing.assert_array_equal(encode(SENTENCES, tokenizer, length)[F.TOKEN_IDS], singles[F.TOKEN_IDS])


def test_encode_truncates_the_longer_text_first(tokenizer):
    encoded = encode([{"text": "one two three four five six seven", "text_pair": "yes"}], tokenizer, 8)
    words = tokenizer.decode(encoded[F.TOKEN_IDS][0].tolist(), skip_special_tokens=False)
    assert words == "[CLS] one two three four [SEP] yes [SEP]"
    assert encoded[F.SEGMENT_IDS][0].tolist() == [0, 0, 0, 0, 0, 0, 1, 1]
    with pytest.raises(FinetuneDataError, match="too short"):
        encode(["text"], tokenizer, 1)


# ------------------------------------------------------------------------------------------------- datasets


def _examples(n, seed=0):
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "awful", "great", "movie", "plot", "acting", "the", "was"]
    return [{"text": " ".join(rng.choice(words, rng.integers(1, 12))), "label": int(i % 2)} for i in range(n)]


def test_classifier_dataset_shapes_and_order(tokenizer):
    examples = _examples(10)
    dataset = make_classifier_dataset(examples, tokenizer, 16, batch_size=4, shuffle=False)
    assert dataset.element_spec == {
        **{k: tf.TensorSpec([4, 16], tf.int32, name=None) for k in F.BERT_INPUTS},
        F.LABELS: tf.TensorSpec([4], tf.int32, name=None),
    }
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == 2  # the remainder of 2 is dropped
    encoded = encode(examples, tokenizer, 16)
    np.testing.assert_array_equal(batches[1][F.TOKEN_IDS], encoded[F.TOKEN_IDS][4:8])
    np.testing.assert_array_equal(batches[0][F.LABELS], [0, 1, 0, 1])

    def labels_of(dataset):
        return [b[F.LABELS].tolist() for b in dataset.as_numpy_iterator()]

    shuffled = make_classifier_dataset(examples, tokenizer, 16, batch_size=5, seed=3, drop_remainder=False)
    assert labels_of(shuffled) == labels_of(make_classifier_dataset(examples, tokenizer, 16, batch_size=5, seed=3))
    repeated = make_classifier_dataset(examples, tokenizer, 16, batch_size=3, repeat=True)
    assert len(list(repeated.take(7).as_numpy_iterator())) == 7
    with pytest.raises(FinetuneDataError, match="'label' must be an int"):
        make_classifier_dataset([{"text": "x", "label": 0.5}], tokenizer, 16, batch_size=1)


def test_tiny_classifier_fits_two_steps(tokenizer):
    from tfpretrain.keras import keras
    from tfpretrain.models.bert.bert_classifier import BertClassifier

    model = BertClassifier(factories.bert_backbone(vocabulary_size=tokenizer.get_vocab_size()), num_classes=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    dataset = make_classifier_dataset(_examples(16), tokenizer, 16, batch_size=4, repeat=True)
    history = model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and 0.0 <= history["accuracy"][0] <= 1.0
