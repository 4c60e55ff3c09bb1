"""`tfpretrain finetune trainer.strategy=multi_worker` in two processes on 127.0.0.1: one global loss per step,
logged by both; the chief owns RUN/ (checkpoints, export/, final/), the other worker writes RUN/.worker-1/."""

import json

import pytest

from tests.support.cli_workers import run_two_workers
from tests.support.finetuning import metrics, tiny_experiment, tiny_inputs
from tests.support.preemption import checkpoint_steps


@pytest.mark.slow
def test_two_workers_through_the_cli_fine_tune_the_same_global_model(tmp_path):
    config, run = tmp_path / "finetune.json", tmp_path / "run"
    config.write_text(json.dumps(tiny_experiment(tiny_inputs(tmp_path / "inputs"), train_steps=4, log_every=1,
                                                 checkpoint_every=2)))
    run_two_workers(["finetune", "--config", config, "--out", run, "--verbose", "0"], tmp_path)
    chief, other = metrics(run), metrics(run / ".worker-1")
    assert sorted(chief) == [1, 2, 3, 4]
    assert [chief[s]["loss"] for s in chief] == [other[s]["loss"] for s in chief]
    assert checkpoint_steps(run / "checkpoints") == [2, 4]
    assert (run / "export" / "saved_model.pb").exists() and (run / "final" / "config.json").exists()
