"""The trainer end to end on prepared corpora: falling loss, MFU and a complete run directory, strict experiment
configs, and preemption through the CLI: SIGTERM (a checkpoint at the step reached, no final/) then SIGKILL in one
run, resumed each time with --resume to the uninterrupted run's losses (deterministic mode)."""

import json
import signal
import types
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support import preemption
from tests.support.cli_workers import run_two_workers
from tests.support.corpus import IN_MEMORY, WORDS, corpus_config, write_corpus
from tests.support.experiments import tiny_experiment
from tfpretrain.config import ConfigError
from tfpretrain.training import flops
from tfpretrain.training.experiment import load_experiment


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    from tfpretrain.data.prepare import prepare

    base = tmp_path_factory.mktemp("trainer")
    pattern = write_corpus(base / "corpus", documents=200)
    vocab = base / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS)), "."]) + "\n")
    out = {}
    tokenizers = {"bert": {"path": str(vocab)}, "gpt2": {"vocabulary_size": 300}}
    for task, tokenizer in tokenizers.items():
        extra = {"tokenizer": tokenizer}
        out[task] = base / task
        prepare(corpus_config(task, pattern, out[task], **extra), IN_MEMORY)
    return out


def _metrics(run_dir):
    """step -> the last logged line for that step (a resumed run logs the steps after its checkpoint again)."""
    lines = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return {line["step"]: line for line in lines}


@pytest.mark.parametrize("task", ["bert", "gpt2"])
def test_pretrain_loss_falls_and_run_dir_is_complete(task, corpora, tmp_path):
    from tfpretrain.training.trainer import pretrain

    experiment = load_experiment(data=tiny_experiment(task, corpora[task], validation_every=10, validation_steps=2,
                                                      peak_flops_per_device=1e12))
    pretrain(experiment, str(tmp_path), verbose=0)
    metrics = _metrics(tmp_path)
    assert sorted(metrics) == [10, 20, 30]
    assert metrics[30]["loss"] < metrics[10]["loss"]
    assert {"learning_rate", "gradient_norm", "tokens_per_s", "val_loss"} <= set(metrics[30])
    assert "val_gradient_norm" not in metrics[30]  # validation logs only what it measures
    # MFU = training FLOPs per step (checked against the model graph in test_flops.py) x steps/s / (peak x 1 replica)
    resolved = yaml.safe_load((tmp_path / "experiment.yaml").read_text())
    sequence_length = json.loads((corpora[task] / "manifest.json").read_text())["sequence_length"]
    per_step = flops.training_flops_per_step(types.SimpleNamespace(**resolved["model"]), 8, sequence_length,
                                             5 if task == "bert" else None)  # batch 8, 5 masked positions
    for line in metrics.values():
        assert line["mfu"] == pytest.approx(per_step * line["steps_per_s"] / 1e12, rel=1e-9)
    assert (tmp_path / "final" / "config.json").exists() and (tmp_path / "tokenizer.json").exists()
    assert (tmp_path / "experiment.yaml").exists() and list((tmp_path / "tensorboard" / "train").iterdir())
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("ckpt-*.index")) == [
        "ckpt-10.index", "ckpt-20.index", "ckpt-30.index"
    ]
    with pytest.raises(FileExistsError, match="--resume"):
        pretrain(experiment, str(tmp_path), verbose=0)


def test_experiment_errors_name_the_key(corpora, tmp_path):
    good = tiny_experiment("bert", corpora["bert"])
    with pytest.raises(ConfigError, match="trainer.train_step"):
        load_experiment(data={**good, "trainer": {**good["trainer"], "train_step": 3}})
    with pytest.raises(ConfigError, match="steps_per_execution"):
        load_experiment(data=good, overrides=["trainer.steps_per_execution=3"])
    with pytest.raises(ConfigError, match="model.num_heads"):
        load_experiment(data={**good, "model": {**good["model"], "num_heads": 3}})
    experiment = load_experiment(data=good, overrides=["trainer.train_steps=7", "model.num_layers=1"])
    assert experiment.trainer.train_steps == 7 and experiment.model["num_layers"] == 1


def test_model_and_data_mismatch_is_one_clear_error(corpora, tmp_path):
    from tfpretrain.data.manifest import ManifestError
    from tfpretrain.training.trainer import pretrain

    experiment = load_experiment(data={**tiny_experiment("gpt2", corpora["bert"])})
    with pytest.raises(ManifestError, match="the corpus is prepared for 'bert' but the model is 'gpt2'"):
        pretrain(experiment, str(tmp_path / "run"), verbose=0)


PREEMPTED = dict(train_steps=20, log_every=1, checkpoint_every=6, deterministic=True)


