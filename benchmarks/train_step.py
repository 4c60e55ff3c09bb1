"""Train-step throughput of tfpretrain's BertPretrainer / GPT2CausalLM next to transformers' TF models.

Usage (from the repository root):

    TF_USE_LEGACY_KERAS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train_step.py [--quick] [--json]

For each family it trains, in one process, on one fixed in-memory batch (B=32, S=128, hidden 256, 4 layers,
4 heads, FFN 1024, dropout 0.1 everywhere):

  tfpretrain     BertPretrainer (20 masked positions / sequence) | GPT2CausalLM   jit_compile True and False
  transformers   TFBertForPreTraining                            | TFGPT2LMHeadModel  jit_compile True and False

All four variants are compiled with `compile(optimizer=Adam(1e-4), jit_compile=...)` and timed the same way:
`model.fit` over `Dataset.from_tensors(batch).repeat()`, one wall-clock time per step from a callback, after
`--warmup` untimed steps (the first traces and compiles). The timed steps are split into rounds that interleave
the variants, so load from other processes on a shared machine falls on all of them alike; each variant's step
time is the median of its steps. Ours is reported at its faster jit setting and compared with the FASTER
transformers setting.

Useful FLOPs per step are counted analytically: every forward matmul (QKV, attention output, FFN, attention scores
and context at full S x S, pooler/NSP, MLM transform) x 3 for forward + backward, with the BERT vocabulary
projection counted only at the masked positions (the work pretraining needs) and GPT-2's at every position.
useful_flops_fraction = (useful FLOPs / step time) / the best dense float32 matmul rate measured in this process.

With `--peer model-garden` a third BERT variant runs: TF Model Garden's BertEncoder + BertPretrainerV2 (MLM at the
masked positions + NSP head, Adam), in a subprocess of the peer environment `make bench-peers` builds (TF 2.20: it
cannot share ours), driven round by round like the others (benchmarks/peers/); rows gain
peer_model_garden_tokens_per_s and ratio_model_garden.

The FLOP count and the matmul rate live in train_step_flops.py, the JSON record and the table in train_step_report.py.

Targets: BERT >= 1.2x Model Garden, >= 2.5x transformers and useful FLOP/s >= 75% of the matmul rate; GPT-2 >= 2.5x
transformers.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import gc  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import model_garden  # noqa: E402
from train_step_flops import MatmulRate, useful_flops_per_step  # noqa: E402,F401  (re-exported)
from train_step_report import MODEL_GARDEN_TARGET, TARGETS, json_line, print_table, summarize  # noqa: E402,F401

FAMILIES = ("bert", "gpt2")


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    batch_size: int = 32
    sequence_length: int = 128
    hidden_dim: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_dim: int = 1024
    bert_vocabulary_size: int = 30522
    gpt2_vocabulary_size: int = 50257
    masked_positions: int = 20
    dropout: float = 0.1
    bert_max_sequence_length: int = 512
    gpt2_max_sequence_length: int = 1024

    def vocabulary_size(self, family):
        return self.bert_vocabulary_size if family == "bert" else self.gpt2_vocabulary_size

    @property
    def tokens_per_step(self):
        return self.batch_size * self.sequence_length


# -- inputs ----------------------------------------------------------------------------------------------------
def make_batches(family, cfg, seed=0):
    """-> (ours, peer): the same random batch as tfpretrain features and as transformers keyword inputs."""
    from tfpretrain.data import features as F

    rng = np.random.default_rng(seed)
    b, s, v = cfg.batch_size, cfg.sequence_length, cfg.vocabulary_size(family)
    token_ids = rng.integers(5, v, (b, s)).astype(np.int32)
    mask = np.ones((b, s), np.int32)
    if family == "gpt2":
        ours = {F.TOKEN_IDS: token_ids, F.PADDING_MASK: mask}
        peer = {"input_ids": token_ids, "attention_mask": mask, "labels": token_ids}
        return ours, peer
    p = cfg.masked_positions
    segment_ids = np.broadcast_to((np.arange(s) >= s // 2).astype(np.int32), (b, s)).copy()
    positions = np.sort(np.stack([rng.choice(np.arange(1, s), p, replace=False) for _ in range(b)]), axis=1)
    positions = positions.astype(np.int32)
    masked_ids = np.take_along_axis(token_ids, positions, axis=1)
    nsp = rng.integers(0, 2, b).astype(np.int32)
    ours = {
        F.TOKEN_IDS: token_ids,
        F.SEGMENT_IDS: segment_ids,
        F.PADDING_MASK: mask,
        F.MASKED_LM_POSITIONS: positions,
        F.MASKED_LM_IDS: masked_ids,
        F.MASKED_LM_WEIGHTS: np.ones((b, p), np.float32),
        F.NEXT_SENTENCE_LABELS: nsp,
    }
    mlm_labels = np.full((b, s), -100, np.int32)  # transformers ignores -100: loss at the masked positions only
    np.put_along_axis(mlm_labels, positions, masked_ids, axis=1)
    peer = {
        "input_ids": token_ids,
        "token_type_ids": segment_ids,
        "attention_mask": mask,
        "labels": mlm_labels,
        "next_sentence_label": nsp,
    }
    return ours, peer


# -- models ----------------------------------------------------------------------------------------------------
def model_kwargs(family, cfg):
    """Full backbone kwargs (defaults filled in by the config dataclass), shared by ours and the peer."""
    from tfpretrain.models import families

    max_length = cfg.bert_max_sequence_length if family == "bert" else cfg.gpt2_max_sequence_length
    return families.get(family).config_class(
        vocabulary_size=cfg.vocabulary_size(family),
        num_layers=cfg.num_layers,
        num_heads=cfg.num_heads,
        hidden_dim=cfg.hidden_dim,
        intermediate_dim=cfg.intermediate_dim,
        max_sequence_length=max_length,
        dropout=cfg.dropout,
    ).to_kwargs()


def build_ours(family, cfg):
    kwargs = model_kwargs(family, cfg)
    if family == "bert":
        from tfpretrain.models.bert.bert_backbone import BertBackbone
        from tfpretrain.models.bert.bert_pretrainer import BertPretrainer

        return BertPretrainer(BertBackbone(**kwargs))
    from tfpretrain.models.gpt2.gpt2_backbone import GPT2Backbone
    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    return GPT2CausalLM(GPT2Backbone(**kwargs))


def build_peer(family, cfg):
    """transformers' TF model from the same kwargs (hf_convert's config map): random init, same dropout as ours."""
    import transformers

    from tfpretrain.checkpoints.hf.convert import kwargs_to_config

    config = kwargs_to_config(family, model_kwargs(family, cfg))
    if family == "bert":
        return transformers.TFBertForPreTraining(transformers.BertConfig(**config))
    return transformers.TFGPT2LMHeadModel(transformers.GPT2Config(**config))


PEER_NAMES = {"bert": "transformers TFBertForPreTraining", "gpt2": "transformers TFGPT2LMHeadModel"}
OUR_NAMES = {"bert": "tfpretrain BertPretrainer", "gpt2": "tfpretrain GPT2CausalLM"}


class _StepTimer(keras.callbacks.Callback):
    """Wall and process-CPU time of each train step. Callback hooks receive numpy logs, so at batch end the
    step has finished."""

    def __init__(self):
        super().__init__()
        self.wall, self.cpu, self.losses = [], [], []
        self._start = self._start_cpu = None

    def on_train_batch_begin(self, batch, logs=None):
        self._start, self._start_cpu = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        self.wall.append(time.perf_counter() - self._start)
        self.cpu.append(time.process_time() - self._start_cpu)
        self.losses.append(float((logs or {}).get("loss", float("nan"))))


class Variant:
    """One model compiled with one jit setting, trained on a repeated in-memory batch."""

    def __init__(self, family, kind, jit_compile):
        self.family, self.kind, self.jit_compile = family, kind, jit_compile
        self.name = (OUR_NAMES if kind == "ours" else PEER_NAMES)[family]
        self.model = self.dataset = self.first_step_s = self.error = None
        self.times, self.cpu_times = [], []

    @property
    def label(self):
        return f"[{self.family}] {self.name} jit_compile={self.jit_compile}"

    def build(self, builder, cfg, batch):
        keras.utils.set_random_seed(0)
        self.model = builder(self.family, cfg)
        # transformers models compute their own loss from the label inputs when compiled without a loss.
        self.model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=self.jit_compile)
        self.dataset = tf.data.Dataset.from_tensors(batch).repeat()

    def run(self, steps):
        timer = _StepTimer()
        self.model.fit(self.dataset, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[timer])
        if not all(math.isfinite(loss) for loss in timer.losses):
            raise FloatingPointError(f"non-finite loss {timer.losses}")
        return timer

    def warm_up(self, steps):
        self.first_step_s = self.run(max(1, steps)).wall[0]

    def time_steps(self, steps):
        timer = self.run(steps)
        self.times.extend(timer.wall)
        self.cpu_times.extend(timer.cpu)

    @property
    def step_s(self):
        return statistics.median(self.times) if self.times else None

    @property
    def cpu_s(self):
        return statistics.median(self.cpu_times) if self.cpu_times else None

    def guarded(self, method, *args):
        """Call `method`; a failure is recorded and reported once, and the other variants still run."""
        if self.error is not None:
            return
        try:
            method(*args)
        except Exception as exc:
            message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            self.error = f"{method.__name__}: {type(exc).__name__}: {message}"
            print(f"{self.label} failed in {self.error}", file=sys.stderr)
            if os.environ.get("BENCH_TRACEBACK"):
                traceback.print_exc()


class ModelGardenVariant(Variant):
    """Model Garden's BERT pretrainer in its own process (benchmarks/peers/): the same interface as a Variant."""

    def __init__(self, jit_compile, python=model_garden.PEER_PYTHON, env=None):
        super().__init__("bert", "peer", jit_compile)
        self.kind, self.name, self.python, self.process = "model_garden", model_garden.NAME, python, None
        self.env = env  # extra environment of the peer process (e.g. XLA_FLAGS for an HLO dump)

    def build(self, builder, cfg, batch):
        config = {"vocabulary_size": cfg.bert_vocabulary_size, "hidden_dim": cfg.hidden_dim,
                  "num_layers": cfg.num_layers, "num_heads": cfg.num_heads, "intermediate_dim": cfg.intermediate_dim,
                  "max_sequence_length": cfg.bert_max_sequence_length, "dropout": cfg.dropout,
                  "jit_compile": self.jit_compile}
        self.process = model_garden.ModelGardenProcess(config, batch, self.python, env=self.env)
        self.name = f"{model_garden.NAME} (TF {self.process.info['tensorflow']})"

    def run(self, steps):
        timer = SimpleNamespace(**self.process.ask(steps))
        if not all(math.isfinite(loss) for loss in timer.losses):
            raise FloatingPointError(f"non-finite loss {timer.losses}")
        return timer

    def close(self):
        if self.process is not None:
            self.process.close()


