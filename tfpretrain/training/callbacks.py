"""Keras callbacks of the trainer: checkpoints (periodic and on SIGTERM), per-interval scalars (TensorBoard and
metrics.jsonl: loss, metrics, learning rate, gradient norm, tokens/s, MFU).

The trainer runs `fit` with one Keras epoch per `log_every` steps, so Keras' own metric averaging gives the mean
over each logging interval and the progress bar prints one line per interval.
"""

import json
import logging
import os
import signal
import time

import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.runs import RunDir

log = logging.getLogger(__name__)


class CheckpointCallback(keras.callbacks.Callback):
    """Save every `every` steps, at the end, and when SIGTERM arrives (preemption): then save and stop. Also stops
    `fit` at exactly `train_steps` when log_every does not divide it (fit runs whole epochs).

    tf.train.CheckpointManager writes the checkpoint files first and only then rewrites the `checkpoint` index
    atomically, so a crash mid-save leaves `latest_checkpoint` on the previous complete checkpoint.
    """

    def __init__(self, manager, every, train_steps):
        super().__init__()
        self.manager, self.every, self.train_steps = manager, every, train_steps
        self.preempted = False
        self._previous_handler = None

    def on_train_begin(self, logs=None):
        self._last = self._step()
        if hasattr(signal, "SIGTERM"):
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):
        log.warning("SIGTERM: saving a checkpoint at the end of this step, then stopping")
        self.preempted = True

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        due = step // self.every > self._last // self.every or step >= self.train_steps
        if due or self.preempted:
            self.save(step)
        if self.preempted or step >= self.train_steps:
            self.model.stop_training = True

    def save(self, step):
        if step != self._last or self.manager.latest_checkpoint is None:
            path = self.manager.save(checkpoint_number=step)
            log.info("step %d: saved %s", step, path)
        self._last = step

    def on_train_end(self, logs=None):
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None


class ScalarLogger(keras.callbacks.Callback):
    """At each interval end: scalars to TensorBoard (RUN/tensorboard/train) and one line to RUN/metrics.jsonl.

    `extra_scalars`: a callable `(step) -> {name: float}`, or a list of them (energy, DP epsilon, ...), whose
    scalars join each interval's.
    """

    def __init__(self, run_dir, tokens_per_step, flops_per_step=None, peak_flops=None, extra_scalars=None):
        super().__init__()
        self.tokens_per_step, self.flops_per_step, self.peak_flops = tokens_per_step, flops_per_step, peak_flops
        self.extra_scalars = [] if extra_scalars is None else (
            list(extra_scalars) if isinstance(extra_scalars, (list, tuple)) else [extra_scalars])
        self.writer = tf.summary.create_file_writer(os.path.join(RunDir(run_dir).tensorboard, "train"))
        self.jsonl_path = RunDir(run_dir).metrics

    def on_epoch_begin(self, epoch, logs=None):
        self._start_step = int(self.model.optimizer.iterations.numpy())
        self._start_time = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        steps = step - self._start_step
        if not steps:
            return
        seconds = time.perf_counter() - self._start_time
        scalars = {k: float(v) for k, v in (logs or {}).items()}
        scalars["learning_rate"] = float(_learning_rate(self.model.optimizer, step))
        scalars["tokens_per_s"] = steps * self.tokens_per_step / seconds
        scalars["steps_per_s"] = steps / seconds
        if self.flops_per_step and self.peak_flops:
            devices = self.model.distribute_strategy.num_replicas_in_sync
            scalars["mfu"] = steps * self.flops_per_step / seconds / (self.peak_flops * devices)
        for extra in self.extra_scalars:
            scalars.update({name: float(value) for name, value in extra(step).items()})
        with self.writer.as_default(step=step):
            for name, value in scalars.items():
                tf.summary.scalar(name, value)
        self.writer.flush()
        with open(self.jsonl_path, "a") as f:
            f.write(json.dumps({"step": step, **scalars}) + "\n")


def _learning_rate(optimizer, step):
    lr = optimizer.learning_rate
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        return lr(step)
    return lr.numpy() if hasattr(lr, "numpy") else lr
