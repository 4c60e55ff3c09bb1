"""`tfpretrain prepare`: run the corpus pipelines end to end and write manifest.json last.

    from tfpretrain.data.prepare import prepare
    from tfpretrain.data.prepare_config import load_prepare_config
    manifest = prepare(load_prepare_config("configs/data/bert_wordpiece.yaml", inputs=["docs/*.txt"], output="out"))

Until the manifest is written the output directory does not look prepared (readers refuse it), so a killed run
is harmless; the next run clears what it left and, being deterministic, writes the same shards as a clean run.
"""

import dataclasses
import hashlib
import itertools
import json
import logging
import math
import posixpath
import time

from tfpretrain.atomic import write_text
from tfpretrain.data import canaries, data_card
from tfpretrain.data import manifest as M
from tfpretrain.data import sources as corpus
from tfpretrain.data import tokenizer as tok
from tfpretrain.data.beam_pipeline import (
    REMOVED_SAMPLES,
    TRAIN,
    VALIDATION,
    WORK_DIR,
    clean_pipeline,
    examples_pipeline,
    hash_fraction,
)
from tfpretrain.data.shards import remove_temp_files, write_shard
from tfpretrain.data.stages import corpus_stages

log = logging.getLogger(__name__)
TOKENIZER_FILE = "tokenizer.json"
# Local default: Beam's FnApiRunner with one worker process per core. Any flag given replaces these defaults. Not
# "DirectRunner": in Beam 2.77 (this stack) it first tries the Prism runner, downloading its binary from GitHub at run
# time, and falls back to the FnApiRunner only when that fails; naming the FnApiRunner runs what is tested, offline.
DEFAULT_PIPELINE_ARGS = ("--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=0")


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def _pipeline(pipeline_args):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    return beam.Pipeline(options=PipelineOptions(list(pipeline_args or DEFAULT_PIPELINE_ARGS)))


def _read_json(path):
    with _gfile().GFile(path) as f:
        return json.loads(f.read())


def _clean_documents(work):
    """Iterate cleaned (key, text) from the clean stage's files, in a deterministic order."""
    gfile = _gfile()
    for path in sorted(gfile.glob(posixpath.join(work, "clean*.jsonl"))):
        with gfile.GFile(path) as f:
            for line in f:
                record = json.loads(line)
                if not record.get("canary"):  # near-duplicate canary copies: the tokenizer never sees a secret
                    yield record["key"], record["text"]


def _removed_samples(work, per_filter):
    """The clean stage's removed-document samples, in a stable order ([] when none were written)."""
    path = posixpath.join(work, REMOVED_SAMPLES)
    if not per_filter or not _gfile().exists(path):
        return []
    with _gfile().GFile(path) as f:
        return data_card.sample_records(f.read().splitlines(), per_filter)


def _tokenizer(config, work, stats):
    """Load the configured tokenizer or train one on (a hash sample of) the cleaned corpus."""
    t = config.tokenizer
    if t.path:
        return tok.load_tokenizer(t.path, lowercase=t.lowercase), {"loaded_from": t.path}
    total = max(stats.get("documents_unique", 0), 1)
    keep = 1.0 if not t.sample_documents else min(1.0, t.sample_documents / total)
    texts = (text for key, text in _clean_documents(work) if hash_fraction(key, 24) < keep)
    texts = itertools.chain(texts, canaries.tokenizer_texts(config))
    trained = tok.train_tokenizer(config.format, texts, t.vocabulary_size, min_frequency=t.min_frequency,
                                  lowercase=t.lowercase)
    return getattr(trained, "_tokenizer", trained), {"trained_on_fraction": keep}


def _plan_splits(config, stats):
    """Buckets and shard counts per split, from the number of unique documents."""
    documents = stats.get("documents_unique", 0)
    if not documents:
        raise corpus.CorpusError(f"{config.output}: no documents left after cleaning (sources: {config.sources}; "
                                 f"min_document_chars={config.min_document_chars})")
    splits = {TRAIN: 1.0 - config.validation_fraction}
    if config.validation_fraction:
        splits[VALIDATION] = config.validation_fraction
    num_buckets = {s: max(1, math.ceil(documents * f / config.documents_per_bucket)) for s, f in splits.items()}
    num_shards = {TRAIN: config.num_shards, VALIDATION: config.validation_shards}
    return num_buckets, {s: num_shards[s] for s in splits}


