"""Helpers shared by the tests (never test modules themselves). ROOT: the repository root."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
