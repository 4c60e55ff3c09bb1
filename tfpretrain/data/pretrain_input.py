"""Training input: sharded TFRecords (+ manifest.json) -> batched, masked feature dicts for the task models.

    make_dataset(manifest_or_pattern, family, global_batch_size, input_context=None, ...) -> tf.data.Dataset
    dataset_for_strategy(strategy, manifest_or_pattern, family, global_batch_size, ...)  -> distributed dataset
    validate_shards(manifest_or_pattern, ...)                                           -> {file: records}

One pipeline per host (tf.distribute.InputContext), following Model Garden's input_reader/pretrain_dataloader:

    files --shard(host)--> shuffle(seed) --repeat--> interleave(TFRecordDataset) --shuffle(records)-->
    batch(256 records) --> parse_example on the whole group, int64 -> int32 --> [masked formats] dynamic masking
    with a stateless seed per group --> split into per-replica batches (drop_remainder) --> prefetch

What the shards hold and whether they are masked is the family's corpus format (data/formats.py); where they are
and every check before a record is read is data/prepared_corpus.py.

Every element is one flat dict, exactly what `Task.fit` consumes:

    BERT   token_ids, segment_ids, padding_mask [B, S] int32 (token_ids masked), masked_lm_positions,
           masked_lm_ids [B, P] int32, masked_lm_weights [B, P] float32, next_sentence_labels [B] int32
    GPT-2  token_ids [B, S] int32, padding_mask [B, S] int32 (all ones: windows are packed, never padded)

B is the per-replica batch, S the corpus' sequence length and P `max_predictions_per_seq`; all shapes are static
(TPU/XLA friendly). Masking is re-drawn each epoch (dynamic, as in RoBERTa) but is a pure function of
(seed, host, position in the stream): with deterministic=True a data position replays exactly.

Corrupt data: with a manifest every shard's record count is known, so each shard is read with errors trapped and
padded with a marker record naming the shard; a shard that ends early (truncated, corrupt, unreadable) fails the
batch parse with "'<shard>' is truncated or corrupt ...", and the original reader error is logged. Records with
the wrong shape fail with "Name: <manifest or pattern>, Key: ...". A plain file glob has no counts, so its read
errors are TF's own (DataLossError without the file name). `validate_shards` reads and parses everything and
names the bad file.
"""

import functools
import logging
import random
import re
from concurrent.futures import ThreadPoolExecutor

import tensorflow as tf

from tfpretrain.data import features as F
from tfpretrain.data import manifest as manifest_lib
from tfpretrain.data.masking import mask_tokens
from tfpretrain.data.prepared_corpus import ShardsError, is_pattern, resolve, whole_word_table

log = logging.getLogger(__name__)

DEFAULT_CYCLE_LENGTH = 16  # files read at once per host (record mixing vs. open readers)
_ROWS_PER_PARSE = 256  # records parsed and masked per call: batches of B are made 256 // B at a time


