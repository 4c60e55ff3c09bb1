"""Parts of the train step that benchmarks/profile_step.py singled out, each timed against its alternatives in one
process under XLA, variants interleaved round by round so that machine load falls on all alike.

  head     the LM / MLM head: logits = x E^T + b, sparse softmax cross-entropy and its gradient, plus the top-1
           accuracy as Keras computes it (ArgMax over the vocabulary) or as models/metrics.TopOneAccuracy does
           (the label's logit against the row max); `none` is the head without an accuracy
  dropout  the keep mask of layers/dropout.py: uniform floats from threefry (ours), from philox, 32-bit integers
           against an integer threshold, and 16 bits per element (one 32-bit draw split in two)
  gelu     BERT's exact GELU and its gradient on the FFN activations: ours (tf.nn.gelu, 0.5 x erfc(-x / sqrt 2))
           against 0.5 x (1 + erf(x / sqrt 2)), the same function through XLA's cheaper erf, and the tanh
           approximation (GPT-2's; a different function, listed as the floor)
  optimizer  one AdamW update (weight decay on) of MiniLM-shaped variables (22.7M parameters, BERT's 30,522-token
           embedding included), as a plain graph and under XLA: ours (training/optimization.AdamW: the decay, then
           ResourceApplyAdam per variable) against the same update rule as elementwise TensorFlow ops (what AdamW
           ran before, and what LAMB still runs)

    .venv/bin/python benchmarks/step_parts.py [head|dropout|gelu|optimizer ...] [--rounds 10] [--quick] [--json]

Prints milliseconds per call (median over rounds) and each variant's ratio to the first; --json one object per part.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfpretrain.keras import keras  # noqa: E402
from tfpretrain.models.metrics import TopOneAccuracy  # noqa: E402

# (name, rows of logits, vocabulary): BERT's 32 x 20 masked positions, GPT-2's 32 x 128 positions
HEADS = {"bert_mlm": (640, 30522), "gpt2_lm": (4096, 50257)}
DROPOUT_SHAPES = {"attention [32, 4, 128, 128]": (32, 4, 128, 128), "hidden [32, 128, 256]": (32, 128, 256)}
QUICK_HEADS = {"tiny": (64, 1000)}
QUICK_DROPOUT = {"tiny [4, 64, 32]": (4, 64, 32)}
GELU_SHAPES = {"ffn [32, 128, 1024]": (32, 128, 1024)}
QUICK_GELU = {"tiny [4, 64, 32]": (4, 64, 32)}
# (vocabulary, hidden, layers, FFN): all-MiniLM-L6-v2's shapes
OPTIMIZER_SHAPES = {"minilm (22.7M parameters)": (30522, 384, 6, 1536)}
QUICK_OPTIMIZER = {"tiny": (100, 16, 1, 32)}
HIDDEN, RATE = 256, 0.1
PARTS = ("head", "dropout", "gelu", "optimizer")


def _head_variants(rows, vocabulary):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(rows, HIDDEN)).astype(np.float32))
    table = tf.Variable(rng.normal(size=(vocabulary, HIDDEN)).astype(np.float32) * 0.02)
    bias = tf.Variable(np.zeros(vocabulary, np.float32))
    labels = rng.integers(0, vocabulary, size=(rows,)).astype(np.int32)
    labels[::2] = np.argmax(x.numpy() @ table.numpy().T, axis=1)[::2]  # half right, as from a trained head
    labels = tf.constant(labels)

    def make(metric):
        @tf.function(jit_compile=True)
        def step():
            with tf.GradientTape() as tape:
                logits = tf.matmul(x, table, transpose_b=True) + bias  # [rows, V]
                loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            grads = tape.gradient(loss, [table, bias])
            if metric is not None:
                metric.update_state(labels, logits)
            return loss, grads

        def call():
            return step()

        call.metric = metric  # read by tests/test_step_parts_benchmark.py: the variants must agree
        return call

    return {"argmax_accuracy": make(keras.metrics.SparseCategoricalAccuracy()),
            "top_one_accuracy": make(TopOneAccuracy()), "no_accuracy": make(None)}


def _dropout_variants(shape):
    x = tf.random.stateless_normal(shape, [0, 1])
    scale = 1.0 / (1.0 - RATE)

    def floats(alg):
        def drop(seed):
            uniform = tf.random.stateless_uniform(tf.shape(x), seed, dtype=tf.float32, alg=alg)
            return tf.where(uniform >= RATE, x * scale, tf.zeros_like(x))
        return drop

    def bits32(seed):
        bits = tf.random.stateless_uniform(tf.shape(x), seed, minval=None, maxval=None, dtype=tf.uint32,
                                           alg="threefry")
        return tf.where(bits >= tf.constant(int(RATE * 2**32), tf.uint32), x * scale, tf.zeros_like(x))

    def bits16(seed):  # one 32-bit draw per two elements, bitcast to two 16-bit halves
        bits = tf.random.stateless_uniform([tf.size(x) // 2], seed, minval=None, maxval=None, dtype=tf.uint32,
                                           alg="threefry")
        bits = tf.reshape(tf.bitcast(bits, tf.uint16), tf.shape(x))
        return tf.where(bits >= tf.constant(int(RATE * 2**16), tf.uint16), x * scale, tf.zeros_like(x))

    fns = {"threefry_float": floats("threefry"), "philox_float": floats("philox"), "threefry_uint32": bits32,
           "threefry_16bit": bits16}
    def compiled(fn):
        fn = tf.function(fn, jit_compile=True)
        return lambda: fn(tf.constant([3, 7], tf.int64))

    return {name: compiled(fn) for name, fn in fns.items()}


def _gelu_variants(shape):
    from tfpretrain.layers.activations import gelu

    x = tf.random.stateless_normal(shape, [0, 2])
    upstream = tf.random.stateless_normal(shape, [0, 3])

    def compiled(fn):
        @tf.function(jit_compile=True)
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fn(x)
            return y, tape.gradient(y, x, output_gradients=upstream)
        return step

    return {name: compiled(fn) for name, fn in (
        ("ours", gelu), ("erf_form", lambda v: 0.5 * v * (1.0 + tf.math.erf(v * 0.7071067811865476))),
        ("tanh_approximation", lambda v: tf.nn.gelu(v, approximate=True)))}


def _optimizer_variants(vocabulary, hidden, layers, ffn):
    from tfpretrain.training.optimization import AdamW

    class ElementwiseAdamW(AdamW):
        """The same update as elementwise ops: w <- w - lr (m_hat / (sqrt(v_hat) + eps) + wd w)."""

        def update_step(self, gradient, variable):
            variable.assign_sub(tf.cast(self.learning_rate, variable.dtype) * self._direction(gradient, variable))

    shapes = [("token_embedding/embeddings", (vocabulary, hidden))]
    for i in range(layers):
        shapes += [(f"layer_{i}/{name}", shape) for name, shape in (
            ("qkv/kernel", (hidden, 3 * hidden)), ("qkv/bias", (3 * hidden,)), ("out/kernel", (hidden, hidden)),
            ("out/bias", (hidden,)), ("ffn_in/kernel", (hidden, ffn)), ("ffn_in/bias", (ffn,)),
            ("ffn_out/kernel", (ffn, hidden)), ("ffn_out/bias", (hidden,)), ("norm/gamma", (hidden,)))]
    grads = [tf.random.stateless_normal(shape, [1, i]) * 1e-3 for i, (_, shape) in enumerate(shapes)]

    def make(cls, jit):
        variables = [tf.Variable(tf.random.stateless_normal(shape, [0, i]) * 0.02, name=name)
                     for i, (name, shape) in enumerate(shapes)]
        optimizer = cls(1e-3, weight_decay=0.01, jit_compile=False)
        optimizer.build(variables)

        @tf.function(jit_compile=jit)
        def step():
            optimizer.apply_gradients(zip(grads, variables))
            return optimizer.iterations
        step.variables = variables
        return step

    return {f"{name}_{mode}": make(cls, jit) for mode, jit in (("graph", False), ("xla", True))
            for name, cls in (("ours", AdamW), ("elementwise", ElementwiseAdamW))}


def time_variants(variants, rounds):
    """{name: median ms per call}: one warm-up call each (compile), then `rounds` rounds over all variants."""
    for fn in variants.values():
        tf.nest.map_structure(lambda t: t.numpy(), fn())
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy(), fn())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def run(parts, rounds, quick=False):
    results = []
    if "head" in parts:
        for name, (rows, vocabulary) in (QUICK_HEADS if quick else HEADS).items():
            ms = time_variants(_head_variants(rows, vocabulary), rounds)
            results.append({"part": "head", "case": name, "rows": rows, "vocabulary": vocabulary, "ms": ms,
                            "accuracy_ms": {k: ms[k] - ms["no_accuracy"] for k in ("argmax_accuracy",
                                                                                   "top_one_accuracy")}})
    if "dropout" in parts:
        for name, shape in (QUICK_DROPOUT if quick else DROPOUT_SHAPES).items():
            results.append({"part": "dropout", "case": name, "shape": list(shape),
                            "ms": time_variants(_dropout_variants(shape), rounds)})
    if "gelu" in parts:
        for name, shape in (QUICK_GELU if quick else GELU_SHAPES).items():
            results.append({"part": "gelu", "case": name, "shape": list(shape),
                            "ms": time_variants(_gelu_variants(shape), rounds)})
    if "optimizer" in parts:
        for name, shape in (QUICK_OPTIMIZER if quick else OPTIMIZER_SHAPES).items():
            results.append({"part": "optimizer", "case": name,
                            "ms": time_variants(_optimizer_variants(*shape), rounds)})
    for result in results:
        first = next(iter(result["ms"].values()))
        result["ratio_to_first"] = {k: v / first for k, v in result["ms"].items()}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", help="head, dropout, gelu, optimizer (default: all)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 2 rounds: checks that the script runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}: choose from {', '.join(PARTS)}")
    results = run(args.parts or list(PARTS), 2 if args.quick else args.rounds, args.quick)
    for result in results:
        if args.json:
            print(json.dumps(result))
            continue
        print(f"{result['part']} {result['case']}:")
        for name, ms in result["ms"].items():
            print(f"  {name:18s} {ms:9.2f} ms  x{result['ratio_to_first'][name]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
