"""One MultiWorkerMirroredStrategy worker (cluster and task from $TF_CONFIG) for tests/training/test_distribute.py.

Trains the tiny BertPretrainer of tests/support/strategy_equivalence.py for 3 steps on its global batches with the other
workers. Worker 0 first trains the same steps alone under the default strategy, as the reference. The last stdout
line is JSON: {"task", "kind", "num_replicas_in_sync", "devices", "losses"} (+ "reference", "max_weight_diff").

Run once per worker (`python -m tests.support.multi_worker_train`), each with its own TF_CONFIG, e.g. for worker 0:
    {"cluster": {"worker": ["127.0.0.1:PORT0", "127.0.0.1:PORT1"]}, "task": {"type": "worker", "index": 0}}
"""

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import tensorflow as tf  # noqa: E402

from tests.support.strategy_equivalence import max_abs_diff, new_model, train  # noqa: E402
from tfpretrain.keras import keras  # noqa: E402
from tfpretrain.training.distribute import describe, get_strategy  # noqa: E402


def main():
    strategy = get_strategy("multi_worker")  # first: collectives must be configured before TF starts its devices
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    keras.utils.set_random_seed(0)  # the same initial weights on every worker
    weights = new_model().get_weights()
    result = {"task": task, **describe(strategy)}
    if task == 0:  # one reference is enough, and 2 CPU cores are shared by all workers
        result["reference"], reference_weights = train(tf.distribute.get_strategy(), weights, run_eagerly=True)
    result["losses"], final = train(strategy, weights)
    if task == 0:
        result["max_weight_diff"] = max_abs_diff(final, reference_weights)
    return result


if __name__ == "__main__":
    print(json.dumps(main()), flush=True)
