"""Sources: normalisation, spec parsing, text / JSONL / CSV / TFRecord / gzip reads with errors naming file:line and
field, read planning, and TFDS without downloads."""

import gzip
import json

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpretrain.data.sources import (
    CorpusError,
    Source,
    normalize,
    parse_source,
    plan_reads,
    read_documents,
    read_records,
)
from tfpretrain.errors import UserError


def _read_all(sources, **kwargs):
    return [doc for source, unit in plan_reads(sources, **kwargs) for doc in read_documents(source, unit)]


def test_normalize():
    text = "\ufeff  Caf\u0065\u0301\u00a0 au\tlait\u200b \r\n\n\n\n\u2009next\x00 line\u2028last  "
    assert normalize(text) == "Caf\u00e9 au lait\n\nnext line\nlast"
    assert normalize("Keep CASE\n\nand\nlines") == "Keep CASE\n\nand\nlines"
    assert normalize("e\u200b\u0301") == "\u00e9"  # NFC after dropping the format character


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once
    assert "\n\n\n" not in once and once == once.strip()


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("docs/*.txt", Source("text", path="docs/*.txt", split_by="line")),
        ("gs://b/a-*.jsonl.gz", Source("jsonl", path="gs://b/a-*.jsonl.gz", text_field="text")),
        ("x.json", Source("jsonl", path="x.json", text_field="text")),
        ("gs://b/rows-*.csv.gz", Source("csv", path="gs://b/rows-*.csv.gz", text_field="text")),
        ("d/x.tfrecord-00000-of-00004", Source("tfrecord", path="d/x.tfrecord-00000-of-00004", text_field="text")),
        ({"type": "csv", "path": "a.csv", "text_field": "body"}, Source("csv", path="a.csv", text_field="body")),
        ({"type": "tfrecord", "path": "a.tfrecords"}, Source("tfrecord", path="a.tfrecords", text_field="text")),
        (
            "tfds:wikipedia/20230601.en:train",
            Source("tfds", name="wikipedia/20230601.en", split="train", text_field="text"),
        ),
        (
            "tfds:imdb_reviews:1.0.0:train[:10%]",
            Source("tfds", name="imdb_reviews:1.0.0", split="train[:10%]", text_field="text"),
        ),
        ({"type": "text", "path": "d/*", "split_by": "blank_line"}, Source("text", path="d/*", split_by="blank_line")),
        (
            {"type": "jsonl", "path": "a.jsonl", "text_field": "body"},
            Source("jsonl", path="a.jsonl", text_field="body"),
        ),
        (
            {"type": "tfds", "name": "c4/en", "data_dir": None},
            Source("tfds", name="c4/en", split="train", text_field="text"),
        ),
    ],
)
def test_parse_source(spec, expected):
    assert parse_source(spec) == expected


def test_describe():
    assert parse_source("docs/*.txt").describe() == "text:docs/*.txt split_by=line"
    assert parse_source("tfds:c4/en:validation").describe() == "tfds:c4/en:validation text_field=text"
    assert parse_source("a.csv").describe() == "csv:a.csv text_field=text"


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"type": "text", "path": "a", "text_field": "t"}, "unknown key 'text_field'"),
        ({"type": "parquet", "path": "a"}, "key 'type'"),
        ({"type": "csv", "path": "a", "split_by": "line"}, "unknown key 'split_by'"),
        ({"path": "a"}, "key 'type'"),
        ({"type": "text", "path": "a", "split_by": "page"}, "key 'split_by'"),
        ({"type": "jsonl", "text_field": "t"}, "lacks key 'path'"),
        ({"type": "jsonl", "path": 3}, "key 'path'"),
        ("tfds:mnist", "tfds:NAME"),
        (["a.txt"], "dict or a string"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(CorpusError, match=message):
        parse_source(spec)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "b.txt").write_text("first doc\n\n  second doc\r\nthird\n")
    (tmp_path / "a.txt").write_text("\ufeffpara one\nstill one\n\n\n\npara two\n")
    with gzip.open(tmp_path / "c.txt.gz", "wt", encoding="utf-8") as f:
        f.write("zipped one\nzipped two\n")
    (tmp_path / "sub.txt").mkdir()  # directories that match a glob are not inputs
    (tmp_path / "good.jsonl").write_text('{"text": "j1", "id": 1}\n\n{"text": "j2"}\n')
    return tmp_path


