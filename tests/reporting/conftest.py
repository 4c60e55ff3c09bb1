"""Fixtures of the reporting tests: the synthetic metrics table and its gate (tests.support.metric_rows), and one
headless Chromium per session for the browser tests."""

import pytest

from tests.support import browser
from tests.support.metric_rows import LIMITS, make_rows
from tfpretrain.evaluation.fairness.gate import FairnessGate


@pytest.fixture
def rows():
    return make_rows()


@pytest.fixture
def gate():
    return FairnessGate(LIMITS, threshold=0.5, min_slice_size=100)


@pytest.fixture(scope="session")
def chromium():
    with browser.launch() as launched:
        yield launched
