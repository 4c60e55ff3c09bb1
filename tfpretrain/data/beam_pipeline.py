"""Corpus -> sharded TFRecords + manifest.json, as two Apache Beam pipelines with a tokenizer step between them.

    clean:    read units (files / TFDS sub-splits) -> normalise -> drop short -> scrub PII
              -> quality filters (language, Gopher, C4: data/quality.py) -> exact dedup
              -> near-duplicate removal (MinHash LSH, data/near_dedup.py; when enabled)
              -> OUT/.work/clean-*.jsonl + stats + a hash-chosen few removed documents per filter
    tokenizer (driver): train WordPiece / byte-level BPE on the cleaned corpus (or load one) -> OUT/tokenizer.json
    examples: clean docs (+ canary copies, train only: data/canaries.py) -> (split, bucket) by content hash
              -> tokenize -> NSP pairs or packed windows -> (split, shard) by a stable hash
              -> OUT/train-00003-of-00008.tfrecord (temp name, then rename)
    finalize (driver): empty shards for unused indices, stale shards removed, manifest.json written last

Every random choice is seeded by (seed, split, bucket) and every grouping is by content hash, so a re-run, or a
run after a killed one, writes the same shards. Runs on Beam's local FnApiRunner (multi-processing by default) or any
runner given through pipeline options (e.g. --runner=DataflowRunner --project=... --temp_location=gs://...).
"""

import json
import logging
import posixpath
import time
import zlib
from collections.abc import Iterable
from typing import Any

import apache_beam as beam

from tfpretrain.data import pii
from tfpretrain.data import sources as corpus
from tfpretrain.data.formats import get_format
from tfpretrain.data.manifest import shard_name
from tfpretrain.data.near_dedup import NearDedup
from tfpretrain.data.quality import apply_filters
from tfpretrain.data.shards import serialize_example, write_shard

log = logging.getLogger(__name__)
WORK_DIR = ".work"
TRAIN, VALIDATION = "train", "validation"
REMOVED_SAMPLES = "removed_samples.jsonl"


def hash_fraction(key, start=0):
    """A dedup key (hex sha256) -> a stable number in [0, 1); different `start` offsets give independent draws."""
    return int(key[start : start + 12], 16) / 16**12


class _Progress:
    """Rate-limited progress log lines from inside a worker: documents, tokens, tokens/s."""

    def __init__(self, what, every_s=10.0):
        self.what, self.every_s = what, every_s
        self.documents = self.tokens = 0
        self.start = self.last = time.monotonic()

    def add(self, documents, tokens):
        self.documents += documents
        self.tokens += tokens
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            rate = self.tokens / max(now - self.start, 1e-9)
            log.info("%s: %d documents, %d tokens, %.0f tokens/s", self.what, self.documents, self.tokens, rate)


class CleanDocuments(beam.DoFn):
    """(Source, unit) -> (dedup key, cleaned text); per-document statistics on the 'stats' output, and on 'removed'
    (filter, (sample key, JSON record)) for each document a quality filter removed (scrubbed, truncated)."""

    def __init__(self, min_chars, privacy_config, dedup, quality_config):
        self.min_chars, self.privacy, self.dedup, self.quality = min_chars, privacy_config, dedup, quality_config

    def setup(self):
        p = self.privacy
        self.scrubber = pii.Scrubber(types=p.types, urls=p.urls, phone_regions=p.phone_regions) if p.scrub \
            else None

    def process(self, read) -> Iterable[Any]:  # mixed tagged outputs: no inferred type for the main output
        source, unit = read
        for index, raw in enumerate(corpus.read_documents(source, unit)):
            text = corpus.normalize(raw)
            stats = {"documents_read": 1}
            if len(text) < self.min_chars:
                stats["documents_too_short"] = 1
                yield beam.pvalue.TaggedOutput("stats", stats)
                continue
            if self.scrubber is not None:
                text, counts = self.scrubber.scrub(text)
                stats.update({f"pii.{name}": n for name, n in counts.items() if n})
            verdict = apply_filters(text, self.quality)
            stats.update({f"c4_lines.{rule}": n for rule, n in verdict.lines_removed.items()})
            if verdict.text is None:
                stats[f"filtered.{verdict.filter}"] = 1
                stats[f"filter_rule.{verdict.filter}.{verdict.rule}"] = 1
                yield beam.pvalue.TaggedOutput("stats", stats)
                yield beam.pvalue.TaggedOutput("removed", removed_sample(verdict, text, self.quality.sample_chars))
                continue
            text = verdict.text
            yield beam.pvalue.TaggedOutput("stats", stats)
            # Without dedup every copy keeps a key of its own: the hash also covers where the document came from.
            where = "" if self.dedup else f"\x00{source.describe()}\x00{unit}\x00{index}"
            yield pii.dedup_key(text + where), text