# -- the pipeline ------------------------------------------------------------------------------------------------
def make_dataset(
    manifest_or_pattern,
    family,
    global_batch_size,
    input_context=None,
    *,
    split="train",
    sequence_length=None,
    vocabulary_size=None,
    shuffle=True,
    shuffle_buffer=10_000,
    seed=0,
    deterministic=False,
    repeat=True,
    mask_rate=0.15,
    max_predictions_per_seq=20,
    whole_word_masking=True,
    continuation_table=None,
    cycle_length=None,
    compression=None,
    skip_batches=0,
):
    """Batched training features for a model `family` ("bert" | "gpt2": data/formats.py) from a prepared corpus.

    manifest_or_pattern: a manifest.json, the directory holding one (the normal case), or a file glob of TFRecord
        shards (compression inferred from a .gz suffix, sequence_length from the first record, special tokens as
        a trained tokenizer numbers them, e.g. [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, and vocabulary_size
        required for masking). Local or gs://.
    global_batch_size: summed over replicas; each dataset yields the per-replica batch when `input_context` is
        given (`input_context.get_per_replica_batch_size`), else the global batch. drop_remainder always.
    input_context: a tf.distribute.InputContext (from `distribute_datasets_from_function`): this host reads every
        num_input_pipelines-th shard; with fewer shards than hosts, every host reads all shards and keeps every
        num_input_pipelines-th record (a warning; the order is then made deterministic so hosts stay disjoint).
    sequence_length, vocabulary_size: the MODEL's; when given they are checked against the manifest (one
        ManifestError naming it). The family is always checked. Masking draws random replacement tokens from the
        manifest's (tokenizer's) vocabulary, or from `vocabulary_size` for a glob.
    shuffle, shuffle_buffer, seed: seeded file order (reshuffled each epoch) and a record shuffle buffer. Pass the
        same seed on every host. seed=None draws one (not replayable).
    deterministic: fixed element order (interleave and parse); with a seed the whole stream then replays exactly.
    repeat: loop forever (training); False gives one pass, every record of this host exactly once (minus the
        final partial batch).
    mask_rate, max_predictions_per_seq, whole_word_masking, continuation_table: dynamic masking of masked formats
        (tfpretrain.data.masking.mask_tokens). With `whole_word_masking`, whole words from the `continuation_table`
        argument (bool [V]) or the tokenizer.json named by the manifest; a tokenizer that is missing or not the
        manifest's (sha256) is an error, never a silent fall-back to token masking.
    cycle_length: shards read concurrently per host (default min(shards on this host, 16)).
    compression: "" or "GZIP"; default from the manifest or the glob's file names.
    skip_batches: batches this dataset already delivered (the data position of a resumed run): whole parse groups
        are skipped as raw records, before parsing and masking, and the group index (the masking seed) continues
        from there, so a deterministic stream resumes exactly where it stopped.
    """
    source = resolve(manifest_or_pattern, family, split, sequence_length, vocabulary_size, compression)
    masked = source.format.masked
    if masked:
        mask_vocabulary = source.manifest["vocabulary_size"] if source.manifest else vocabulary_size
        if mask_vocabulary is None:
            raise ShardsError(f"{source.description}: masking needs vocabulary_size= (there is no manifest)")
    fixed_seed = seed is not None
    seed = int(seed) if fixed_seed else random.SystemRandom().randrange(2**31)

    num_pipelines, pipeline_id, batch_size = 1, 0, int(global_batch_size)
    if input_context is not None:
        num_pipelines, pipeline_id = input_context.num_input_pipelines, input_context.input_pipeline_id
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
    if batch_size < 1:
        raise ShardsError(f"global_batch_size={global_batch_size} gives a per-replica batch of {batch_size}")

    files, counts = list(source.files), source.counts
    record_sharding = num_pipelines > 1 and len(files) < num_pipelines
    if num_pipelines > 1 and not record_sharding:
        files = files[pipeline_id::num_pipelines]  # == Dataset.shard at the file level, done on the list
        counts = counts[pipeline_id::num_pipelines] if counts is not None else None
    elif record_sharding:
        log.warning(
            "%s has %d shard(s) for %d input pipelines: every host reads all of them and keeps every %d-th record "
            "(each host does %dx the I/O; write at least as many shards as hosts)",
            source.description, len(files), num_pipelines, num_pipelines, num_pipelines,
        )
    deterministic = deterministic or record_sharding  # hosts must agree on the record order they split
    file_seed = seed if fixed_seed or not record_sharding else 0  # ... so they must shuffle files alike

    # [F] shard paths (+ expected record counts), shuffled each epoch with the seed all hosts share.
    expected = tf.constant(counts if counts is not None else [-1] * len(files), tf.int64)
    shard_list = tf.data.Dataset.from_tensor_slices((files, expected))
    if shuffle:
        shard_list = shard_list.shuffle(len(files), seed=file_seed, reshuffle_each_iteration=True)
    if repeat:
        shard_list = shard_list.repeat()
    read = functools.partial(_read_shard, compression=source.compression, checked=counts is not None)
    records = shard_list.interleave(  # elements: serialized tf.Example, scalar tf.string
        read,
        cycle_length=cycle_length or min(len(files), DEFAULT_CYCLE_LENGTH),
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )
    if record_sharding:
        records = records.shard(num_pipelines, pipeline_id)
    if shuffle:
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    # Batch serialized records first: one parse_example (and one masking call) per group of `group` batches is far
    # cheaper than per record, or per small batch (masking has a per-call cost: a scan over S for whole words).
    group = max(1, _ROWS_PER_PARSE // batch_size)
    skip_groups, skip_rest = divmod(int(skip_batches), group)
    if skip_groups:
        records = records.skip(skip_groups * group * batch_size)
    groups = records.batch(batch_size * group, drop_remainder=False).enumerate(start=skip_groups)  # (i, [G*B])

    spec = _spec(source)
    mask_key = mask_args = None
    if masked:
        mask_args = dict(
            vocabulary_size=int(mask_vocabulary),
            mask_token_id=int(source.special_tokens["mask"]),
            special_token_ids=tuple(sorted({int(v) for v in source.special_tokens.values()})),
            max_predictions=int(max_predictions_per_seq),
            mask_rate=float(mask_rate),
            continuation_table=whole_word_table(source, int(vocabulary_size or mask_vocabulary),
                                                whole_word_masking=whole_word_masking, table=continuation_table),
        )
        if not 0 < mask_args["max_predictions"] <= source.sequence_length:
            raise ShardsError(
                f"max_predictions_per_seq={max_predictions_per_seq} must be in 1..{source.sequence_length}"
            )
        mask_key = tf.constant([seed, pipeline_id], tf.int64)  # different masks per host for the same index
    features = functools.partial(_features, spec=spec, name=source.description, mask_key=mask_key,
                                 mask_args=mask_args)

    def transform(index, group_records):
        # {key: [G*B, ...]} -> {key: [G, B, ...]}; the rows of a short last group (one pass) that do not fill a
        # batch are dropped, as batch(drop_remainder=True) would.
        out = features(index, group_records)
        rows = tf.shape(out[F.TOKEN_IDS])[0] // batch_size * batch_size
        return {k: tf.reshape(v[:rows], [-1, batch_size, *v.shape[1:]]) for k, v in out.items()}

    dataset = groups.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    dataset = dataset.unbatch()  # elements: {key: [B, ...]}, static shapes
    if skip_rest:
        dataset = dataset.skip(skip_rest)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)

    options = tf.data.Options()
    options.deterministic = deterministic
    if input_context is not None:  # already split per host above: tf.distribute must not split it again
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)


