"""Input-pipeline throughput: can `make_dataset` feed the BERT train step with room to spare?

Usage (from the repository root):

    TF_USE_LEGACY_KERAS=1 .venv/bin/python benchmarks/input_pipeline.py [--quick] [--json]

In a temporary directory it writes a prepared corpus for each family (random records, S=128, vocabulary 30522,
--records over --shards shards, plus manifest.json; the BERT corpus also gets a 30522-entry WordPiece
tokenizer.json whose upper third are "##" pieces, so whole-word masking runs as in production), then measures:

  reader_bert / reader_gpt2   examples/s out of make_dataset (global batch 32, shuffle, BERT dynamic whole-word
                              masking with 20 predictions), iterated from Python like Keras does, after a warm-up
  consumer_bert               examples/s the BertPretrainer train step of benchmarks/train_step.py consumes
                              (hidden 256, 4 layers, 4 heads, FFN 1024, B=32, S=128, 20 masked positions; fed one
                              in-memory batch; median step time; at its faster jit_compile setting)
  fit_from_reader_bert        the same model trained from make_dataset (median step time; rounds alternate with
                              the in-memory batch), to show the reader does not slow the step
  ratio                       reader_bert / consumer_bert (target >= 20x)

The reader and the consumer are timed one after the other, each with the whole machine. --json prints one JSON line
per measurement (keys: measurement, examples_per_s, then details). --quick is a smoke run (2048 records, 0.5 s of
reading, one step of a tiny consumer model with a 1024-token vocabulary): its numbers, the ratio included, mean
nothing. Defaults take about 3-5 minutes on 2 CPU cores (most of it the consumer's XLA compile and steps).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import posixpath  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import train_step  # noqa: E402  (benchmarks/train_step.py: the consumer's model and timing)

from tfpretrain.data import features as F  # noqa: E402
from tfpretrain.data import pretrain_input as input_pipeline  # noqa: E402
from tfpretrain.data.formats import get_format  # noqa: E402
from tfpretrain.data.manifest import FORMAT_VERSION, shard_name, write_manifest  # noqa: E402

SEQUENCE_LENGTH = 128
VOCABULARY_SIZE = 30522
BATCH_SIZE = 32
MAX_PREDICTIONS = 20
TARGET_RATIO = 20.0
POOL = 4096  # distinct records generated; shards cycle through them (content does not change read cost)


# -- corpus ------------------------------------------------------------------------------------------------------
def _example(values):
    feature = {k: tf.train.Feature(int64_list=tf.train.Int64List(value=v.tolist())) for k, v in values.items()}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _bert_pool(rng, count, vocabulary_size):
    """Serialized NSP-shaped records: [CLS] A [SEP] B [SEP] + right padding, 64-128 real tokens."""
    out = []
    for _ in range(count):
        length = int(rng.integers(64, SEQUENCE_LENGTH + 1))
        ids = np.zeros(SEQUENCE_LENGTH, np.int64)
        ids[:length] = rng.integers(5, vocabulary_size, length)
        split = int(rng.integers(2, length - 2))
        ids[0], ids[split], ids[length - 1] = 2, 3, 3
        segments = ((np.arange(SEQUENCE_LENGTH) > split) & (np.arange(SEQUENCE_LENGTH) < length)).astype(np.int64)
        mask = (np.arange(SEQUENCE_LENGTH) < length).astype(np.int64)
        out.append(_example({F.TOKEN_IDS: ids, F.SEGMENT_IDS: segments, F.PADDING_MASK: mask,
                             F.NEXT_SENTENCE_LABELS: rng.integers(0, 2, 1)}))
    return out


def _gpt2_pool(rng, count, vocabulary_size):
    return [_example({F.TOKEN_IDS: rng.integers(0, vocabulary_size, SEQUENCE_LENGTH)}) for _ in range(count)]


def _write_tokenizer(directory, vocabulary_size):
    """WordPiece tokenizer.json: the upper third of the vocabulary are "##" continuation pieces."""
    from tokenizers import Tokenizer, models

    from tfpretrain.data.tokenizer import save_tokenizer

    vocab = {name: i for i, name in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])}
    first_continuation = 2 * vocabulary_size // 3
    vocab.update({(f"##p{i}" if i >= first_continuation else f"w{i}"): i for i in range(5, vocabulary_size)})
    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    return save_tokenizer(tokenizer, Path(directory, "tokenizer.json"))


def write_corpus(directory, family, records, shards, vocabulary_size=VOCABULARY_SIZE, seed=0):
    """N random records over `shards` shards + manifest.json (+ tokenizer.json for BERT) in `directory`."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    fmt = get_format(family)
    pool = (_bert_pool if fmt.masked else _gpt2_pool)(rng, min(POOL, records), vocabulary_size)
    sizes = [records // shards + (i < records % shards) for i in range(shards)]
    entries, written = [], 0
    for index, size in enumerate(sizes):
        name = shard_name("train", index, shards)
        with tf.io.TFRecordWriter(posixpath.join(directory, name)) as writer:
            for k in range(size):
                writer.write(pool[(written + k * 7) % len(pool)])
        written += size
        entries.append({"file": name, "records": size})
    sha = _write_tokenizer(directory, vocabulary_size) if fmt.continuation_prefix else ""
    write_manifest(directory, {
        "format_version": FORMAT_VERSION, "family": family, "sequence_length": SEQUENCE_LENGTH,
        "vocabulary_size": vocabulary_size, "special_tokens": fmt.default_special_ids,
        "tokenizer": {"file": "tokenizer.json", "sha256": sha, "kind": fmt.tokenizer_kind},
        "compression": "", "splits": {"train": {"records": records, "shards": entries}},
    })
    return directory


# -- measurements ------------------------------------------------------------------------------------------------
def measure_reader(directory, family, seconds, warmup_s, vocabulary_size=VOCABULARY_SIZE):
    """examples/s of make_dataset(...) iterated eagerly for `seconds` after `warmup_s` of warm-up."""
    start = time.perf_counter()
    dataset = input_pipeline.make_dataset(directory, family, BATCH_SIZE, max_predictions_per_seq=MAX_PREDICTIONS,
                                          sequence_length=SEQUENCE_LENGTH, vocabulary_size=vocabulary_size)
    iterator = iter(dataset)
    next(iterator)
    first_batch_s = time.perf_counter() - start
    deadline = time.perf_counter() + warmup_s
    while time.perf_counter() < deadline:
        next(iterator)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(iterator)
        count += 1
    elapsed = time.perf_counter() - start
    return {
        "measurement": f"reader_{family}",
        "examples_per_s": count * BATCH_SIZE / elapsed,
        "batches": count,
        "seconds": elapsed,
        "first_batch_s": first_batch_s,
        "batch_size": BATCH_SIZE,
        "sequence_length": SEQUENCE_LENGTH,
        "masking": get_format(family).masked,
    }


def measure_consumer(cfg, steps, jit_settings, directory=None, rounds=2):
    """BertPretrainer train-step examples/s at its faster jit setting (train_step.Variant timing: median step).

    With `directory`, the faster variant then alternates, in `rounds` rounds of `steps` steps, between its
    in-memory batch and make_dataset(directory) (fit_from_reader), so machine load falls on both alike."""
    ours, _ = train_step.make_batches("bert", cfg)
    variants = []
    for jit in jit_settings:
        variant = train_step.Variant("bert", "ours", jit)
        variant.guarded(variant.build, train_step.build_ours, cfg, ours)
        variant.guarded(variant.warm_up, 1)
        variant.guarded(variant.time_steps, steps)
        if variant.error:
            raise RuntimeError(f"{variant.label}: {variant.error}")
        variants.append(variant)
    best = min(variants, key=lambda v: v.step_s)
    by_jit = {str(v.jit_compile): v.step_s for v in variants}
    reader_times = []
    if directory is not None:
        in_memory = best.dataset
        reader = input_pipeline.make_dataset(directory, "bert", cfg.batch_size,
                                             max_predictions_per_seq=cfg.masked_positions)
        best.dataset = reader
        best.run(1)  # first step on the reader: iterator start, shuffle buffer filling
        for _ in range(rounds):
            best.dataset = reader
            reader_times.extend(best.run(steps).wall)
            best.dataset = in_memory
            best.time_steps(steps)
    results = [{
        "measurement": "consumer_bert",
        "examples_per_s": cfg.batch_size / best.step_s,
        "step_s": best.step_s,
        "jit_compile": best.jit_compile,
        "step_s_by_jit": by_jit,
        "model": "tfpretrain BertPretrainer",
        "config": {k: getattr(cfg, k) for k in ("batch_size", "sequence_length", "hidden_dim", "num_layers",
                                                 "num_heads", "intermediate_dim", "masked_positions")},
    }]
    if reader_times:
        step_s = statistics.median(reader_times)
        results.append({
            "measurement": "fit_from_reader_bert",
            "examples_per_s": cfg.batch_size / step_s,
            "step_s": step_s,
            "jit_compile": best.jit_compile,
            "slowdown_vs_in_memory": step_s / best.step_s,
        })
    return results


# --quick is a smoke run: a tiny consumer model and vocabulary (its ratio means nothing)
QUICK_MODEL = dict(hidden_dim=64, num_layers=1, num_heads=2, intermediate_dim=128, bert_vocabulary_size=1024)


def run(args, out):
    cfg = train_step.BenchConfig(batch_size=BATCH_SIZE, sequence_length=SEQUENCE_LENGTH,
                                 bert_vocabulary_size=VOCABULARY_SIZE, masked_positions=MAX_PREDICTIONS)
    if args.quick:
        cfg = dataclasses.replace(cfg, **QUICK_MODEL)
    vocabulary_size = cfg.bert_vocabulary_size
    with tempfile.TemporaryDirectory(prefix="tfpretrain-input-bench-") as tmp:
        corpora = {}
        for family in ("bert", "gpt2"):
            start = time.perf_counter()
            corpora[family] = write_corpus(posixpath.join(tmp, family), family, args.records, args.shards,
                                           vocabulary_size)
            out(None, f"wrote {args.records} {family} records in {args.shards} shards "
                      f"({time.perf_counter() - start:.1f} s)")
        readers = {}
        for family in ("bert", "gpt2"):
            readers[family] = measure_reader(corpora[family], family, args.seconds, args.warmup_seconds,
                                             vocabulary_size)
            out(readers[family], f"reader {family}: {readers[family]['examples_per_s']:,.0f} examples/s "
                                 f"({readers[family]['batches']} batches of {BATCH_SIZE} in "
                                 f"{readers[family]['seconds']:.1f} s)")
        consumer = measure_consumer(cfg, args.steps, args.jit_settings, corpora["bert"], rounds=args.rounds)
        for record in consumer:
            out(record, f"{record['measurement']}: {record['examples_per_s']:,.1f} examples/s "
                        f"(step {record['step_s'] * 1e3:.0f} ms, jit_compile={record['jit_compile']})")
        ratio = readers["bert"]["examples_per_s"] / consumer[0]["examples_per_s"]
        summary = {
            "measurement": "ratio",
            "examples_per_s": None,
            "ratio": ratio,
            "reader_examples_per_s": readers["bert"]["examples_per_s"],
            "consumer_examples_per_s": consumer[0]["examples_per_s"],
            "target": TARGET_RATIO,
            "target_met": ratio >= TARGET_RATIO,
            "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
            "cpu_count": os.cpu_count(),
            "vocabulary_size": vocabulary_size,
            "quick": args.quick,  # a quick run times a tiny consumer model: its ratio means nothing
        }
        out(summary, f"reader / consumer = {ratio:.1f}x [target >= {TARGET_RATIO:.0f}x: "
                     f"{'MET' if summary['target_met'] else 'NOT MET'}]")
    return summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small corpus, short timings, a tiny consumer model with jit off")
    parser.add_argument("--json", action="store_true", help="print one JSON line per measurement to stdout")
    parser.add_argument("--records", type=int, default=None, help="records per family (default 65536; quick 2048)")
    parser.add_argument("--shards", type=int, default=None, help="shards per family (default 64; quick 8)")
    parser.add_argument("--seconds", type=float, default=None, help="timed reading per family (default 10; quick 0.5)")
    parser.add_argument("--warmup-seconds", type=float, default=None, help="untimed reading first (default 2)")
    parser.add_argument("--steps", type=int, default=None, help="timed train steps (default 10; quick 1)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds alternating in-memory and reader-fed steps (default 2; quick 1)")
    parser.add_argument("--jit", choices=("both", "on", "off"), default=None,
                        help="consumer jit_compile settings; the faster counts (default both; quick off)")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = dict(records=(2048, 65536), shards=(8, 64), seconds=(0.5, 10.0), warmup_seconds=(0.2, 2.0),
                    steps=(1, 10), rounds=(1, 2), jit=("off", "both"))
    for key, (small, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, small if quick else full)
    if args.records < args.shards or args.shards < 1 or args.steps < 1 or args.rounds < 1 or args.seconds <= 0:
        parser.error("need records >= shards >= 1, steps >= 1, rounds >= 1 and seconds > 0")
    args.jit_settings = {"both": (True, False), "on": (True,), "off": (False,)}[args.jit]
    return args


def main(argv=None):
    args = parse_args(argv)

    def out(record, text):
        if args.json:
            if record is not None:
                print(json.dumps(record), flush=True)
        else:
            print(text, flush=True)

    summary = run(args, out)
    return 0 if summary["ratio"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
