"""`tfpretrain finetune` preempted: SIGTERM mid-run exits cleanly with a checkpoint at the step reached and nothing
exported; `--resume` continues from that step (skipping the batches already consumed) and logs exactly the losses
of a run never interrupted (deterministic mode)."""

import json
import signal

import numpy as np
import pytest

from tests.support import preemption
from tests.support.finetuning import tiny_experiment, tiny_inputs

STEPS = dict(train_steps=40, log_every=1, checkpoint_every=6, deterministic=True)  # steps take ~10 ms: 40 leave time


def _finetune_cli(inputs, run_dir, log, resume=False):
    config = run_dir.with_suffix(".json")
    config.write_text(json.dumps(tiny_experiment(inputs, **STEPS)))
    return preemption.start_cli(["finetune", "--config", config, "--out", run_dir, "--verbose", "0",
                                 *(["--resume"] if resume else [])], log)


@pytest.mark.slow
def test_sigterm_then_resume_replays_the_uninterrupted_fine_tune(tmp_path):
    inputs = tiny_inputs(tmp_path / "inputs")  # 64 examples: 40 steps of 4 go round the data 2.5 times
    reference, log = tmp_path / "reference", tmp_path / "reference.log"
    preemption.finish(_finetune_cli(inputs, reference, log), log)

    run, log = tmp_path / "run", tmp_path / "run.log"
    proc = _finetune_cli(inputs, run, log)
    try:
        preemption.interrupt_at(proc, run, 8, signal.SIGTERM, log)
        out = preemption.finish(proc, log, timeout=300)  # exit status 0
    finally:
        proc.kill()
    reached = max(preemption.logged_steps(run))
    assert 8 <= reached < 40, reached  # really interrupted
    saved = preemption.checkpoint_steps(run / "checkpoints")
    assert saved[-1] == reached and all(step % 6 == 0 for step in saved[:-1]), saved  # the step reached, saved
    assert not any((run / name).exists() for name in ("export", "final", "eval.tfrecord"))
    assert "--resume" in out

    out = preemption.finish(_finetune_cli(inputs, run, log, resume=True), log)
    assert "fine-tuned:" in out and (run / "export" / "saved_model.pb").exists()
    assert preemption.checkpoint_steps(run / "checkpoints")[-1] == 40
    expected, resumed = preemption.logged_steps(reference), preemption.logged_steps(run)
    assert sorted(resumed) == sorted(expected) == list(range(1, 41))
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose([resumed[s][key] for s in expected], [expected[s][key] for s in expected],
                                   atol=1e-6, err_msg=key)