def _read_shard(path, count, *, compression, checked):
    """One shard -> its serialized records (scalar tf.string).

    When `checked` (the manifest gives `count`), read errors are trapped (and logged) and the stream is padded
    to exactly `count` elements with a marker that fails the batch parse with a message naming the shard.
    """
    records = tf.data.TFRecordDataset(path, compression_type=compression)
    if checked:
        # The marker begins with "'" (0x27: protobuf wire type 7, which does not exist), so it never parses.
        marker = tf.strings.join(
            ["'", path, "' is truncated or corrupt: it has fewer readable records than the manifest lists (",
             tf.strings.as_string(count), "); the reader's error is in the log; see validate_shards()"]
        )
        records = records.ignore_errors(log_warning=True).concatenate(tf.data.Dataset.from_tensors(marker).repeat())
        records = records.take(count)
    return records


def _parse(serialized, spec, name):
    """[B] serialized tf.Examples -> dict of int32 [B, ...].

    Parse errors say "Name: <manifest directory or pattern>" (a per-record shard path would cost ~20% of the
    reader's throughput; validate_shards finds the shard).
    """
    names = tf.fill(tf.shape(serialized), name)
    parsed = tf.io.parse_example(serialized, spec, example_names=names)
    return {key: tf.cast(value, tf.int32) for key, value in parsed.items()}


