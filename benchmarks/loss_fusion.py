"""The fused, chunked projection + cross-entropy (layers/projection_cross_entropy.py) against materialised logits:
our own BertPretrainer / GPT2CausalLM at train_step.py's size, built with each `loss_chunk_rows` (0 = the whole
[positions, V] logits, as before the fusion), the same weights, timed in one process with the variants' steps
interleaved round by round, so machine load falls on all alike.

    .venv/bin/python benchmarks/loss_fusion.py [--models bert,gpt2] [--rows 0,128,256,512,1024] [--rounds 3]
                                               [--steps 2] [--jit on|off] [--quick] [--json]

Prints per model the median wall and process-CPU seconds per step of each setting, and its speed-up over 0; --json
one object per model. The last step's losses are printed too: every setting trains the same model, so they agree
to float32 rounding.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_step as ts  # noqa: E402

QUICK = ts.BenchConfig(batch_size=2, sequence_length=8, hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32,
                       bert_vocabulary_size=97, gpt2_vocabulary_size=97, masked_positions=2,
                       bert_max_sequence_length=16, gpt2_max_sequence_length=16)


def builder(rows):
    def build(family, cfg):
        model = ts.build_ours(family, cfg)
        return type(model).from_config({**model.get_config(), "loss_chunk_rows": rows})
    return build


def measure(family, cfg, rows, rounds, steps, jit):
    batch = ts.make_batches(family, cfg)[0]
    variants = {}
    for r in rows:
        variant = ts.Variant(family, "ours", jit)
        variant.build(builder(r), cfg, batch)  # seeded: the same initial weights for every setting
        variant.warm_up(1)
        variants[r] = variant
    for _ in range(rounds):
        for variant in variants.values():
            variant.time_steps(steps)
    base = variants[rows[0]]
    return {
        "model": family, "jit_compile": jit, "baseline_rows": rows[0],
        "step_s": {r: v.step_s for r, v in variants.items()},
        "cpu_s": {r: v.cpu_s for r, v in variants.items()},
        "speedup": {r: base.step_s / v.step_s for r, v in variants.items()},
        "speedup_cpu_time": {r: base.cpu_s / v.cpu_s for r, v in variants.items()},
        "last_loss": {r: v.model.history.history["loss"][-1] for r, v in variants.items()},
        "steps_timed": rounds * steps,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="bert,gpt2")
    parser.add_argument("--rows", default="0,128,256,512,1024", help="loss_chunk_rows settings; the first is the base")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per variant per round")
    parser.add_argument("--jit", choices=("on", "off"), default="on")
    parser.add_argument("--quick", action="store_true", help="a tiny model, 1 round of 1 step: checks the script runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    families = [m.strip() for m in args.models.split(",") if m.strip()]
    if not families or any(m not in ts.FAMILIES for m in families):
        parser.error(f"--models takes a subset of {','.join(ts.FAMILIES)}, got {args.models!r}")
    try:
        rows = [int(r) for r in args.rows.split(",")]
    except ValueError:
        parser.error(f"--rows takes comma-separated integers, got {args.rows!r}")
    if not rows or min(rows) < 0:
        parser.error(f"--rows must be >= 0, got {args.rows!r}")
    cfg, rounds, steps = (QUICK, 1, 1) if args.quick else (ts.BenchConfig(), args.rounds, args.steps)
    for family in families:
        result = measure(family, cfg, rows, rounds, steps, args.jit == "on")
        if args.json:
            print(json.dumps(result), flush=True)
            continue
        print(f"{family} (jit_compile={result['jit_compile']}, {result['steps_timed']} timed steps per setting):")
        for r in rows:
            print(f"  loss_chunk_rows={r:5d}  {result['step_s'][r]:.3f} s/step  x{result['speedup'][r]:.3f}"
                  f"  (cpu {result['cpu_s'][r]:.3f} s, x{result['speedup_cpu_time'][r]:.3f})"
                  f"  last loss {result['last_loss'][r]:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
