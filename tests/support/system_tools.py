"""System programs some tests need (chromium, shellcheck). Tests never install them: `.ci/run` does in CI, where a
missing tool fails the test (TFPRETRAIN_CI=1); elsewhere the test skips and says how to install it."""

import os
import shutil

import pytest

INSTALL = {"chromium": "apt-get install -y chromium", "shellcheck": "apt-get install -y shellcheck"}


def require(program):
    """The program's path; skips (locally) or fails (in CI) when it is not installed."""
    path = shutil.which(program)
    if path is None:
        message = f"{program} is not installed: {INSTALL.get(program, 'install ' + program)}"
        if os.environ.get("TFPRETRAIN_CI"):
            pytest.fail(message + " (CI must install it: .ci/run)")
        pytest.skip(message)
    return path
