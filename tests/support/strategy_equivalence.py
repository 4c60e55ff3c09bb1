"""Subprocess body of the strategy-equivalence test: the same tiny BertPretrainer, initial weights and global
batches trained for 3 SGD steps under the default strategy, get_strategy("cpu") and get_strategy("mirrored") over
2 logical CPU devices. Logical devices must be configured before TensorFlow initialises its devices, hence a
separate process. The last stdout line is a JSON object.

    python -m tests.support.strategy_equivalence

Also imported by tests/support/multi_worker_train.py for the same data, model and training loop.
"""

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.support import factories  # noqa: E402
from tfpretrain.data import features as F  # noqa: E402
from tfpretrain.keras import keras  # noqa: E402
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer  # noqa: E402
from tfpretrain.training.distribute import describe, get_strategy  # noqa: E402

GLOBAL_BATCH, STEPS, REPLICAS = 8, 3, 2
MODEL = dict(vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
             max_sequence_length=16, dropout=0.0)


def features():
    """STEPS global batches of 16 tokens and 4 masked positions. In each global batch the first half (replica 0's
    share) has 14 live MLM weights and the second half only 4, so a per-replica mean averaged over replicas is
    wrong; only the global denominator reproduces the single-device loss."""
    data = factories.bert_pretraining_features(np.random.default_rng(0), batch=GLOBAL_BATCH * STEPS, vocab=100)
    second_half = (np.arange(GLOBAL_BATCH * STEPS) % GLOBAL_BATCH) >= GLOBAL_BATCH // 2
    data[F.MASKED_LM_WEIGHTS][second_half, 1:] = 0.0
    return data


def dataset():
    # Auto-shard policy DATA: under MultiWorkerMirroredStrategy, worker i keeps the i-th per-replica slice of every
    # global batch, so the workers together train exactly the global batches one process sees. With OFF both workers
    # would read the same slices (rows 0-3 twice at step 1), a different global batch; AUTO would look for files,
    # warn, and fall back to DATA. Single-process strategies ignore this option.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return tf.data.Dataset.from_tensor_slices(features()).batch(GLOBAL_BATCH, drop_remainder=True).with_options(options)


def new_model():
    return BertPretrainer(factories.bert_backbone(**MODEL))


def train(strategy, weights, run_eagerly=False):
    """Per-step losses and final trainable weights of STEPS SGD steps under `strategy` from `weights`."""
    with strategy.scope():
        model = new_model()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.5), run_eagerly=run_eagerly)
    # epochs of one step each: history["loss"] is then the loss of each step; the iterator carries across epochs.
    losses = model.fit(dataset(), epochs=STEPS, steps_per_epoch=1, verbose=0).history["loss"]
    return [float(x) for x in losses], [w.numpy() for w in model.trainable_weights]


def max_abs_diff(weights_a, weights_b):
    return max(float(np.abs(a - b).max()) for a, b in zip(weights_a, weights_b))


def first_batch_losses(weights):
    """(exact global-batch loss, naive mean of per-replica means) of the first global batch, eagerly."""
    model = new_model()
    model.set_weights(weights)
    batch = {k: v[:GLOBAL_BATCH] for k, v in features().items()}

    def loss(rows):
        part = {k: v[rows] for k, v in batch.items()}
        outputs = model({k: part[k] for k in model.input_keys}, training=False)
        numerators, denominators = model.loss_numerators(part, outputs), model.loss_denominators(part)
        return sum(float(numerators[k] / denominators[k]) for k in numerators)

    halves = np.array_split(np.arange(GLOBAL_BATCH), REPLICAS)
    return loss(np.arange(GLOBAL_BATCH)), float(np.mean([loss(rows) for rows in halves]))


def main():
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS)
    try:  # what get_strategy("auto") must catch when a TPU is hinted but absent
        get_strategy("tpu")
        result = {"no_tpu_error": None}
    except Exception as e:
        result = {"no_tpu_error": type(e).__name__}
    keras.utils.set_random_seed(0)
    weights = new_model().get_weights()
    result["exact_first_loss"], result["naive_first_loss"] = first_batch_losses(weights)
    # The reference runs eagerly (2-3 s quicker than tracing on 2 cores); the strategies under test run as in training.
    result["default"], reference = train(tf.distribute.get_strategy(), weights, run_eagerly=True)
    for spec in ("cpu", "mirrored"):
        strategy = get_strategy(spec)
        losses, final = train(strategy, weights)
        result[spec] = {**describe(strategy), "losses": losses, "max_weight_diff": max_abs_diff(final, reference)}
    return result


if __name__ == "__main__":
    print(json.dumps(main()), flush=True)