def test_text_sources(files):
    assert _read_all(str(files / "b.txt")) == ["first doc", "  second doc", "third"]
    assert _read_all({"type": "text", "path": str(files / "a.txt"), "split_by": "blank_line"}) == [
        "para one\nstill one",
        "para two",
    ]
    assert _read_all(str(files / "*.gz")) == ["zipped one", "zipped two"]


def test_plan_reads_is_sorted_and_deterministic(files):
    sources = [str(files / "*.txt*"), {"type": "jsonl", "path": str(files / "good.jsonl")}]
    plan = plan_reads(sources)
    assert [unit.rsplit("/", 1)[-1] for _, unit in plan] == ["a.txt", "b.txt", "c.txt.gz", "good.jsonl"]
    assert plan == plan_reads(sources)
    assert _read_all(sources)[-2:] == ["j1", "j2"]


def test_glob_without_match_names_the_pattern(tmp_path):
    with pytest.raises(CorpusError, match="nothing-here"):
        plan_reads(str(tmp_path / "nothing-here*.txt"))


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"text": "ok"}', "{not json"], "bad.jsonl:2: not valid JSON"),
        (['{"text": "ok"}', "", '{"body": "x"}'], "bad.jsonl:3: .*'text'"),
        (['{"text": 7}'], "bad.jsonl:1: text field 'text' is a int"),
        (["[1, 2]"], "bad.jsonl:1: expected a JSON object, got list"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path, lines, message):
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match=message):
        _read_all(str(tmp_path / "bad.jsonl"))


def test_tfds_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        plan = plan_reads("tfds:imdb_reviews:train", tfds_parts=4)
        assert [unit for _, unit in plan] == ["train[0%:25%]", "train[25%:50%]", "train[50%:75%]", "train[75%:100%]"]
        docs = list(read_documents(*plan[0]))  # mock_data ignores the slice: every unit holds 3 examples
        assert len(docs) == 3 and all(isinstance(d, str) for d in docs)
        with pytest.raises(CorpusError, match=r"imdb_reviews:train: no feature\(s\) \['review'\].*'label', 'text'"):
            plan_reads({"type": "tfds", "name": "imdb_reviews", "text_field": "review"})


@pytest.fixture(scope="module")
def tiny_tfds(tmp_path_factory):
    """A real, prepared 5 + 2 example TFDS dataset (generated locally, nothing downloaded)."""
    import tensorflow_datasets as tfds

    class TfpretrainTinyText(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")
        code_path = None  # no checksums file to look for (the lookup needs the uninstalled importlib_resources)

        def _info(self):
            features = tfds.features.FeaturesDict({"text": tfds.features.Text(), "id": np.int64})
            return tfds.core.DatasetInfo(builder=self, features=features)

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(5), "test": self._generate_examples(2)}

        def _generate_examples(self, n):
            for i in range(n):
                yield i, {"text": f"doc {i}", "id": i}

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    TfpretrainTinyText(data_dir=data_dir).download_and_prepare()
    return {"type": "tfds", "name": "tfpretrain_tiny_text", "data_dir": data_dir}


def test_tfds_even_sub_splits(tiny_tfds):
    assert [u for _, u in plan_reads(tiny_tfds, tfds_parts=2)] == ["train[0:3]", "train[3:5]"]
    tiny = plan_reads(tiny_tfds, tfds_parts=8)  # fewer parts than asked: the split has 5 examples
    assert [u for _, u in tiny] == [f"train[{i}:{i + 1}]" for i in range(5)]
    docs = [d for source, unit in tiny for d in read_documents(source, unit)]
    assert sorted(docs) == [f"doc {i}" for i in range(5)]
    units = [u for _, u in plan_reads({**tiny_tfds, "split": "train[:60%]+test"}, tfds_parts=2)]
    assert units == ["train[0:2]+test[0:1]", "train[2:3]+test[1:2]"]
    with pytest.raises(CorpusError, match="bad split 'validaton'"):
        plan_reads({**tiny_tfds, "split": "validaton"})


