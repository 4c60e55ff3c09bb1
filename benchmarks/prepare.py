"""`tfpretrain prepare` throughput (tokens/s, documents/s) on a generated corpus with Beam's DirectRunner.

    .venv/bin/python benchmarks/prepare.py                 # 50 MB corpus, BERT and GPT-2, multi-processing runner
    .venv/bin/python benchmarks/prepare.py --mb 2 --json   # smoke-sized, one JSON line per measurement
    .venv/bin/python benchmarks/prepare.py --quality       # with the language, Gopher and C4 filters on

The corpus is Zipf-distributed words from a 20k-word synthetic lexicon, in documents of 5-40 sentences, with
e-mails and phone numbers sprinkled in (so the scrubber works) and 2% exact duplicates (so dedup works). Each
measurement is one full `prepare` (clean -> tokenizer training -> examples -> shards + manifest), wall clock, with
PII scrubbing, exact dedup and near-dedup on (--no-near-dedup turns the last off) and, with --quality, the three
quality filters at the shipped thresholds except two that the invented lexicon cannot meet: every language the
identifier knows is accepted, and no English stop words are required. Each stage's share of the time comes from
the manifest's stage_seconds. The ceiling, in the same run: the same trained tokenizer alone (encode_batch, 2000
documents per call as the examples stage does) over the same cleaned documents (OUT/.work/clean-*.jsonl).
ratio = tokenizer-only seconds / prepare seconds, i.e. prepare's rate over the cleaned corpus as a fraction of the
tokenizer's; target >= 0.5.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def generate_corpus(directory, megabytes, seed=0, files=16):
    """Write ~`megabytes` of blank-line-separated documents into `files` text files; returns (glob, documents)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lexicon = ["".join(rng.choice(letters, rng.integers(2, 10))) for _ in range(20_000)]
    weights = 1.0 / np.arange(1, len(lexicon) + 1)
    weights /= weights.sum()
    target, written, documents, texts = megabytes * 1_000_000, 0, 0, []
    while written < target:
        sentences = []
        for _ in range(rng.integers(5, 40)):
            words = [lexicon[i] for i in rng.choice(len(lexicon), rng.integers(6, 25), p=weights)]
            sentences.append(" ".join(words).capitalize() + ".")
        if rng.random() < 0.05:
            sentences.append(f"Contact {lexicon[rng.integers(100)]}@example.org or call 555-{rng.integers(100, 999)}-"
                             f"{rng.integers(1000, 9999)}.")
        text = " ".join(sentences)
        texts.append(text)
        if rng.random() < 0.02:
            texts.append(text)  # an exact duplicate
        written += len(text) + 2
    Path(directory).mkdir(parents=True, exist_ok=True)
    for i in range(files):
        Path(directory, f"part-{i:03d}.txt").write_text("\n\n".join(texts[i::files]) + "\n")
    documents = len(texts)
    return str(Path(directory) / "*.txt"), documents


def quality_settings(on):
    """The filters for --quality: all on, accepting any language and no stop words (see the module docstring)."""
    if not on:
        return {}
    from tfpretrain.data.language import known_languages

    return {"language": {"enabled": True, "languages": list(known_languages()), "min_score": 0.0},
            "gopher": {"enabled": True, "min_stop_words": 0}, "c4": {"enabled": True}}