def benchmark_family(family, cfg, steps, warmup, rounds=3, jit_settings=(True, False), peers=True, matmul=None,
                     log=None, model_garden_python=None):
    """Build, warm up and time every variant of one family, interleaved in rounds. -> list of Variant.
    `model_garden_python`: BERT also runs Model Garden's pretrainer with that interpreter (the peer environment).

    With `matmul` (a MatmulRate), the matmul rate is measured again after each round, so the reference rate is
    the best seen under the same load as the steps.
    """
    ours_batch, peer_batch = make_batches(family, cfg)
    kinds = [("ours", build_ours, ours_batch)] + ([("peer", build_peer, peer_batch)] if peers else [])
    if model_garden_python and family == "bert":
        kinds.append(("model_garden", None, ours_batch))
    variants = []
    for kind, builder, batch in kinds:
        for jit in jit_settings:
            variant = (ModelGardenVariant(jit, model_garden_python) if kind == "model_garden"
                       else Variant(family, kind, jit))
            variants.append(variant)
            if log:
                log(f"{variant.label}: build + warm-up ...")
            start = time.perf_counter()
            variant.guarded(variant.build, builder, cfg, batch)
            variant.guarded(variant.warm_up, warmup)
            if log and variant.error is None:
                log(f"{variant.label}: first step {variant.first_step_s:.1f} s, "
                    f"build + warm-up {time.perf_counter() - start:.1f} s")
    rounds = max(1, min(rounds, steps))
    for r in range(rounds):
        n = steps // rounds + (r < steps % rounds)
        for variant in variants:
            if log and variant.error is None:
                log(f"{variant.label}: round {r + 1}/{rounds}, {n} timed step(s)")
            variant.guarded(variant.time_steps, n)
        if matmul is not None:
            matmul.measure(repeats=4)
    for variant in variants:
        if isinstance(variant, ModelGardenVariant):
            variant.close()
    return variants