def test_tfds_not_prepared(tiny_tfds, tmp_path):
    source, unit = plan_reads({**tiny_tfds, "data_dir": str(tmp_path)}, tfds_parts=2)[0]
    with pytest.raises(CorpusError, match="not prepared"):
        list(read_documents(source, unit))


def test_jsonl_roundtrip_of_awkward_text(tmp_path):
    texts = ["line\nbreak", "tab\there", "unicode \u00e9\u4e2d", ""]
    (tmp_path / "w.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    assert _read_all(str(tmp_path / "w.jsonl")) == texts


def _tfrecord(path, rows):
    options = tf.io.TFRecordOptions(compression_type="GZIP" if str(path).endswith(".gz") else "")
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for row in rows:
            feature = {}
            for key, value in row.items():
                if isinstance(value, bytes):
                    feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
                else:
                    feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=list(value)))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def test_csv_and_tfrecord_corpus_sources(tmp_path):
    with gzip.open(tmp_path / "rows.csv.gz", "wt", encoding="utf-8", newline="") as f:
        f.write('id,body\n1,"first, with a comma"\n2,"two\nlines"\n')
    assert _read_all({"type": "csv", "path": str(tmp_path / "rows.csv.gz"), "text_field": "body"}) == [
        "first, with a comma", "two\nlines"]
    where = [w for w, _ in read_records(parse_source(str(tmp_path / "rows.csv.gz")), str(tmp_path / "rows.csv.gz"))]
    assert where == [f"{tmp_path / 'rows.csv.gz'}:2", f"{tmp_path / 'rows.csv.gz'}:3"]
    with pytest.raises(CorpusError, match=r"rows.csv.gz:1: no column\(s\) \['text'\] in the CSV header"):
        _read_all(str(tmp_path / "rows.csv.gz"))

    _tfrecord(tmp_path / "docs.tfrecord", [{"text": "caf\u00e9".encode(), "ids": [1, 2]}, {"text": b"two"}])
    assert _read_all(str(tmp_path / "docs.tfrecord")) == ["caf\u00e9", "two"]
    records = list(read_records(parse_source(str(tmp_path / "docs.tfrecord")), str(tmp_path / "docs.tfrecord")))
    assert records[0] == (f"{tmp_path / 'docs.tfrecord'}: record 1", {"text": "caf\u00e9".encode(), "ids": [1, 2]})
    _tfrecord(tmp_path / "bad.tfrecord", [{"text": b"ok"}, {"ids": [3]}, {"text": b"\xff"}])
    with pytest.raises(CorpusError, match=r"bad.tfrecord: record 2: record has no text field 'text'"):
        _read_all(str(tmp_path / "bad.tfrecord"))
    _tfrecord(tmp_path / "latin.tfrecord", [{"text": b"\xff"}])
    with pytest.raises(CorpusError, match=r"latin.tfrecord: record 1: text field 'text' is not valid UTF-8"):
        _read_all(str(tmp_path / "latin.tfrecord"))
    _tfrecord(tmp_path / "ints.tfrecord", [{"text": [7]}])
    with pytest.raises(CorpusError, match=r"ints.tfrecord: record 1: text field 'text' is a int"):
        _read_all(str(tmp_path / "ints.tfrecord"))


def test_file_errors_name_the_file_and_line(tmp_path):
    (tmp_path / "latin1.txt").write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(CorpusError, match=r"latin1.txt:2: not valid UTF-8"):
        _read_all(str(tmp_path / "latin1.txt"))
    (tmp_path / "broken.txt.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CorpusError, match=r"broken.txt.gz: cannot decompress"):
        _read_all(str(tmp_path / "broken.txt.gz"))
    (tmp_path / "junk.tfrecord").write_bytes(b"not a tfrecord file")
    with pytest.raises(CorpusError, match=r"junk.tfrecord: cannot read TFRecords"):
        _read_all(str(tmp_path / "junk.tfrecord"))
    assert issubclass(CorpusError, UserError)


def test_blank_line_blocks_say_where_they_start(files):
    path = str(files / "a.txt")
    records = list(read_records(parse_source({"type": "text", "path": path, "split_by": "blank_line"}), path))
    assert records == [(f"{path}:1", {"text": "para one\nstill one"}), (f"{path}:6", {"text": "para two"})]
