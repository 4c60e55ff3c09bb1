"""A run's training state on disk, shared by `pretrain` and `finetune`: tf.train.CheckpointManager over the model
(with its dropout RNG and DP noise generator state) and the optimizer in RUN/checkpoints, numbered by the optimizer
step. The step is also the data position: a resumed run skips the batches its checkpoint already consumed.

Saving (every `checkpoint_every` steps, at the end, on SIGTERM) is training/callbacks.py's CheckpointCallback.
"""

import logging

import tensorflow as tf

log = logging.getLogger(__name__)


def refuse_without_resume(checkpoint_dir, resume, run_dir):
    """A run directory that already holds checkpoints is continued with --resume, never silently overwritten."""
    if not resume and tf.train.latest_checkpoint(checkpoint_dir) is not None:
        raise FileExistsError(f"{run_dir} already holds checkpoints: pass --resume to continue, or use a new --out")


def restore_or_start(model, checkpoint_dir, keep_checkpoints, resume):
    """A CheckpointManager for a compiled model (call in its strategy's scope); with `resume`, the latest checkpoint
    is restored into model and optimizer. The step to continue from is then `model.optimizer.iterations`."""
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)  # slots exist before restore: no deferred restoration
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=keep_checkpoints,
                                         step_counter=optimizer.iterations)
    if resume and manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log.info("resumed from %s", manager.latest_checkpoint)
    return manager