def _pretrain_cli(data_dir, run_dir, log, resume=False):
    """`tfpretrain pretrain` in a subprocess on a 20-step deterministic experiment, checkpoints every 6 steps."""
    config = Path(run_dir).with_suffix(".json")
    config.write_text(json.dumps(tiny_experiment("bert", data_dir, **PREEMPTED)))
    return preemption.start_cli(["pretrain", "--config", config, "--out", run_dir, "--verbose", "0",
                                 *(["--resume"] if resume else [])], log)


def _assert_replayed(run_dir, uninterrupted, steps):
    resumed = _metrics(run_dir)
    np.testing.assert_allclose([resumed[s]["loss"] for s in steps], [uninterrupted[s]["loss"] for s in steps],
                               atol=1e-5)
    accuracy = [(resumed[s]["mlm_accuracy"], uninterrupted[s]["mlm_accuracy"]) for s in steps]
    np.testing.assert_allclose(*zip(*accuracy))


@pytest.mark.slow
def test_sigterm_then_sigkill_then_resume_replays_the_uninterrupted_losses(corpora, tmp_path):
    """One run preempted twice, as a spot VM may be: SIGTERM after step 5 (a clean exit, a checkpoint at the step
    reached, no final/), --resume, then kill -9 after the step-12 checkpoint, --resume again. Every step then carries
    the loss of the same experiment run without interruption."""
    reference, log = tmp_path / "uninterrupted", tmp_path / "uninterrupted.log"
    preemption.finish(_pretrain_cli(corpora["bert"], reference, log), log)
    uninterrupted = _metrics(reference)
    assert sorted(uninterrupted) == list(range(1, 21))

    run, log = tmp_path / "run", tmp_path / "run.log"
    proc = _pretrain_cli(corpora["bert"], run, log)
    try:
        preemption.interrupt_at(proc, run, 5, signal.SIGTERM, log)
        preemption.finish(proc, log, timeout=300)  # exit status 0
    finally:
        proc.kill()
    reached = max(_metrics(run))
    assert 5 <= reached < 20, reached  # really interrupted
    saved = preemption.checkpoint_steps(run / "checkpoints")
    assert saved[-1] == reached and set(saved[:-1]) <= {6, 12, 18}, saved  # the step reached, saved
    assert not (run / "final").exists()
    assert "stopped by SIGTERM at step" in log.read_text()

    proc = _pretrain_cli(corpora["bert"], run, log, resume=True)
    try:  # killed once a checkpoint past the first session's is written: the kill loses the steps after it
        preemption.interrupt_at(proc, run, max(reached, 12) + 1, signal.SIGKILL, log)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert max(_metrics(run)) < 20 and not (run / "final").exists()  # really interrupted

    preemption.finish(_pretrain_cli(corpora["bert"], run, log, resume=True), log)
    assert (run / "final" / "config.json").exists()
    assert preemption.checkpoint_steps(run / "checkpoints")[-1] == 20
    _assert_replayed(run, uninterrupted, range(1, 21))  # all three sessions' steps


def test_generate_and_export_cli_on_a_gpt2_run(corpora, tmp_path, capsys):
    from tfpretrain import cli
    from tfpretrain.training.trainer import pretrain

    run = tmp_path / "gpt2"
    pretrain(load_experiment(data=tiny_experiment("gpt2", corpora["gpt2"], train_steps=5, log_every=5)), str(run),
             verbose=0)
    cli.main(["generate", "--run", str(run), "--prompt", "the model reads", "--prompt", "rivers",
              "--max-length", "16", "--sampler", "greedy"])
    out = capsys.readouterr().out
    assert "--- 'the model reads'" in out and "--- 'rivers'" in out
    cli.main(["export", "--run", str(run), "--out", str(tmp_path / "export")])
    assert (tmp_path / "export" / "hf" / "config.json").exists()
    assert (tmp_path / "export" / "hf" / "tokenizer.json").exists()


@pytest.mark.slow
def test_two_workers_through_the_cli_train_the_same_global_model(corpora, tmp_path):
    """`tfpretrain pretrain trainer.strategy=multi_worker` in two processes on 127.0.0.1 (TF_CONFIG): one global
    loss per step, logged by both; the chief owns RUN/, the other worker writes RUN/.worker-1/. Always reaped."""
    config = tmp_path / "experiment.yaml"
    experiment = tiny_experiment("bert", corpora["bert"], train_steps=4, log_every=1, checkpoint_every=2)
    config.write_text(json.dumps(experiment))
    run = tmp_path / "run"
    run_two_workers(["pretrain", "--config", config, "--out", run, "--verbose", "0"], tmp_path)
    chief, other = _metrics(run), _metrics(run / ".worker-1")
    assert sorted(chief) == [1, 2, 3, 4]
    assert [chief[s]["loss"] for s in chief] == [other[s]["loss"] for s in chief]
    assert (run / "final" / "config.json").exists() and (run / "checkpoints" / "ckpt-4.index").exists()
