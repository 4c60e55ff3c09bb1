"""Where the time of one BERT (or GPT-2) train step goes: a per-op profile of ours and of Model Garden's.

Usage (from the repository root; Model Garden needs `make bench-peers`):

    .venv/bin/python benchmarks/profile_step.py [--family bert|gpt2] [--peer model-garden] [--jit best|on|off]
                                                [--rounds 3] [--steps 2] [--warmup 2] [--out DIR] [--json]
                                                [--quick]

Each model is built as in benchmarks/train_step.py (same shapes, same batch, Adam, `model.fit`) and warmed up;
then `--rounds` rounds of `--steps` steps run under `tf.profiler`, ours and Model Garden's alternating so that
load from elsewhere falls on both alike. `--jit best` (default) runs each at its faster setting in train_step.py
(ours with XLA, Model Garden without). With XLA the HLO modules are dumped so that each thunk maps back to the
TensorFlow op it came from (benchmarks/op_profile.py). Prints, per category of work (matmul, softmax/cross-entropy,
LayerNorm, GELU, dropout, gather gradients, optimizer update, other), the op time per step (CPU-thread seconds
summed over threads) and its share, the threads' busy fraction, then the largest op kinds of each category.
`--quick`: a tiny model, to check that the script runs (its numbers mean nothing).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = dict(batch_size=2, sequence_length=16, hidden_dim=32, num_layers=1, num_heads=2, intermediate_dim=64,
             bert_vocabulary_size=211, gpt2_vocabulary_size=211, masked_positions=3, bert_max_sequence_length=32,
             gpt2_max_sequence_length=32)
JIT_BEST = {"ours": True, "model_garden": False}  # the faster setting of each in benchmarks/README.md


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=("bert", "gpt2"), default="bert")
    parser.add_argument("--peer", choices=("none", "model-garden"), default="none",
                        help="also profile TF Model Garden's BertPretrainerV2 (bert only; needs make bench-peers)")
    parser.add_argument("--jit", choices=("best", "on", "off"), default="best",
                        help="jit_compile: each model's faster setting (default), or on / off for all")
    parser.add_argument("--rounds", type=int, default=3, help="profiled rounds per model, alternating models")
    parser.add_argument("--steps", type=int, default=2, help="profiled steps per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (trace, compile)")
    parser.add_argument("--out", default=None, help="keep the profiles and HLO dumps here (default: a temp dir)")
    parser.add_argument("--peer-python", default=None, help="python of the peer environment (.venv-peers)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--quick", action="store_true", help="a tiny model: checks that the script runs")
    args = parser.parse_args(argv)
    if args.peer == "model-garden" and args.family != "bert":
        parser.error("--peer model-garden profiles BERT only")
    return args


def dump_flags(directory):
    return f"--xla_dump_to={directory} --xla_dump_hlo_as_text"


class Ours:
    def __init__(self, ts, family, cfg, batch, jit):
        self.variant = ts.Variant(family, "ours", jit)
        self.variant.build(ts.build_ours, cfg, batch)
        self.name = self.variant.name

    def warm_up(self, steps):
        self.variant.warm_up(steps)

    def profile(self, steps, directory):
        import tensorflow as tf

        tf.profiler.experimental.start(str(directory))
        try:
            self.variant.time_steps(steps)
        finally:
            tf.profiler.experimental.stop()
        return self.variant.times[-steps:]

    def close(self):
        pass


class ModelGarden:
    def __init__(self, ts, cfg, batch, jit, out, python):
        from peers import model_garden

        env = {"XLA_FLAGS": dump_flags(out / "model_garden_hlo")} if jit else {}
        self.variant = ts.ModelGardenVariant(jit, python=python or model_garden.PEER_PYTHON, env=env)
        self.variant.build(None, cfg, batch)
        self.name = self.variant.name

    def warm_up(self, steps):
        self.variant.warm_up(steps)

    def profile(self, steps, directory):
        return self.variant.process.ask(steps, profile_dir=str(directory))["wall"]

    def close(self):
        self.variant.close()


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="profile_step_")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    keys = ["ours"] + (["model_garden"] if args.peer == "model-garden" else [])
    jit = {k: JIT_BEST[k] if args.jit == "best" else args.jit == "on" for k in keys}
    if jit["ours"]:  # before TensorFlow starts: XLA reads its flags once
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + dump_flags(out / "ours_hlo")).strip()
    sys.path.insert(0, str(HERE))
    import op_profile
    import train_step as ts

    cfg = ts.BenchConfig(**QUICK) if args.quick else ts.BenchConfig()
    batch, _ = ts.make_batches(args.family, cfg)
    models = {"ours": Ours(ts, args.family, cfg, batch, jit["ours"])}
    try:
        if "model_garden" in keys:
            models["model_garden"] = ModelGarden(ts, cfg, batch, jit["model_garden"], out, args.peer_python)
        for model in models.values():
            model.warm_up(args.warmup)
        walls = {k: [] for k in keys}
        for round_index in range(args.rounds):
            for key, model in models.items():
                walls[key] += model.profile(args.steps, out / f"{key}_profile" / f"round{round_index}")
    finally:
        for model in models.values():
            model.close()
    steps = args.rounds * args.steps
    report = {"family": args.family, "steps": steps, "out": str(out), "models": []}
    for key in keys:
        found = op_profile.breakdown(out / f"{key}_profile", steps, out / f"{key}_hlo" if jit[key] else None)
        step_s = statistics.median(walls[key])
        report["models"].append({
            "model": key, "name": models[key].name, "jit_compile": jit[key], "step_s": step_s,
            "op_s_per_step": found.total, "threads": os.cpu_count(),
            "busy_fraction": found.total / (step_s * os.cpu_count()),
            "categories": {c: {"s": found.seconds[c], "share": share} for c, share in found.shares().items()},
            "top_ops": {c: [[label, s] for label, s in ops] for c, ops in found.top_ops.items() if ops},
        })
    print(json.dumps(report) if args.json else format_report(report))


def format_report(report):
    models = report["models"]
    lines = [f"{report['family']} train step, {report['steps']} profiled steps per model; profiles in {report['out']}"]
    lines += [f"  {m['model']}: {m['name']}, jit_compile={m['jit_compile']}: {m['step_s']:.3f} s/step wall (median), "
              f"{m['op_s_per_step']:.3f} s/step op time, {m['busy_fraction']:.0%} of {m['threads']} threads busy"
              for m in models]
    lines.append(f"{'category':24}" + "".join(f"{m['model'] + ' ms/step':>22}{'share':>8}" for m in models))
    for c in models[0]["categories"]:
        lines.append(f"{c:24}" + "".join(f"{m['categories'][c]['s'] * 1e3:22.1f}{m['categories'][c]['share']:8.1%}"
                                         for m in models))
    for m in models:
        lines.append(f"largest op kinds, {m['model']}:")
        lines += [f"  {c}: " + "; ".join(f"{label} {s * 1e3:.1f} ms" for label, s in ops)
                  for c, ops in m["top_ops"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
