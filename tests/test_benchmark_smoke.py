"""benchmarks/train_step.py does not rot: its builders, one train step per variant and its JSON record, at a tiny size.

Never asserts on timings (a benchmark is a script, not a timed test)."""

import json

import pytest

from tests.support import load_benchmark

TINY = dict(batch_size=2, sequence_length=8, hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32,
            bert_vocabulary_size=97, gpt2_vocabulary_size=97, masked_positions=2, bert_max_sequence_length=16,
            gpt2_max_sequence_length=16)
JSON_KEYS = {"model", "tokens_per_s", "peer", "peer_tokens_per_s", "ratio", "useful_flops_fraction"}


def _bench():
    return load_benchmark("train_step")


def test_useful_flops_match_the_closed_form():
    bench = _bench()
    cfg = bench.BenchConfig()
    b, s, h, i, n, p = cfg.batch_size, cfg.sequence_length, cfg.hidden_dim, cfg.intermediate_dim, cfg.num_layers, 20
    t = b * s
    body = 6 * t * n * (4 * h * h + 2 * h * i) + 12 * n * t * s * h  # weight matmuls + attention, fwd + bwd
    bert = body + 6 * b * (h * h + 2 * h) + 6 * b * p * (h * h + h * cfg.bert_vocabulary_size)
    gpt2 = body + 6 * t * h * cfg.gpt2_vocabulary_size
    assert bench.useful_flops_per_step("bert", cfg) == bert
    assert bench.useful_flops_per_step("gpt2", cfg) == gpt2


def test_cli_flags():
    bench = _bench()
    args = bench.parse_args(["--quick", "--json", "--models", "gpt2", "--jit", "on"])
    assert (args.steps, args.warmup, args.families, args.jit_settings) == (1, 1, ("gpt2",), (True,))
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "t5"])


@pytest.mark.slow
@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_one_step_of_every_variant_and_the_json_record(family):
    bench = _bench()
    cfg = bench.BenchConfig(**TINY)
    ours, peer = bench.make_batches(family, cfg)
    if family == "bert":  # transformers' labels carry the masked ids at the masked positions, -100 elsewhere
        assert (peer["labels"] != -100).sum() == cfg.batch_size * cfg.masked_positions
    # jit_compile=False only: XLA compiles would take most of the time budget, and tests/models/test_task.py
    # already guards our train steps under XLA.
    variants = bench.benchmark_family(family, cfg, steps=1, warmup=1, rounds=1, jit_settings=(False,))
    assert [v.error for v in variants] == [None, None]
    assert [(v.kind, v.jit_compile) for v in variants] == [("ours", False), ("peer", False)]
    matmul = bench.MatmulRate().measure(repeats=1, shapes=((64, 64, 64),))
    result = bench.summarize(family, cfg, variants, matmul)
    record = json.loads(bench.json_line(result))
    assert JSON_KEYS <= set(record)
    assert record["model"] == family
    for key in ("tokens_per_s", "peer_tokens_per_s", "ratio", "useful_flops_fraction"):
        assert record[key] > 0
    bench.print_table([result], matmul, steps=1, warmup=1)
