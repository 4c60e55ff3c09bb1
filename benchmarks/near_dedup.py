"""Near-duplicate removal in `prepare`: recall and specificity on planted near-duplicates at known Jaccard levels.

    .venv/bin/python benchmarks/near_dedup.py                  # 1000 documents, 40 planted pairs per level
    .venv/bin/python benchmarks/near_dedup.py --json           # one JSON line

The corpus (tests/support/near_duplicates.py): unrelated documents of 200-300 words from a 5000-word lexicon; for
each level, `--per-level` of them get one copy edited (random words replaced by new ones) until the exact word
5-gram Jaccard with the original reaches the level. One full `prepare` (GPT-2, DirectRunner) with near_dedup on
runs over it; the cleaned documents it keeps are then compared with the planted pairs, judged by exact Jaccard:

    recall:       pairs with J >= threshold of which exactly one document was kept (target >= 0.95)
    kept_below:   pairs with J <  threshold of which both documents were kept (target >= 0.95; the brief's
                  "precision": near-dedup must not remove what is merely similar)
    precision:    of all documents removed, the fraction that were one side of a planted pair with J >= threshold
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

from tests.support.near_duplicates import planted_corpus  # noqa: E402

LEVELS = (0.5, 0.6, 0.7, 0.75, 0.85, 0.9, 0.95)


def run(documents, per_level, threshold, num_perm, runner, seed=0):
    from tfpretrain.data.prepare import prepare
    from tfpretrain.data.prepare_config import load_prepare_config

    texts, pairs = planted_corpus(seed, documents, LEVELS, per_level)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp, "corpus")
        corpus.mkdir()
        for i in range(8):
            (corpus / f"part-{i}.txt").write_text("\n\n".join(texts[i::8]) + "\n")
        config = load_prepare_config(data={
            "family": "gpt2", "output": str(Path(tmp, "out")), "sequence_length": 128, "num_shards": 4,
            "sources": [{"type": "text", "path": str(corpus / "*.txt"), "split_by": "blank_line"}],
            "tokenizer": {"vocabulary_size": 2000},
            "near_dedup": {"enabled": True, "threshold": threshold, "num_perm": num_perm},
        })
        start = time.perf_counter()
        manifest = prepare(config, ["--runner=FnApiRunner", f"--direct_running_mode={runner}",
                                    "--direct_num_workers=0" if runner != "in_memory" else "--direct_num_workers=1"],
                           keep_work=True)
        seconds = time.perf_counter() - start
        kept = {json.loads(line)["text"] for p in Path(tmp, "out", ".work").glob("clean*.jsonl")
                for line in p.read_text().splitlines()}
    removed = {i for i, t in enumerate(texts) if t not in kept}
    above = [(a, b) for a, b, j, _ in pairs if j >= threshold]
    below = [(a, b) for a, b, j, _ in pairs if j < threshold]
    found = sum((a in removed) != (b in removed) for a, b in above)
    both_kept = sum(a not in removed and b not in removed for a, b in below)
    planted_sides = {i for pair in above for i in pair}
    per_level = {}
    for level in LEVELS:
        at = [(a, b, j) for a, b, j, lv in pairs if lv == level]
        per_level[str(level)] = {
            "pairs": len(at), "mean_exact_jaccard": round(sum(j for *_, j in at) / len(at), 3),
            "one_removed": sum((a in removed) != (b in removed) for a, b, _ in at),
            "both_removed": sum(a in removed and b in removed for a, b, _ in at),
        }
    return {
        "measurement": "near_dedup",
        "documents": len(texts), "planted_pairs": len(pairs), "pairs_above": len(above), "pairs_below": len(below),
        "recall": round(found / max(len(above), 1), 4),
        "kept_below": round(both_kept / max(len(below), 1), 4),
        "precision": round(len(removed & planted_sides) / max(len(removed), 1), 4),
        "removed": len(removed), "unrelated_removed": len(removed - {i for a, b, *_ in pairs for i in (a, b)}),
        "targets_met": found / max(len(above), 1) >= 0.95 and both_kept / max(len(below), 1) >= 0.95,
        "per_level": per_level, "stages": manifest["stages"], "seconds": round(seconds, 1),
        "stage_seconds": manifest["stage_seconds"], "threshold": threshold, "num_perm": num_perm, "runner": runner,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000, help="unrelated documents (default 1000)")
    parser.add_argument("--per-level", type=int, default=40, help="planted pairs per Jaccard level (default 40)")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runner", default="in_memory", choices=("multi_processing", "in_memory"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.documents, args.per_level, args.threshold, args.num_perm, args.runner, args.seed)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['documents']} documents, {result['planted_pairs']} planted pairs; threshold {args.threshold}, "
          f"{args.num_perm} permutations, bands x rows {result['stages']['near_dedup']['bands']} x "
          f"{result['stages']['near_dedup']['rows']}; prepare {result['seconds']} s")
    for level, row in result["per_level"].items():
        print(f"  level {level}: {row['pairs']} pairs, mean exact J {row['mean_exact_jaccard']}, "
              f"one removed {row['one_removed']}, both removed {row['both_removed']}")
    print(f"recall {result['recall']} (pairs >= threshold), kept_below {result['kept_below']} (pairs < threshold), "
          f"precision {result['precision']}, unrelated documents removed {result['unrelated_removed']}; "
          f"targets {'MET' if result['targets_met'] else 'NOT MET'}")


if __name__ == "__main__":
    main()
