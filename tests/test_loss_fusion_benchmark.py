"""benchmarks/loss_fusion.py does not rot: its flags, builders and JSON record at a tiny size, without XLA (where
both settings materialise the logits; the fused step against the materialised one under XLA is
tests/support/fused_loss.py's check, run by the BERT and GPT-2 model tests). No timing is asserted."""

import json

import pytest

from tests.support import load_benchmark


def test_quick_run_json_and_equal_losses(capsys):
    bench = load_benchmark("loss_fusion")
    assert bench.main(["--quick", "--json", "--rows", "0,3", "--jit", "off"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["model"] for r in records] == ["bert", "gpt2"]
    for record in records:
        assert set(record["step_s"]) == {"0", "3"} and min(record["step_s"].values()) > 0
        assert record["speedup"]["0"] == 1.0
        assert record["last_loss"]["3"] == pytest.approx(record["last_loss"]["0"], rel=1e-5)


def test_bad_flags_are_usage_errors():
    bench = load_benchmark("loss_fusion")
    for flags in (["--rows", "0,x"], ["--rows", "-1"], ["--models", "t5"]):
        with pytest.raises(SystemExit):
            bench.main(flags)
