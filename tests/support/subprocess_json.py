"""Run a test module's `__main__` in a fresh Python (e.g. with 2 logical CPUs for MirroredStrategy) while the
in-process tests run, and read the JSON it prints last."""

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT


def start(module, *args):
    """`python -m module args...` from the repository root, CPU only, legacy Keras; stdout/stderr captured."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", "TF_USE_LEGACY_KERAS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process):
    if process.poll() is None:
        process.kill()
        process.communicate()


def result(process, timeout_s, what):
    """The last stdout line as JSON; the test fails with stderr's tail on a timeout or a non-zero exit."""
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"the {what} subprocess ran over {timeout_s} s: {stderr[-4000:]}")
    assert process.returncode == 0, stderr[-4000:]
    return json.loads(stdout.strip().splitlines()[-1])