def run(cfg, families=FAMILIES, steps=3, warmup=1, rounds=3, jit_settings=(True, False), peers=True, log=None,
        model_garden_python=None):
    """The whole benchmark. -> (results, MatmulRate)."""
    matmul = MatmulRate().measure()
    if log:
        log(f"matmul rate {matmul.flops_per_s / 1e9:.1f} GFLOP/s ({matmul.label})")
    collected = []
    for family in families:
        variants = benchmark_family(family, cfg, steps, warmup, rounds, jit_settings, peers, matmul, log,
                                    model_garden_python)
        collected.append((family, variants))
        for v in variants:
            v.model = v.dataset = None  # keep only the timings
        keras.backend.clear_session()
        gc.collect()
    matmul.measure()
    results = [summarize(family, cfg, variants, matmul) for family, variants in collected]
    return results, matmul


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 3; --quick 1)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first, incl. trace/compile (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds the timed steps are split into")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 warm-up and 1 timed step per variant")
    parser.add_argument("--json", action="store_true", help="print only one JSON line per model to stdout")
    parser.add_argument("--models", default="bert,gpt2", help="comma-separated subset of bert,gpt2")
    parser.add_argument("--jit", choices=("both", "on", "off"), default="both",
                        help="jit_compile settings to measure, for ours and the peers alike (default both)")
    parser.add_argument("--no-peers", action="store_true", help="time only tfpretrain (no ratios)")
    parser.add_argument("--peer", choices=("transformers", "model-garden"), default="transformers",
                        help="model-garden: BERT is also timed against TF Model Garden (needs `make bench-peers`)")
    parser.add_argument("--peer-python", default=str(model_garden.PEER_PYTHON),
                        help="the peer environment's interpreter (default .venv-peers/bin/python)")
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = 1 if args.quick else 3
    if args.steps < 1 or args.warmup < 1 or args.rounds < 1:
        parser.error("--steps, --warmup and --rounds must be >= 1")
    families = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if not families or any(m not in FAMILIES for m in families):
        parser.error(f"--models takes a comma-separated subset of {','.join(FAMILIES)}, got {args.models!r}")
    args.families = families
    args.jit_settings = {"both": (True, False), "on": (True,), "off": (False,)}[args.jit]
    args.model_garden_python = args.peer_python if args.peer == "model-garden" else None
    return args


def main(argv=None):
    args = parse_args(argv)
    log = None if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        results, matmul = run(
            BenchConfig(),
            families=args.families,
            steps=args.steps,
            warmup=args.warmup,
            rounds=args.rounds,
            jit_settings=args.jit_settings,
            peers=not args.no_peers,
            log=log,
            model_garden_python=args.model_garden_python,
        )
    except Exception as exc:  # e.g. out of memory while measuring the matmul rate: say so, exit non-zero
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        traceback.print_exc()
        return 2
    if args.json:
        for result in results:
            print(json_line(result), flush=True)
    else:
        print_table(results, matmul, args.steps, args.warmup)
    # Exit status 1 when one of our models could not be timed at all (missed targets are reported, not fatal).
    return 1 if any(r["tokens_per_s"] is None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
