"""DP-SGD step cost: ghost clipping vs per-example clipping vs non-private training, for a BERT classifier.

Usage (from the repository root):

    TF_USE_LEGACY_KERAS=1 .venv/bin/python benchmarks/dp_step.py [--quick] [--json] [--models bert_tiny,minilm]
                                                                 [--batches 32,128] [--steps 3] [--jit on|off]

For each model and micro-batch B it times three variants of the same BertClassifier (2 classes, sequence 128,
dropout 0.1, SGD, `compile(jit_compile=...)`, `train_on_batch` on one fixed random batch):

  nonprivate    Task.train_step's exact gradients
  ghost         enable_dp(..., clipping="ghost")        (training/privacy/ghost_clipping.py)
  per_example   enable_dp(..., clipping="per_example")  (vectorised per-example gradients, B x P floats)

Models: bert_tiny = configs/models/bert_tiny.yaml (2 layers, hidden 64, vocab 1000); minilm = 6 layers, hidden 384,
12 heads, FFN 1536, vocab 30522 (MiniLM-L6's shape). Each variant runs in its own subprocess, one after another, so
that its memory is its own: step time = median wall time of `--steps` steps after `--warmup` untimed ones (trace and
compile); peak memory = on a GPU, TensorFlow's peak allocated GPU memory (tf.config.experimental.get_memory_info)
during the timed steps; on CPU, the process's peak resident set size during the timed steps (VmHWM after resetting it
through /proc/self/clear_refs; it includes the TF runtime, the model and its optimizer state, about
`baseline_rss_mb` after building the model; `step_transient_mb` is the peak over the RSS the steps started from).
Ratios are ghost / nonprivate and per_example / nonprivate from the same run. A variant that fails (e.g. out of
memory) is reported with its error. Targets at micro-batch 128: ghost step time <= 2x and peak memory <= 1.5x
non-private.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("nonprivate", "ghost", "per_example")
MODELS = {
    "bert_tiny": dict(vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=128,
                      max_sequence_length=128),
    "minilm": dict(vocabulary_size=30522, num_layers=6, num_heads=12, hidden_dim=384, intermediate_dim=1536,
                   max_sequence_length=512),
}
TARGETS = {"step_time_ratio": 2.0, "peak_memory_ratio": 1.5}  # ghost / nonprivate at micro-batch 128
SEQUENCE_LENGTH = 128


# -- one variant, in a subprocess ------------------------------------------------------------------------------
def measure(spec):
    """spec: {model, batch, variant, steps, warmup, jit, sequence_length, overrides} -> one result dict."""
    import resource

    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from tfpretrain.data import features as F
    from tfpretrain.models.bert.bert_backbone import BertBackbone
    from tfpretrain.models.bert.bert_classifier import BertClassifier
    from tfpretrain.training.privacy.dp_sgd import enable_dp

    keras.utils.set_random_seed(0)
    gpus = tf.config.list_physical_devices("GPU")
    kwargs = {**MODELS[spec["model"]], **spec.get("overrides", {})}
    model = BertClassifier(BertBackbone(**kwargs, dropout=0.1), num_classes=2)
    if spec["variant"] != "nonprivate":
        enable_dp(model, l2_norm_clip=1.0, noise_multiplier=1.0, clipping=spec["variant"])
    model.compile(optimizer=keras.optimizers.SGD(1e-3), jit_compile=spec["jit"])
    rng = np.random.default_rng(0)
    b, s = spec["batch"], spec["sequence_length"]
    batch = {F.TOKEN_IDS: rng.integers(5, kwargs["vocabulary_size"], (b, s)).astype(np.int32),
             F.SEGMENT_IDS: np.zeros((b, s), np.int32), F.PADDING_MASK: np.ones((b, s), np.int32),
             F.LABELS: rng.integers(0, 2, b).astype(np.int32)}
    batch = {k: tf.constant(v) for k, v in batch.items()}
    baseline_rss = _rss_mb()
    for _ in range(spec["warmup"]):
        model.train_on_batch(batch)
    if gpus:
        tf.config.experimental.reset_memory_stats("GPU:0")
    hwm_reset = _reset_peak_rss()
    steady_rss = _rss_mb()
    times = []
    for _ in range(spec["steps"]):
        start = time.perf_counter()
        model.train_on_batch(batch)
        times.append(time.perf_counter() - start)
    peak_gpu = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20 if gpus else None
    peak_rss = _status_mb("VmHWM") if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"step_s": statistics.median(times), "times_s": times,
            "peak_memory_mb": peak_gpu if gpus else peak_rss,
            "memory_measure": "peak GPU memory allocated by TF during the timed steps" if gpus else (
                "peak RSS of the process during the timed steps" if hwm_reset else
                "peak RSS of the process over its lifetime (incl. tracing and XLA compilation)"),
            "step_transient_mb": None if gpus else peak_rss - steady_rss,
            "baseline_rss_mb": baseline_rss, "parameters": int(sum(np.prod(v.shape) for v in model.trainable_weights)),
            "device": gpus[0].name if gpus else "CPU"}


def _status_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))


def _rss_mb():
    return _status_mb("VmRSS")


def _reset_peak_rss():
    """Reset the kernel's peak-RSS mark (VmHWM) so that it covers only what follows (Linux >= 4.0). -> success."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_variant(spec, timeout_s=3600):
    """measure(spec) in a fresh Python process -> its result dict, or {"error": ...}."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                              timeout=timeout_s, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[-300:]}"}
    return json.loads(lines[-1])


# -- the benchmark ---------------------------------------------------------------------------------------------
def run(models, batches, steps, warmup, jit, sequence_length=SEQUENCE_LENGTH, overrides=None, log=None):
    """-> one result dict per (model, micro-batch): the three variants and the ratios to non-private."""
    results = []
    for model in models:
        for batch in batches:
            variants = {}
            for variant in VARIANTS:
                spec = dict(model=model, batch=batch, variant=variant, steps=steps, warmup=warmup, jit=jit,
                            sequence_length=sequence_length, overrides=(overrides or {}).get(model, {}))
                variants[variant] = run_variant(spec)
                if log:
                    log(f"{model} B={batch} {variant}: {variants[variant]}")
            results.append(summarize(model, batch, variants, jit, sequence_length))
    return results


def summarize(model, batch, variants, jit, sequence_length):
    base = variants["nonprivate"]

    def ratio(variant, key):
        v = variants[variant]
        return v[key] / base[key] if "error" not in v and "error" not in base else None

    record = {"model": model, "micro_batch": batch, "sequence_length": sequence_length, "jit_compile": jit}
    for variant in VARIANTS:
        v = variants[variant]
        record[f"{variant}_step_s"] = v.get("step_s")
        record[f"{variant}_peak_memory_mb"] = v.get("peak_memory_mb")
    for variant in ("ghost", "per_example"):
        record[f"{variant}_step_time_ratio"] = ratio(variant, "step_s")
        record[f"{variant}_peak_memory_ratio"] = ratio(variant, "peak_memory_mb")
    checks = {f"ghost_{key}<={limit}": (None if record[f"ghost_{key}"] is None else record[f"ghost_{key}"] <= limit)
              for key, limit in TARGETS.items()} if batch == 128 else {}
    record["targets"] = checks
    record["variants"] = variants
    return record


def print_table(results, file=None):
    out = lambda line="": print(line, file=file or sys.stdout)
    header = f"{'model':9} {'B':>4} {'variant':12} {'step ms':>9} {'x nonpriv':>9} {'peak MB':>9} {'x nonpriv':>9}"
    out(header)
    out("-" * len(header))
    for r in results:
        for variant in VARIANTS:
            v = r["variants"][variant]
            if "error" in v:
                out(f"{r['model']:9} {r['micro_batch']:>4} {variant:12} FAILED: {v['error']}")
                continue
            step_ratio, memory_ratio = r.get(f"{variant}_step_time_ratio"), r.get(f"{variant}_peak_memory_ratio")
            out(f"{r['model']:9} {r['micro_batch']:>4} {variant:12} {v['step_s'] * 1e3:9.0f} "
                f"{'' if step_ratio is None else f'{step_ratio:.2f}':>9} {v['peak_memory_mb']:9.0f} "
                f"{'' if memory_ratio is None else f'{memory_ratio:.2f}':>9}")
        for name, ok in r["targets"].items():
            out(f"{'':15} target {name}: {'n/a' if ok is None else ('MET' if ok else 'NOT MET')}")
    if results:
        first = next((v for v in results[0]["variants"].values() if "error" not in v), {})
        out(f"memory: {first.get('memory_measure', 'n/a')}; device: {first.get('device', 'n/a')}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="bert_tiny,minilm", help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--batches", default="32,128", help="comma-separated micro-batch sizes (default 32,128)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 3; --quick 1)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first, incl. trace/compile (default 1)")
    parser.add_argument("--jit", choices=("on", "off"), default="on", help="jit_compile (default on)")
    parser.add_argument("--quick", action="store_true", help="smoke run: bert_tiny, micro-batch 8, 1 timed step")
    parser.add_argument("--json", action="store_true", help="print only one JSON line per (model, micro-batch)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.batches = "bert_tiny", "8"
    if args.steps is None:
        args.steps = 1 if args.quick else 3
    args.models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if not args.models or any(m not in MODELS for m in args.models):
        parser.error(f"--models takes a comma-separated subset of {','.join(MODELS)}")
    try:
        args.batches = tuple(int(b) for b in args.batches.split(","))
    except ValueError:
        parser.error(f"--batches takes comma-separated integers, got {args.batches!r}")
    if args.steps < 1 or args.warmup < 1 or min(args.batches) < 1:
        parser.error("--steps, --warmup and the micro-batches must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(json.loads(args.child))), flush=True)
        return 0
    log = None if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    results = run(args.models, args.batches, args.steps, args.warmup, args.jit == "on", log=log)
    if args.json:
        for r in results:
            print(json.dumps(r), flush=True)
    else:
        print_table(results)
    return 1 if any("error" in r["variants"]["nonprivate"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
