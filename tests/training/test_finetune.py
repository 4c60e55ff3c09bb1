"""`finetune` honours every trainer setting it accepts: checkpoints (every N steps, how many kept, at the end),
--resume from them, validation_steps, deterministic, peak_flops_per_device (MFU); and its validation logs carry only
what validation measures. Tiny BERT from random weights, a few steps each."""

import contextlib
import io
import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tests.support.finetuning import metrics, tiny_experiment, tiny_inputs
from tests.support.preemption import checkpoint_steps
from tfpretrain.config import ConfigError
from tfpretrain.training import flops
from tfpretrain.training.finetune import finetune, load_finetune_experiment


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return tiny_inputs(tmp_path_factory.mktemp("finetune_inputs"))


def _finetune(inputs, run_dir, resume=False, verbose=0, **trainer):
    experiment = load_finetune_experiment(data=tiny_experiment(inputs, **trainer))
    return finetune(experiment, str(run_dir), resume=resume, verbose=verbose)


def _safetensors(directory):
    from safetensors.numpy import load_file

    return load_file(str(directory / "model.safetensors"))


def _spy_on_op_determinism(monkeypatch):
    """Records each call instead of switching op determinism on for the whole test process."""
    calls = []
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: calls.append(True))
    return calls


def test_checkpoints_every_n_steps_kept_and_resumed(inputs, tmp_path, monkeypatch):
    determinism = _spy_on_op_determinism(monkeypatch)
    run = tmp_path / "run"
    _finetune(inputs, run, train_steps=5, log_every=5, checkpoint_every=2, keep_checkpoints=2)
    assert checkpoint_steps(run / "checkpoints") == [4, 5]  # saved at 2, 4 and the end (5); two kept
    assert determinism == []  # deterministic is off by default
    with pytest.raises(FileExistsError, match="export"):
        _finetune(inputs, run, train_steps=5, log_every=5, checkpoint_every=2, keep_checkpoints=2)

    # A run directory with checkpoints only (as SIGTERM leaves it): refused without --resume; resumed at step 5 of 5,
    # nothing is left to train and the export holds exactly the checkpoint's weights.
    resumed = tmp_path / "resumed"
    shutil.copytree(run / "checkpoints", resumed / "checkpoints")
    with pytest.raises(FileExistsError, match="--resume"):
        _finetune(inputs, resumed, train_steps=5, log_every=5)
    assert _finetune(inputs, resumed, resume=True, train_steps=5, log_every=5) is None
    assert not (resumed / "metrics.jsonl").exists()  # no step was trained again
    expected, exported = _safetensors(run / "final"), _safetensors(resumed / "final")
    assert sorted(exported) == sorted(expected)
    for name in expected:
        np.testing.assert_array_equal(exported[name], expected[name], err_msg=name)


@pytest.fixture(scope="module")
def validated_run(inputs, tmp_path_factory):
    """DP-SGD (so DP's training-only tracker is there too), validation every 2 steps on 2 batches of 4, a known peak,
    deterministic; -> (run directory, Keras' progress lines, the calls to enable op determinism)."""
    run = tmp_path_factory.mktemp("validated") / "run"
    progress = io.StringIO()
    with contextlib.redirect_stdout(progress), pytest.MonkeyPatch.context() as monkeypatch:
        determinism = _spy_on_op_determinism(monkeypatch)
        _finetune(inputs, run, verbose=2, validation_every=2, validation_steps=2, peak_flops_per_device=1e12,
                  deterministic=True, dp={"enabled": True})
    return run, progress.getvalue(), determinism


def _bce_of_exported_model(run, rows):
    """Mean binary cross-entropy of RUN/export (the SavedModel's logits) on the first `rows` of RUN/eval.tfrecord,
    the eval split in file order, computed in numpy."""
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(run / "eval.tfrecord")).take(rows)]
    labels = np.array([tf.train.Example.FromString(r).features.feature["label"].int64_list.value[0] for r in records])
    serving = tf.saved_model.load(str(run / "export")).signatures["serving_default"]
    logits = serving(examples=tf.constant(records))["logits"].numpy()[:, 0].astype(np.float64)
    return float(np.mean(np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))))


def test_validation_steps_bound_the_validation_batches(validated_run):
    run = validated_run[0]
    logged = metrics(run)[4]["val_loss"]  # validation after the last step: the exported model
    first_two_batches, whole_split = _bce_of_exported_model(run, 8), _bce_of_exported_model(run, 40)
    assert abs(first_two_batches - whole_split) > 1e-3  # the two readings are told apart well above the tolerance
    assert logged == pytest.approx(first_two_batches, abs=1e-5)


def _tensorboard_tags(directory):
    tags = set()
    for path in tf.io.gfile.glob(str(directory / "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags |= {value.tag for value in event.summary.value}
    return tags


def test_validation_logs_carry_only_what_validation_measures(validated_run):
    run, progress = validated_run[:2]
    measured = {"val_loss", "val_accuracy", "val_auc"}
    training_only = {"gradient_norm", "dp_clipped_fraction"}
    for where, names in (("metrics.jsonl", set(metrics(run)[4])),
                         ("TensorBoard", _tensorboard_tags(run / "tensorboard" / "train")),
                         ("progress line", set(progress.replace(":", " ").split()))):
        assert measured | training_only <= names, where
        assert not {n for n in names if n.startswith("val_")} - measured, where


def test_mfu_is_logged_against_the_configured_peak(validated_run):
    from tfpretrain.models.bert.bert_classifier import BertClassifier

    run = validated_run[0]
    model = BertClassifier.from_pretrained(str(run / "final"), num_classes=1)
    per_step = flops.classifier_training_flops_per_step(model.backbone, 1, 4, 16)  # batch 4, sequence 16
    for line in metrics(run).values():
        assert line["mfu"] == pytest.approx(per_step * line["steps_per_s"] / (1e12 * 1), rel=1e-9)  # 1 replica


def test_deterministic_turns_on_op_determinism(validated_run):
    # (off by default: test_checkpoints_every_n_steps_kept_and_resumed; exact replay: test_finetune_preemption.py)
    assert validated_run[2] == [True]


def test_validation_without_eval_data_is_a_config_error(inputs):
    with pytest.raises(ConfigError, match="trainer.validation_every"):
        load_finetune_experiment(data=tiny_experiment(inputs, with_eval=False, validation_every=2))
    config = json.loads(json.dumps(tiny_experiment(inputs, with_eval=False)))
    assert load_finetune_experiment(data=config).eval is None  # no validation asked: fine