def removed_sample(verdict, text, max_chars):
    """-> (filter, (sample key, JSON line)): the key, a hash of the text, picks a stable few per filter."""
    key = pii.dedup_key(text)
    record = {"filter": verdict.filter, "rule": verdict.rule, "id": key[:16], "characters": len(text),
              "text": text[:max_chars], "truncated": len(text) > max_chars}
    return verdict.filter, (key, json.dumps(record, sort_keys=True, ensure_ascii=False))


class SumDicts(beam.CombineFn):
    def create_accumulator(self):
        return {}

    def add_input(self, acc, item):
        for k, v in item.items():
            acc[k] = acc.get(k, 0) + v
        return acc

    def merge_accumulators(self, accs):
        out = {}
        for acc in accs:
            self.add_input(out, acc)
        return out

    def extract_output(self, acc):
        return acc


class MakeExamples(beam.DoFn):
    """((split, bucket), [(key, text)]) -> ((split, shard), (order, serialized tf.Example)); stats on 'stats'.

    The family's corpus format builds the examples (NSP pairs, packed windows; data/formats.py)."""

    def __init__(self, config, tokenizer_path, special_tokens, num_shards):
        self.family, self.seq = config.family, config.sequence_length
        self.seed, self.short_seq_prob = config.seed, config.short_seq_prob
        self.tokenizer_path, self.special_tokens, self.num_shards = tokenizer_path, special_tokens, num_shards

    def setup(self):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(self.tokenizer_path)
        self.format = get_format(self.family)
        self.spec = self.format.record_spec(self.seq)
        self.progress = _Progress(f"{self.family} examples")

    def process(self, element) -> Iterable[Any]:  # mixed tagged outputs: no inferred type for the main output
        import random

        (split, bucket), docs = element
        docs = sorted(docs)  # by key: the input order of a GroupByKey is not deterministic
        canary_ids = self._encode([text for _, text, canary in docs if canary])  # each copy whole in one example
        texts = [text for _, text, canary in docs if not canary]
        rng = random.Random(f"{self.seed}:{split}:{bucket}")
        examples, tokens = self.format.build_examples(
            texts, canary_ids, self._encode, sequence_length=self.seq, special_ids=self.special_tokens, rng=rng,
            short_seq_prob=self.short_seq_prob)
        documents = len(texts) + len(canary_ids)
        self.progress.add(documents, tokens)
        stats = {f"{split}.documents": documents, f"{split}.tokens": tokens, f"{split}.records": len(examples)}
        yield beam.pvalue.TaggedOutput("stats", stats)
        for i, example in enumerate(examples):
            shard = zlib.crc32(f"{split}:{bucket}:{i}".encode()) % self.num_shards[split]
            yield (split, shard), ((bucket, i), serialize_example(example, self.spec))

    def _encode(self, texts):
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


class WriteShard(beam.DoFn):
    """((split, shard), [(order, record)]) -> {split, index, file, records}, after an atomic write."""

    def __init__(self, output, num_shards, compression):
        self.output, self.num_shards, self.compression = output, num_shards, compression

    def process(self, element):
        (split, index), records = element
        name = shard_name(split, index, self.num_shards[split], self.compression)
        ordered = (record for _, record in sorted(records, key=lambda r: r[0]))
        count = write_shard(posixpath.join(self.output, name), ordered, self.compression)
        yield {"split": split, "index": index, "file": name, "records": count}


def _write_json(pcoll, path, label):
    """One JSON document (a single-element PCollection) -> one file, through the runner's file sink."""
    return (
        pcoll
        | f"{label}Json" >> beam.Map(json.dumps, sort_keys=True)
        | f"{label}Write" >> beam.io.WriteToText(path, num_shards=1, shard_name_template="")
    )


