"""Subprocess body for the strategy tests (devices and TF_CONFIG must be set before TensorFlow starts).

  python -m tests.distributed_train mirrored   # 2 logical CPUs: default vs MirroredStrategy, prints JSON
  python -m tests.distributed_train worker     # one MultiWorkerMirroredStrategy worker (TF_CONFIG), prints JSON
The last stdout line is a JSON object.
"""

import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfpretrain.keras import keras  # noqa: E402
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer  # noqa: E402
from tfpretrain.training.distribute import get_strategy  # noqa: E402
from tests import factories  # noqa: E402

GLOBAL_BATCH, STEPS = 8, 3


def dataset():
    # 3 global batches; rows with odd index have one zero MLM weight, so the two halves of each batch have
    # different weight sums and only a global denominator makes per-replica losses add up exactly.
    features = factories.bert_pretraining_features(np.random.default_rng(0), batch=GLOBAL_BATCH * STEPS)
    return tf.data.Dataset.from_tensor_slices(features).batch(GLOBAL_BATCH, drop_remainder=True)


def train(strategy, weights):
    with strategy.scope():
        model = BertPretrainer(factories.bert_backbone())
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(dataset(), epochs=STEPS, steps_per_epoch=1, verbose=0).history
    return history["loss"], [w.numpy() for w in model.trainable_weights]


def mirrored():
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    weights = BertPretrainer(factories.bert_backbone()).get_weights()
    default_losses, default_weights = train(tf.distribute.get_strategy(), weights)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    mirrored_losses, mirrored_weights = train(strategy, weights)
    max_weight_diff = max(float(np.abs(a - b).max()) for a, b in zip(default_weights, mirrored_weights))
    return {"replicas": strategy.num_replicas_in_sync, "default": default_losses, "mirrored": mirrored_losses,
            "max_weight_diff": max_weight_diff}


def worker():
    strategy = get_strategy("multi_worker")
    keras.utils.set_random_seed(0)  # identical initial weights on every worker
    weights = BertPretrainer(factories.bert_backbone()).get_weights()
    losses, _ = train(strategy, weights)
    return {"replicas": strategy.num_replicas_in_sync, "losses": losses}


if __name__ == "__main__":
    print(json.dumps({"mirrored": mirrored, "worker": worker}[sys.argv[1]]()), flush=True)
