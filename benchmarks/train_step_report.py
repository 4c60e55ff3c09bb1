"""benchmarks/train_step.py's results: one record per family (the --json line), the table and the summary against
the targets."""

import dataclasses
import json
import os
import sys

import tensorflow as tf
from train_step_flops import useful_flops_per_step

# family -> (minimum ratio ours/transformers, minimum useful FLOP/s fraction of the matmul rate or None)
TARGETS = {"bert": (2.5, 0.75), "gpt2": (2.5, None)}
MODEL_GARDEN_TARGET = 1.2  # BERT: minimum ratio ours / Model Garden


def summarize(family, cfg, variants, matmul):
    """-> one result dict (the --json record) for a family."""
    flops = useful_flops_per_step(family, cfg)
    tps = lambda v: cfg.tokens_per_step / v.step_s if v and v.step_s else None
    frac = lambda v: flops / v.step_s / matmul.flops_per_s if v and v.step_s and matmul.flops_per_s else None
    frac_cpu = lambda v: (
        flops / v.cpu_s / matmul.flops_per_cpu_s if v and v.cpu_s and matmul.flops_per_cpu_s else None
    )

    def fastest(kind):
        ok = [v for v in variants if v.kind == kind and v.error is None and v.step_s]
        return min(ok, key=lambda v: v.step_s) if ok else None

    def least_cpu(kind):
        ok = [v for v in variants if v.kind == kind and v.error is None and v.cpu_s]
        return min(ok, key=lambda v: v.cpu_s) if ok else None

    ours, peer, garden = fastest("ours"), fastest("peer"), fastest("model_garden")
    min_ratio, min_fraction = TARGETS[family]
    ratio = tps(ours) / tps(peer) if tps(ours) and tps(peer) else None
    ratio_garden = tps(ours) / tps(garden) if tps(ours) and tps(garden) else None
    cpu_ours, cpu_peer = least_cpu("ours"), least_cpu("peer")
    checks = {f"ratio>={min_ratio}": None if ratio is None else bool(ratio >= min_ratio)}
    if min_fraction is not None:
        fraction = frac(ours)
        checks[f"useful_flops_fraction>={min_fraction}"] = None if fraction is None else bool(fraction >= min_fraction)
    if any(v.kind == "model_garden" for v in variants):
        met = None if ratio_garden is None else bool(ratio_garden >= MODEL_GARDEN_TARGET)
        checks[f"ratio_model_garden>={MODEL_GARDEN_TARGET}"] = met
    return {
        "model": family,
        "tokens_per_s": tps(ours),
        "peer": f"{peer.name} (jit_compile={peer.jit_compile})" if peer else None,
        "peer_tokens_per_s": tps(peer),
        "ratio": ratio,
        "useful_flops_fraction": frac(ours),
        "peer_model_garden": f"{garden.name} (jit_compile={garden.jit_compile})" if garden else None,
        "peer_model_garden_tokens_per_s": tps(garden),
        "ratio_model_garden": ratio_garden,
        "jit_compile": ours.jit_compile if ours else None,
        "peer_jit_compile": peer.jit_compile if peer else None,
        "step_s": ours.step_s if ours else None,
        "peer_step_s": peer.step_s if peer else None,
        # Process CPU-seconds per step: less sensitive to other load on a shared machine than wall time.
        "ratio_cpu_time": cpu_peer.cpu_s / cpu_ours.cpu_s if cpu_ours and cpu_peer else None,
        "useful_flops_fraction_cpu_time": frac_cpu(cpu_ours),
        "useful_flops_per_step": flops,
        "matmul_flops_per_s": matmul.flops_per_s,
        "matmul_flops_per_cpu_s": matmul.flops_per_cpu_s,
        "targets": checks,
        "targets_met": None if None in checks.values() else all(checks.values()),
        "variants": [
            {
                "name": v.name,
                "jit_compile": v.jit_compile,
                "step_s": v.step_s,
                "cpu_s_per_step": v.cpu_s,
                "first_step_s": v.first_step_s,
                "tokens_per_s": tps(v),
                "useful_flops_fraction": frac(v),
                "useful_flops_fraction_cpu_time": frac_cpu(v),
                "steps_timed": len(v.times),
                "error": v.error,
            }
            for v in variants
        ],
        "config": dataclasses.asdict(cfg),
    }