def _finalize_shards(config, written, num_shards):
    """Fill unused shard indices with empty shards, remove stale shards of earlier runs, return split entries."""
    gfile = _gfile()
    by_split = {split: {} for split in num_shards}
    for entry in written:
        by_split[entry["split"]][entry["index"]] = entry
    splits = {}
    for split, count in num_shards.items():
        entries = []
        for index in range(count):
            entry = by_split[split].get(index)
            if entry is None:  # a tiny corpus may leave a shard without records; it still exists, empty
                name = M.shard_name(split, index, count, config.compression)
                write_shard(posixpath.join(config.output, name), [], config.compression)
                entry = {"file": name, "records": 0}
            entries.append({"file": entry["file"], "records": entry["records"]})
        keep = {e["file"] for e in entries}
        for path in gfile.glob(posixpath.join(config.output, f"{split}-*-of-*.tfrecord*")):
            if posixpath.basename(path) not in keep:
                gfile.remove(path)
        splits[split] = {"records": sum(e["records"] for e in entries), "shards": entries}
    return splits


def _fingerprint(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _read_marker(path):
    gfile = _gfile()
    if not gfile.exists(path):
        return None
    with gfile.GFile(path) as f:
        return json.loads(f.read())


def _write_marker(path, value):
    write_text(path, json.dumps(value))


def _previous_tokenizer(out, work):
    """{fingerprint, sha256} of the tokenizer an earlier (complete or killed) run of this directory made."""
    try:
        previous = M.read_manifest(out)["tokenizer"]
        return {"fingerprint": previous.get("fingerprint"), "sha256": previous.get("sha256")}
    except M.ManifestError:
        return _read_marker(posixpath.join(work, "tokenizer.done")) or {}


def _clean_fingerprint(config, sources, reads):
    gfile = _gfile()
    units = [(s.describe(), unit, gfile.stat(unit).length if s.type != "tfds" else None) for s, unit in reads]
    planted = dataclasses.asdict(config.canaries) if config.canaries.near_duplicates else None
    return _fingerprint([s.describe() for s in sources], units, config.min_document_chars, config.dedup,
                        dataclasses.asdict(config.privacy), dataclasses.asdict(config.near_dedup), planted,
                        dataclasses.asdict(config.quality))


def _clean_stage_canaries(config):
    """Near-duplicate canary copies go through the clean stage (and near-dedup); exact repeats are added later."""
    c = config.canaries
    if not (c.count and c.near_duplicates):
        return []
    return canaries.documents(canaries.make_canaries(c), c.seed, True, c.carrier_words)


def prepare(config, pipeline_args=None, keep_work=False):
    """Run clean -> tokenizer -> examples -> manifest for a PrepareConfig; returns the manifest dict.

    keep_work: leave OUT/.work (the cleaned documents, clean-*.jsonl) in place, e.g. for benchmarks/prepare.py.

    Stages an interrupted run completed are reused when their inputs are unchanged (fingerprints in OUT/.work),
    and a trained tokenizer is reused by later runs over the same cleaned corpus: Hugging Face's WordPiece trainer
    breaks count ties in hash-map order, so retraining could change the vocabulary. Given the tokenizer, the
    examples stage is deterministic.
    """
    gfile = _gfile()
    out, work = config.output, posixpath.join(config.output, WORK_DIR)
    start = time.monotonic()
    sources = [corpus.parse_source(spec) for spec in config.sources]  # a bad source leaves OUT as it was
    reads = corpus.plan_reads(sources)
    gfile.makedirs(out)
    previous_tokenizer = _previous_tokenizer(out, work)
    if gfile.exists(posixpath.join(out, M.MANIFEST_FILE)):
        gfile.remove(posixpath.join(out, M.MANIFEST_FILE))  # from here until the end the directory is unfinished
    remove_temp_files(out)
    log.info("prepare %s: %d read units from %d sources -> %s", config.family, len(reads), len(sources), out)

    clean_marker = posixpath.join(work, "clean.done")
    clean_fp = _clean_fingerprint(config, sources, reads)
    if (_read_marker(clean_marker) or {}).get("fingerprint") != clean_fp:
        if gfile.exists(work):
            gfile.rmtree(work)
        with _pipeline(pipeline_args) as pipeline:
            clean_pipeline(pipeline, reads, config, work, _clean_stage_canaries(config))
        _write_marker(clean_marker, {"fingerprint": clean_fp})
    else:
        log.info("clean: reusing the completed stage in %s", work)
    stats = _read_json(posixpath.join(work, "clean_stats.json"))
    log.info("clean: %s (%.0f s)", stats, time.monotonic() - start)
    timings = {"clean": time.monotonic() - start}

    tokenizer_path = posixpath.join(out, TOKENIZER_FILE)
    tokenizer_fp = _fingerprint(clean_fp, config.family, dataclasses.asdict(config.tokenizer),
                                *canaries.tokenizer_texts(config))
    reusable = previous_tokenizer.get("fingerprint") == tokenizer_fp and gfile.exists(tokenizer_path)
    if reusable and tok.file_sha256(tokenizer_path) == previous_tokenizer.get("sha256"):
        tokenizer = tok.load_tokenizer(tokenizer_path)
        tokenizer_origin = {"reused": True}
        log.info("tokenizer: reusing %s (same cleaned corpus and tokenizer config)", tokenizer_path)
    else:
        tokenizer, tokenizer_origin = _tokenizer(config, work, stats)
    tokenizer_origin["fingerprint"] = tokenizer_fp
    sha256 = tok.save_tokenizer(tokenizer, tokenizer_path)
    _write_marker(posixpath.join(work, "tokenizer.done"), {"fingerprint": tokenizer_fp, "sha256": sha256})
    special = tok.special_token_ids(tokenizer, config.family, config.tokenizer.path or tokenizer_path)
    num_buckets, num_shards = _plan_splits(config, stats)
    planted = canaries.prepared(config, tokenizer)  # [] when canaries.count is 0
    timings["tokenizer"] = time.monotonic() - start - timings["clean"]

    with _pipeline(pipeline_args) as pipeline:
        examples_pipeline(pipeline, config, work, tokenizer_path, special, num_buckets, num_shards,
                          [] if config.canaries.near_duplicates else canaries.documents(planted, config.canaries.seed))
    timings["examples"] = time.monotonic() - start - timings["clean"] - timings["tokenizer"]
    written = _read_json(posixpath.join(work, "shards.json"))
    example_stats = _read_json(posixpath.join(work, "example_stats.json"))
    splits = _finalize_shards(config, written, num_shards)
    for split in splits:
        splits[split]["tokens"] = example_stats.get(f"{split}.tokens", 0)
        splits[split]["documents"] = example_stats.get(f"{split}.documents", 0)

    canary_entry = canaries.write_key(out, config, planted)  # the audit key, before the manifest
    samples = _removed_samples(work, config.quality.samples_per_filter)
    stages = corpus_stages(stats, config.quality, config.near_dedup)
    elapsed = time.monotonic() - start
    timings["finalize"] = elapsed - timings["clean"] - timings["tokenizer"] - timings["examples"]
    tokens = sum(s["tokens"] for s in splits.values())
    manifest = {
        "format_version": M.FORMAT_VERSION,
        "family": config.family,
        "sequence_length": config.sequence_length,
        "vocabulary_size": tokenizer.get_vocab_size(),
        "special_tokens": special,
        "tokenizer": {
            "file": TOKENIZER_FILE,
            "sha256": sha256,
            "kind": config.format.tokenizer_kind,
            "lowercase": config.tokenizer.lowercase and config.format.lowercase,
            **tokenizer_origin,
        },
        "compression": config.compression,
        "splits": splits,
        "documents": {
            "read": stats.get("documents_read", 0),
            "too_short": stats.get("documents_too_short", 0),
            "duplicates": stages["exact_duplicates"],
            "near_duplicates": stages["near_duplicates_removed"],
            "filtered": sum(stages["filters"].values()),
            "unique": stats.get("documents_unique", 0),
            "characters": stats.get("characters", 0),
        },
        "pii": stages["pii"],
        "stages": stages,
        "sources": [s.describe() for s in sources],
        **canary_entry,
        "config": dataclasses.asdict(config),
        "created_by": "tfpretrain prepare",
        "elapsed_s": round(elapsed, 1),
        "stage_seconds": {name: round(seconds, 2) for name, seconds in timings.items()},
    }
    if not keep_work:
        gfile.rmtree(work)
    data_card.write_data_card(out, manifest, samples)  # before the manifest: a manifest means a complete directory
    M.write_manifest(out, manifest)
    log.info("prepared %d tokens in %d records in %.0f s (%.0f tokens/s) -> %s", tokens,
             sum(s["records"] for s in splits.values()), elapsed, tokens / max(elapsed, 1e-9), out)
    return manifest