def clean_pipeline(pipeline, reads, config, work, canary_documents=()):
    """Build the clean stage on `pipeline`; writes WORK/clean-*.jsonl, WORK/clean_stats.json and
    WORK/removed_samples.jsonl (the `samples_per_filter` removed documents of each filter with the smallest keys).

    canary_documents: near-duplicate canary copies (canaries.documents(..., near_duplicates=True)), added after
    exact dedup and before near-dedup, written with "canary": true; counted apart from the corpus
    (canary_copies_kept), so the corpus's stage counts add up (data/stages.py).
    """
    clean = CleanDocuments(config.min_document_chars, config.privacy, config.dedup, config.quality)
    cleaned = (
        pipeline
        | "Reads" >> beam.Create(reads)
        | "Reshuffle" >> beam.Reshuffle()
        | "Clean" >> beam.ParDo(clean).with_outputs("stats", "removed", main="docs")
    )
    samples = max(config.quality.samples_per_filter, 1)  # with 0 the file is written and then ignored
    (
        cleaned.removed
        | "SampleRemoved" >> beam.combiners.Top.SmallestPerKey(samples)
        | "SampleLines" >> beam.FlatMap(lambda kv: [line for _, line in kv[1]])
        | "WriteSamples" >> beam.io.WriteToText(posixpath.join(work, REMOVED_SAMPLES), num_shards=1,
                                                shard_name_template="")
    )
    # Exact duplicates (up to case and whitespace) share a key; `min` keeps one of them deterministically.
    unique = cleaned.docs | "Dedup" >> beam.CombinePerKey(min)
    stats = [cleaned.stats]
    canary_keys = frozenset(r["key"] for r in canary_documents)
    if canary_documents:
        planted = pipeline | "NearDuplicateCanaries" >> beam.Create([(r["key"], r["text"]) for r in canary_documents])
        unique = (unique, planted) | "WithCanaries" >> beam.Flatten()
    if config.near_dedup.enabled:
        near = NearDedup(config.near_dedup, canary_keys)
        unique = unique | "NearDedup" >> near
        stats.append(near.stats)
    (
        unique
        | "ToJson" >> beam.MapTuple(lambda key, text: json.dumps(
            {"key": key, "text": text, **({"canary": True} if key in canary_keys else {})}))
        | "WriteClean" >> beam.io.WriteToText(posixpath.join(work, "clean"), file_name_suffix=".jsonl")
    )
    unique_stats = unique | "Count" >> beam.Map(
        lambda kv: {"canary_copies_kept": 1} if kv[0] in canary_keys else {"documents_unique": 1,
                                                                            "characters": len(kv[1])})
    stats = (*stats, unique_stats) | "AllStats" >> beam.Flatten()
    stats = stats | "SumStats" >> beam.CombineGlobally(SumDicts())
    _write_json(stats, posixpath.join(work, "clean_stats.json"), "Stats")


def examples_pipeline(pipeline, config, work, tokenizer_path, special_tokens, num_buckets, num_shards,
                      canary_documents=()):
    """Build the examples stage; writes the shards and WORK/shards.json + WORK/example_stats.json.

    canary_documents: records from tfpretrain.data.canaries.documents, added after cleaning, always to train.
    """
    vf = config.validation_fraction

    def bucket(record):
        key, canary = record["key"], record.get("canary", False)
        split = VALIDATION if hash_fraction(key) < vf and not canary else TRAIN
        return (split, int(hash_fraction(key, 12) * num_buckets[split])), (key, record["text"], canary)

    documents = (
        pipeline
        | "ReadClean" >> beam.io.ReadFromText(posixpath.join(work, "clean*.jsonl"))
        | "Parse" >> beam.Map(json.loads)
    )
    if canary_documents:
        canary_pcoll = pipeline | "Canaries" >> beam.Create(list(canary_documents))
        documents = (documents, canary_pcoll) | "WithCanaries" >> beam.Flatten()
    made = (
        documents
        | "Bucket" >> beam.Map(bucket)
        | "GroupBuckets" >> beam.GroupByKey()
        | "Examples" >> beam.ParDo(MakeExamples(config, tokenizer_path, special_tokens, num_shards)).with_outputs(
            "stats", main="records"
        )
    )
    shards = (
        made.records
        | "GroupShards" >> beam.GroupByKey()
        | "WriteShards" >> beam.ParDo(WriteShard(config.output, num_shards, config.compression))
        | "ListShards" >> beam.combiners.ToList()
    )
    _write_json(shards, posixpath.join(work, "shards.json"), "Shards")
    stats = made.stats | "SumExampleStats" >> beam.CombineGlobally(SumDicts())
    _write_json(stats, posixpath.join(work, "example_stats.json"), "ExampleStats")
