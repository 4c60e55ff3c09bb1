"""The trainer's callbacks on a tiny Keras model: checkpoints every N steps, at the end and on SIGTERM (then the
run stops at that step and the previous SIGTERM handler is back), the exact step limit, and the interval scalars
(MFU = FLOPs per step x steps per second / (peak x replicas), only when a peak is known)."""

import json
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from tests.support.preemption import checkpoint_steps
from tfpretrain.keras import keras
from tfpretrain.training.callbacks import CheckpointCallback, ScalarLogger


def _model():
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.build((None, 2))
    return model


def _manager(model, directory, keep=10):
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    return tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=keep,
                                      step_counter=model.optimizer.iterations)


def _fit(model, callbacks, epochs=3, steps_per_epoch=4):
    x = np.ones((64, 2), np.float32)
    return model.fit(x, x[:, :1], batch_size=4, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0,
                     callbacks=callbacks)


def test_checkpoints_every_n_steps_and_at_the_limit_mid_epoch(tmp_path):
    model = _model()
    history = _fit(model, [CheckpointCallback(_manager(model, tmp_path, keep=2), every=3, train_steps=10)])
    assert int(model.optimizer.iterations.numpy()) == 10 and len(history.history["loss"]) == 3  # stopped mid-epoch
    assert checkpoint_steps(tmp_path) == [9, 10]  # saved at 3, 6, 9, 10; two kept


class _Preempt(keras.callbacks.Callback):
    """Sends this process SIGTERM at the end of step `at`, as a preempting scheduler would."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.at:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.fixture
def sigterm_guard():
    """A harmless SIGTERM handler for the test's duration, so a callback that failed to install its own cannot kill
    pytest; yields the guard, which the callback must have put back when training ended."""
    received = []
    guard = lambda signum, frame: received.append(signum)  # noqa: E731
    previous = signal.signal(signal.SIGTERM, guard)
    try:
        yield guard, received
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_saves_the_step_reached_and_stops(tmp_path, sigterm_guard):
    guard, received = sigterm_guard
    model = _model()
    callback = CheckpointCallback(_manager(model, tmp_path), every=100, train_steps=12)
    _fit(model, [_Preempt(at=5), callback])
    assert callback.preempted and received == []  # the callback's handler took it, not the guard
    assert int(model.optimizer.iterations.numpy()) == 5 and checkpoint_steps(tmp_path) == [5]
    assert signal.getsignal(signal.SIGTERM) is guard


def _scalars(directory):
    return [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]


def test_scalar_logger_logs_mfu_only_with_a_peak(tmp_path):
    model = _model()
    _fit(model, [ScalarLogger(str(tmp_path / "with"), tokens_per_step=32, flops_per_step=1e6, peak_flops=1e9)],
         epochs=2)
    lines = _scalars(tmp_path / "with")
    assert [line["step"] for line in lines] == [4, 8]
    for line in lines:
        replicas = model.distribute_strategy.num_replicas_in_sync
        assert line["mfu"] == pytest.approx(1e6 * line["steps_per_s"] / (1e9 * replicas), rel=1e-12)
        assert line["tokens_per_s"] == pytest.approx(32 * line["steps_per_s"], rel=1e-12)
        assert line["learning_rate"] == pytest.approx(0.1)

    model = _model()
    _fit(model, [ScalarLogger(str(tmp_path / "without"), tokens_per_step=32, flops_per_step=1e6)], epochs=1)
    assert "mfu" not in _scalars(tmp_path / "without")[0]
