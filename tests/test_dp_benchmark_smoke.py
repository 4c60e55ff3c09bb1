"""benchmarks/dp_step.py does not rot: its flags, and each variant's subprocess and the JSON record at a tiny size.

Never asserts on timings (a benchmark is a script, not a timed test)."""

import json

import pytest

from tests.support import load_benchmark

TINY = {"bert_tiny": dict(vocabulary_size=97, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
                          max_sequence_length=16)}


def _bench():
    return load_benchmark("dp_step")


def test_cli_flags():
    bench = _bench()
    args = bench.parse_args(["--quick", "--json"])
    assert (args.models, args.batches, args.steps) == (("bert_tiny",), (8,), 1)
    args = bench.parse_args(["--models", "minilm", "--batches", "32,128", "--jit", "off"])
    assert (args.models, args.batches, args.steps, args.jit) == (("minilm",), (32, 128), 3, "off")
    for bad in (["--models", "t5"], ["--batches", "a"], ["--steps", "0"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


@pytest.mark.slow
def test_every_variant_runs_in_its_subprocess_and_the_json_record():
    bench = _bench()
    [result] = bench.run(("bert_tiny",), (4,), steps=1, warmup=1, jit=False, sequence_length=8, overrides=TINY)
    assert all("error" not in v for v in result["variants"].values()), result["variants"]
    record = json.loads(json.dumps(result))
    for variant in bench.VARIANTS:
        assert record[f"{variant}_step_s"] > 0 and record[f"{variant}_peak_memory_mb"] > 0
    for key in ("ghost_step_time_ratio", "ghost_peak_memory_ratio", "per_example_step_time_ratio"):
        assert record[key] > 0
    assert record["targets"] == {}  # targets are for micro-batch 128
    assert result["variants"]["ghost"]["parameters"] == result["variants"]["nonprivate"]["parameters"]
    bench.print_table([result])