# -- output ----------------------------------------------------------------------------------------------------
def _fmt(value, spec, none="n/a"):
    return none if value is None else format(value, spec)


def _met(ok):
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def print_table(results, matmul, steps, warmup, file=None):
    file = file or sys.stdout
    out = lambda line="": print(line, file=file)
    cfg = results[0]["config"] if results else {}
    out(
        f"\ntfpretrain train-step benchmark: B={cfg.get('batch_size')} S={cfg.get('sequence_length')} "
        f"H={cfg.get('hidden_dim')} L={cfg.get('num_layers')} heads={cfg.get('num_heads')} "
        f"FFN={cfg.get('intermediate_dim')} dropout={cfg.get('dropout')}; {warmup} warm-up + {steps} timed steps per "
        f"variant (median); TF {tf.__version__}, {os.cpu_count()} CPU(s)"
    )
    out(
        f"dense float32 matmul: {matmul.flops_per_s / 1e9:.1f} GFLOP/s wall (best: {matmul.label}), "
        f"{matmul.flops_per_cpu_s / 1e9:.1f} GFLOP per CPU-second\n"
    )
    header = (
        f"{'model':5} {'variant':47} {'jit':5} {'step ms':>8} {'cpu s':>6} {'1st s':>6} {'tokens/s':>8} "
        f"{'GFLOP/s':>8} {'of matmul':>9} {'(cpu)':>6}"
    )
    out(header)
    out("-" * len(header))
    for r in results:
        flops = r["useful_flops_per_step"]
        for v in r["variants"]:
            row = f"{r['model']:5} {v['name']:47} {str(v['jit_compile']):5}"
            if v["error"]:
                out(f"{row} FAILED: {v['error']}")
                continue
            out(
                f"{row} {_fmt(v['step_s'] and v['step_s'] * 1e3, '8.0f'):>8} {_fmt(v['cpu_s_per_step'], '6.2f'):>6} "
                f"{_fmt(v['first_step_s'], '6.1f'):>6} {_fmt(v['tokens_per_s'], '8.0f'):>8} "
                f"{_fmt(v['step_s'] and flops / v['step_s'] / 1e9, '8.1f'):>8} "
                f"{_fmt(v['useful_flops_fraction'], '9.1%'):>9} {_fmt(v['useful_flops_fraction_cpu_time'], '6.0%'):>6}"
            )
        out(f"{'':5} useful FLOPs per step (forward + backward): {flops / 1e9:.1f} GFLOP")
    out("\nsummary: ours at its faster jit setting vs the faster transformers setting (wall clock; cpu-time ratio)")
    for r in results:
        min_ratio, min_fraction = TARGETS[r["model"]]
        line = (
            f"  {r['model']:5} {_fmt(r['tokens_per_s'], '.0f')} tok/s (jit_compile={r['jit_compile']}) vs "
            f"{r['peer'] or 'no peer'} {_fmt(r['peer_tokens_per_s'], '.0f')} tok/s -> {_fmt(r['ratio'], '.2f')}x "
            f"(cpu time {_fmt(r['ratio_cpu_time'], '.2f')}x) [target >= {min_ratio}x: "
            f"{_met(r['targets'][f'ratio>={min_ratio}'])}]; useful FLOP/s {_fmt(r['useful_flops_fraction'], '.1%')} "
            f"of matmul (cpu time {_fmt(r['useful_flops_fraction_cpu_time'], '.0%')})"
        )
        if min_fraction is not None:
            line += f" [target >= {min_fraction:.0%}: {_met(r['targets'][f'useful_flops_fraction>={min_fraction}'])}]"
        out(line)
        key = f"ratio_model_garden>={MODEL_GARDEN_TARGET}"
        if key in r["targets"]:
            out(f"  {'':5} vs {r['peer_model_garden'] or 'Model Garden (failed: see its row)'} "
                f"{_fmt(r['peer_model_garden_tokens_per_s'], '.0f')} tok/s -> {_fmt(r['ratio_model_garden'], '.2f')}x "
                f"[target >= {MODEL_GARDEN_TARGET}x: {_met(r['targets'][key])}]")


def json_line(result):
    keys = ("model", "tokens_per_s", "peer", "peer_tokens_per_s", "ratio", "useful_flops_fraction")
    record = {k: result[k] for k in keys}
    record.update({k: v for k, v in result.items() if k not in keys})
    return json.dumps(record)
