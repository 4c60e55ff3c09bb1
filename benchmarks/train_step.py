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
import json  # noqa: E402
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

FAMILIES = ("bert", "gpt2")
# family -> (minimum ratio ours/transformers, minimum useful FLOP/s fraction of the matmul rate or None)
TARGETS = {"bert": (2.5, 0.75), "gpt2": (2.5, None)}
MODEL_GARDEN_TARGET = 1.2  # BERT: minimum ratio ours / Model Garden


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


# -- FLOPs -----------------------------------------------------------------------------------------------------
def useful_flops_per_step(family, cfg):
    """Analytic matmul FLOPs of one training step (forward x 3), counting only the work the task needs."""
    b, s, h, i = cfg.batch_size, cfg.sequence_length, cfg.hidden_dim, cfg.intermediate_dim
    tokens = b * s
    per_layer = (
        2 * tokens * h * 3 * h  # fused QKV projection
        + 2 * tokens * h * h  # attention output projection
        + 2 * 2 * tokens * h * i  # FFN in and out
        + 2 * 2 * tokens * s * h  # scores QK^T and context PV, all heads, full S x S
    )
    forward = cfg.num_layers * per_layer
    v = cfg.vocabulary_size(family)
    if family == "bert":
        predictions = b * cfg.masked_positions
        forward += 2 * b * h * h + 2 * b * h * 2  # pooler, NSP head
        forward += 2 * predictions * h * h + 2 * predictions * h * v  # MLM transform + vocab projection at P only
    else:
        forward += 2 * tokens * h * v  # tied vocabulary projection at every position
    return 3 * forward


# -- timing ----------------------------------------------------------------------------------------------------
MATMUL_SHAPES = ((4096, 256, 1024), (4096, 1024, 256), (2048, 2048, 2048))


@dataclasses.dataclass
class MatmulRate:
    """Best dense float32 matmul rate seen so far: per wall-clock second and per process CPU-second."""

    flops_per_s: float = 0.0
    flops_per_cpu_s: float = 0.0
    label: str = ""

    def measure(self, repeats=8, shapes=MATMUL_SHAPES):
        """Time `tf.matmul` of each shape, with and without XLA (median of `repeats` calls); keep the best."""
        for m, k, n in shapes:
            a, b = tf.random.normal([m, k]), tf.random.normal([k, n])
            for jit in (False, True):
                fn = tf.function(lambda x, y: tf.matmul(x, y)[:1, :1], jit_compile=jit)
                fn(a, b).numpy()  # trace / compile
                wall, cpu = [], []
                for _ in range(repeats):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    fn(a, b).numpy()  # the 1x1 slice only forces completion
                    wall.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
                flops = 2 * m * k * n
                if flops / statistics.median(wall) > self.flops_per_s:
                    self.flops_per_s = flops / statistics.median(wall)
                    self.label = f"{m}x{k} @ {k}x{n}, jit_compile={jit}"
                if statistics.median(cpu) > 0:
                    self.flops_per_cpu_s = max(self.flops_per_cpu_s, flops / statistics.median(cpu))
        return self


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