def _spec(source):
    """parse_example's spec of the format's records at the corpus' sequence length."""
    return {key: tf.io.FixedLenFeature(shape, tf.int64)
            for key, shape in source.format.record_spec(source.sequence_length).items()}


def _features(index, serialized, *, spec, name, mask_key, mask_args):
    """Group `index` of serialized records -> model features; B here is the group's rows (G * batch size).

    Whatever the record spec holds: token_ids [B, S], and segment_ids, padding_mask [B, S], next_sentence_labels
    [B, 1] where stored. Packed windows have no padding (padding_mask all ones). With mask_args, token_ids are
    masked (a [MASK] / random / kept token at each picked position) and masked_lm_positions, masked_lm_ids
    [B, P] and masked_lm_weights [B, P] float32 are added, with a seed that is a pure function of `index`.
    """
    features = _parse(serialized, spec, name)
    if F.PADDING_MASK not in features:
        features[F.PADDING_MASK] = tf.ones_like(features[F.TOKEN_IDS])  # [B, S]
    if F.NEXT_SENTENCE_LABELS in features:
        features[F.NEXT_SENTENCE_LABELS] = tf.reshape(features[F.NEXT_SENTENCE_LABELS], [-1])  # [B]
    if mask_args is not None:
        seed = tf.random.experimental.stateless_fold_in(mask_key, index)  # [2]
        features.update(mask_tokens(features[F.TOKEN_IDS], features[F.PADDING_MASK], seed, **mask_args))
    return features


def dataset_for_strategy(strategy, manifest_or_pattern, family, global_batch_size, **kwargs):
    """`strategy.distribute_datasets_from_function` over make_dataset: one pipeline per host, per-replica batches."""
    return strategy.distribute_datasets_from_function(
        lambda context: make_dataset(manifest_or_pattern, family, global_batch_size, context, **kwargs)
    )


# -- checking shards ---------------------------------------------------------------------------------------------
def validate_shards(manifest_or_pattern, family=None, *, split="train", compression=None, batch_size=1024,
                    max_workers=8):
    """Read and parse every record of every shard; -> {shard path: records}.

    Raises tf.errors.DataLossError naming the first bad shard (in shard order): unreadable or corrupt records,
    records that do not parse with the family's record_spec, or (with a manifest) fewer/more records than listed.
    For a glob, `family` is required; the sequence length is taken from the first record.
    """
    path = str(manifest_or_pattern)
    if family is None:
        if path.endswith(".json") or not is_pattern(path):
            family = manifest_lib.read_manifest(path)["family"]
        else:
            raise ShardsError(f"validate_shards({path!r}) needs family= for a file pattern")
    source = resolve(path, family, split, None, None, compression)
    spec = _spec(source)
    counts = source.counts or [None] * len(source.files)

    def check(item):
        shard, expected = item
        read = 0
        try:
            dataset = tf.data.TFRecordDataset(shard, compression_type=source.compression).batch(batch_size)
            for serialized in dataset:
                tf.io.parse_example(serialized, spec)
                read += int(serialized.shape[0])
        except tf.errors.OpError as e:
            message = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\].*", "", str(e.message or "")).strip()
            return f"{shard}: bad data at or after record {read} ({type(e).__name__}: {message})"
        if expected is not None and read != expected:
            return f"{shard}: {read} records, but the manifest lists {expected}"
        return read

    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        results = list(pool.map(check, zip(source.files, counts)))
    for result in results:
        if isinstance(result, str):
            raise tf.errors.DataLossError(None, None, result)
    return dict(zip(source.files, results))
