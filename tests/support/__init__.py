"""Helpers shared by the tests (never test modules themselves). ROOT: the repository root."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark(name):
    """benchmarks/NAME.py as a module (the benchmarks are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