def tokenizer_only(output, batch=2000):
    """Seconds and tokens for OUT/tokenizer.json over the cleaned documents prepare kept in OUT/.work."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(output, "tokenizer.json")))
    texts = [json.loads(line)["text"] for p in sorted(Path(output, ".work").glob("clean*.jsonl"))
             for line in p.read_text().splitlines()]
    start, tokens = time.perf_counter(), 0
    for i in range(0, len(texts), batch):
        tokens += sum(len(e.ids) for e in tokenizer.encode_batch(texts[i : i + batch], add_special_tokens=False))
    return time.perf_counter() - start, tokens


def measure(family, pattern, output, pipeline_args, sequence_length=128, near_dedup=True, quality=False):
    from tfpretrain.data.prepare import prepare
    from tfpretrain.data.prepare_config import load_prepare_config

    config = load_prepare_config(data={
        "family": family,
        "sources": [{"type": "text", "path": pattern, "split_by": "blank_line"}],
        "output": output,
        "sequence_length": sequence_length,
        "num_shards": 16,
        "validation_fraction": 0.01,
        "tokenizer": {"vocabulary_size": 8000, "sample_documents": 20_000},
        "near_dedup": {"enabled": near_dedup},
        "quality": quality_settings(quality),
    })
    start = time.perf_counter()
    manifest = prepare(config, pipeline_args, keep_work=True)
    seconds = time.perf_counter() - start
    tokens = sum(s["tokens"] for s in manifest["splits"].values())
    ceiling_seconds, ceiling_tokens = tokenizer_only(output)
    return {
        "measurement": f"prepare_{family}",
        "seconds": round(seconds, 1),
        "documents": manifest["documents"]["read"],
        "duplicates": manifest["documents"]["duplicates"],
        "filtered": manifest["stages"]["filters"],
        "pii": manifest["pii"],
        "records": sum(s["records"] for s in manifest["splits"].values()),
        "tokens": tokens,
        "tokens_per_s": round(tokens / seconds),
        "documents_per_s": round(manifest["documents"]["read"] / seconds, 1),
        "megabytes_per_s": round(manifest["documents"]["characters"] / 1e6 / seconds, 3),
        "near_duplicates_removed": manifest["stages"]["near_duplicates_removed"],
        # "startup": what prepare does before its own clock starts (importing TensorFlow for tf.io.gfile)
        "stage_share": {k: round(v / seconds, 3) for k, v in manifest["stage_seconds"].items()}
        | {"startup": round(1 - sum(manifest["stage_seconds"].values()) / seconds, 3)},
        "stage_seconds": manifest["stage_seconds"],
        "tokenizer_only_seconds": round(ceiling_seconds, 2),
        "tokenizer_only_tokens_per_s": round(ceiling_tokens / ceiling_seconds),
        "ratio_to_tokenizer_only": round(ceiling_seconds / seconds, 4),
        "target_met": ceiling_seconds / seconds >= 0.5,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50, help="corpus size in MB (default 50)")
    parser.add_argument("--families", default="bert,gpt2")
    parser.add_argument("--json", action="store_true", help="one JSON line per measurement")
    parser.add_argument("--no-near-dedup", action="store_true", help="prepare without near-duplicate removal")
    parser.add_argument("--runner", default="multi_processing", choices=("multi_processing", "in_memory"),
                        help="DirectRunner mode (default multi_processing, one worker per core)")
    parser.add_argument("--quality", action="store_true", help="run the language, Gopher and C4 filters")
    args = parser.parse_args(argv)
    pipeline_args = ["--runner=FnApiRunner", f"--direct_running_mode={args.runner}", "--direct_num_workers=0"]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        pattern, documents = generate_corpus(Path(tmp) / "corpus", args.mb)
        if not args.json:
            print(f"generated {args.mb:g} MB, {documents} documents in {time.perf_counter() - start:.0f} s; "
                  f"DirectRunner {args.runner}, {os.cpu_count()} CPU(s)")
        for family in args.families.split(","):
            result = measure(family, pattern, str(Path(tmp) / family), pipeline_args,
                             near_dedup=not args.no_near_dedup, quality=args.quality)
            result.update(corpus_mb=args.mb, runner=args.runner, cpus=os.cpu_count(), quality=args.quality)
            if args.json:
                print(json.dumps(result), flush=True)
            else:
                print(f"{family:5s} {result['seconds']:7.1f} s  {result['tokens_per_s']:>9,} tokens/s  "
                      f"{result['documents_per_s']:>7,} docs/s  {result['megabytes_per_s']:.2f} MB/s  "
                      f"{result['records']:,} records, {result['duplicates']} duplicates and "
                      f"{result['near_duplicates_removed']} near-duplicates removed, filtered {result['filtered']}, "
                      f"pii {result['pii']}", flush=True)
                shares = ", ".join(f"{k} {v:.0%}" for k, v in result["stage_share"].items())
                print(f"      stages: {shares}; tokenizer alone {result['tokenizer_only_tokens_per_s']:,} tokens/s "
                      f"over the cleaned text: prepare is {result['ratio_to_tokenizer_only']:.2%} of it "
                      f"(target >= 50%: {'MET' if result['target_met'] else 'NOT MET'})", flush=True)


if __name__ == "__main__":
    main()
