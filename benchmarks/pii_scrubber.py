"""PII scrubber quality and speed: span-level precision and recall per type on the labelled template set.

Usage (from the repository root):

    .venv/bin/python benchmarks/pii_scrubber.py [--json] [--seed 0] [--per-kind 20] [--per-lookalike 30] [--show 5]

The set (tests/support/pii_corpus.py, built without tfpretrain) holds documents with one PII value each, every
(type, format, country) kind `--per-kind` times (e-mails plain and obfuscated under 14 country domains, phone
numbers in international / E.164 form from 20 countries and in national form from the 12 default regions, IBANs of
15 countries grouped and compact, 7 card networks, US SSNs, IPv4 / IPv6, URLs, national IDs of 15 countries in 27
written shapes, MAC addresses in 5 notations, dates of birth after a marker in 33 formats of 15 countries), and
`--per-lookalike` documents of each of 88 look-alike categories (dates, times, decimals, versions, ISBNs, prices,
checksum failures, ID near misses, hex strings, birth years, ...) that must come through unchanged. The scrubber
runs with every type on (URLs included) and its default phone regions.

A detection counts when its span and type equal a labelled one exactly. Prints per type: labelled spans, true and
false positives, precision, recall; then the scrub throughput in documents/s and characters/s on the set, and in
characters/s on prose (the standard library's pydoc_data topics, best of 3 passes). --json prints one JSON line per
type (measurement "pii_<type>"), one for the speed on the set ("pii_speed") and one on prose ("pii_speed_prose").
"""

import argparse
import json
import sys
import time
from pathlib import Path
from pydoc_data.topics import topics

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.pii_corpus import TYPES, labelled_set, score  # noqa: E402
from tfpretrain.data.pii import Scrubber  # noqa: E402


def measure(seed=0, per_kind=20, per_lookalike=30):
    """-> (per-type counts with precision / recall, misses, false alarms, speed record)."""
    samples = labelled_set(seed=seed, per_kind=per_kind, per_lookalike=per_lookalike)
    scrubber = Scrubber(urls=True)
    start = time.perf_counter()  # timed first: scoring would fill the scrubber's cache of phone candidates
    for sample in samples:
        scrubber.scrub(sample.text)
    seconds = time.perf_counter() - start
    counts, misses, alarms = score(samples, scrubber.find)
    characters = sum(len(s.text) for s in samples)
    speed = {"measurement": "pii_speed", "documents": len(samples), "documents_per_s": round(len(samples) / seconds),
             "characters_per_s": round(characters / seconds),
             "lookalikes": sum(1 for s in samples if not s.spans), "pii_documents": sum(1 for s in samples if s.spans),
             "kinds": len({s.kind for s in samples if s.spans}), "phone_regions": list(scrubber.phone_regions)}
    return counts, misses, alarms, speed


def prose_speed(passes=3):
    """Scrub throughput on English technical prose with almost no PII: what most of a pretraining corpus is like."""
    documents = list(topics.values())
    scrubber, characters, best = Scrubber(urls=True), sum(map(len, documents)), float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        found = [scrubber.scrub(text)[1] for text in documents]
        best = min(best, time.perf_counter() - start)
    return {"measurement": "pii_speed_prose", "documents": len(documents), "characters": characters,
            "characters_per_s": round(characters / best), "placeholders": sum(sum(c.values()) for c in found)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON line per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=20, help="documents per (type, format, country) kind")
    parser.add_argument("--per-lookalike", type=int, default=30, help="documents per look-alike category")
    parser.add_argument("--show", type=int, default=5, help="misses and false alarms to print (text mode)")
    args = parser.parse_args(argv)
    counts, misses, alarms, speed = measure(args.seed, args.per_kind, args.per_lookalike)
    prose = prose_speed()
    if args.json:
        for pii_type in TYPES:
            c = counts[pii_type]
            print(json.dumps({"measurement": f"pii_{pii_type}", "labelled": c["true_positives"] +
                              c["false_negatives"], **{k: round(v, 4) if isinstance(v, float) else v
                                                       for k, v in c.items()}}))
        print(json.dumps(speed))
        print(json.dumps(prose))
        return 0
    print(f"{speed['pii_documents']} PII documents ({speed['kinds']} kinds), {speed['lookalikes']} look-alikes; "
          f"phone regions {', '.join(speed['phone_regions'])}")
    print(f"{'type':13s} {'labelled':>8s} {'TP':>6s} {'FP':>5s} {'FN':>5s} {'precision':>9s} {'recall':>7s}")
    for pii_type in TYPES:
        c = counts[pii_type]
        print(f"{pii_type:13s} {c['true_positives'] + c['false_negatives']:8d} {c['true_positives']:6d} "
              f"{c['false_positives']:5d} {c['false_negatives']:5d} {c['precision']:9.4f} {c['recall']:7.4f}")
    print(f"speed: {speed['documents_per_s']:,} documents/s, {speed['characters_per_s']:,} characters/s; prose "
          f"{prose['characters_per_s']:,} characters/s ({prose['placeholders']} placeholders in "
          f"{prose['characters']:,} characters)")
    for title, rows in (("missed", misses), ("false alarms", alarms)):
        for kind, text, value, pii_type in rows[: args.show]:
            print(f"{title}: [{kind}] {pii_type} {value!r} in {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
