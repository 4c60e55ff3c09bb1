"""A prepared corpus as the training reader sees it: shard paths, record counts, format facts and the whole-word table.

    corpus = resolve(manifest_or_pattern, "bert", split="train", sequence_length=128, vocabulary_size=30522)
    corpus.files, corpus.counts, corpus.format, corpus.sequence_length, corpus.special_tokens
    table = whole_word_table(corpus, vocabulary_size)      # bool [>= V] or None (token-level masking)

Every check that can fail before a record is read happens here, each one clear error naming the manifest or the
pattern: the family, sequence length and vocabulary against the model, missing or empty splits, shards listed but
absent, the compression, and a whole-word masking that cannot run as configured.
"""

import functools
import hashlib
import posixpath

import tensorflow as tf

from tfpretrain.data import features as F
from tfpretrain.data import manifest as manifest_lib
from tfpretrain.data.formats import get_format
from tfpretrain.data.manifest import ManifestError
from tfpretrain.data.tokenizer import continuation_table
from tfpretrain.errors import UserError

_GLOB_CHARS = "*?["


class ShardsError(UserError):
    """Shards given by a file pattern that match nothing or cannot be read as the family's records."""


class PreparedCorpus:
    """Resolved input: shard paths, per-shard record counts (None for a glob), the manifest (or None), and the
    format facts the reader needs."""

    def __init__(self, files, counts, manifest, description, compression, sequence_length, special_tokens,
                 corpus_format):
        self.files, self.counts, self.manifest, self.description = files, counts, manifest, description
        self.compression, self.sequence_length, self.special_tokens = compression, sequence_length, special_tokens
        self.format = corpus_format


def is_pattern(path):
    return any(c in path for c in _GLOB_CHARS) or path.endswith((".tfrecord", ".tfrecord.gz", ".gz"))


def resolve(manifest_or_pattern, family, split, sequence_length, vocabulary_size, compression):
    """-> PreparedCorpus, after every check that can fail before a record is read (one clear error each)."""
    corpus_format = get_format(family)
    path = str(manifest_or_pattern)
    gfile = tf.io.gfile
    if not path.endswith(".json") and (is_pattern(path) or (gfile.exists(path) and not gfile.isdir(path))):
        return _resolve_pattern(path, corpus_format, sequence_length, compression)

    manifest = manifest_lib.read_manifest(path)  # ManifestError naming the path when there is none
    where = posixpath.join(manifest["_directory"], manifest_lib.MANIFEST_FILE)
    manifest_lib.check_compatible(
        manifest,
        family=corpus_format.family,
        sequence_length=manifest["sequence_length"] if sequence_length is None else sequence_length,
        vocabulary_size=manifest["vocabulary_size"] if vocabulary_size is None else vocabulary_size,
    )
    files = manifest_lib.shard_paths(manifest, split)  # ManifestError when the split does not exist
    counts = [int(s["records"]) for s in manifest["splits"][split]["shards"]]
    if not files or sum(counts) == 0:
        raise ManifestError(f"{where}: split {split!r} is empty ({len(files)} shards, {sum(counts)} records)")
    # One listing per directory (not one stat per shard: gs:// round trips) shows shards listed but absent.
    listed = {}
    for parent in {posixpath.dirname(f) for f in files}:
        listed[parent] = set(gfile.listdir(parent)) if gfile.isdir(parent) else set()
    missing = [f for f in files if posixpath.basename(f) not in listed[posixpath.dirname(f)]]
    if missing:
        raise ManifestError(
            f"{where}: {len(missing)} of {len(files)} {split!r} shards are missing, e.g. {missing[:3]} "
            "(a copy or `prepare` run that did not finish?)"
        )
    if compression is not None and compression != manifest["compression"]:
        raise ManifestError(f"{where}: compression is {manifest['compression']!r}, not {compression!r}")
    special = dict(manifest["special_tokens"])
    if corpus_format.masked and "mask" not in special:
        raise ManifestError(f"{where}: special_tokens {special} has no 'mask' token, which masking needs")
    return PreparedCorpus(files, counts, manifest, where, manifest["compression"], manifest["sequence_length"],
                          special, corpus_format)


def _resolve_pattern(pattern, corpus_format, sequence_length, compression):
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise ShardsError(f"no files match {pattern!r} (expected TFRecord shards or a manifest directory)")
    if compression is None:
        gzipped = {f.endswith(".gz") for f in files}
        if len(gzipped) > 1:
            raise ShardsError(f"{pattern!r} matches both .gz and plain shards; pass compression= explicitly")
        compression = "GZIP" if gzipped.pop() else ""
    if sequence_length is None:
        sequence_length = _infer_sequence_length(files[0], compression)
    return PreparedCorpus(files, None, None, repr(pattern), compression, sequence_length,
                          dict(corpus_format.default_special_ids), corpus_format)


def _infer_sequence_length(path, compression):
    """Length of token_ids in the first record of `path` (a glob has no manifest to say it)."""
    for record in tf.data.TFRecordDataset(path, compression_type=compression).take(1):
        example = tf.train.Example.FromString(record.numpy())
        return len(example.features.feature[F.TOKEN_IDS].int64_list.value)
    raise ShardsError(f"{path}: no records to infer sequence_length from; pass sequence_length=")


# -- whole-word masking ------------------------------------------------------------------------------------------
_TURN_OFF = "or turn whole-word masking off (data.whole_word_masking: false; make_dataset(whole_word_masking=False))"


def whole_word_table(corpus, vocabulary_size, *, whole_word_masking=True, table=None):
    """bool list [>= vocabulary_size]: True for pieces that continue a word; None for token-level masking.

    None when the format is not masked, has no word-continuation pieces, or whole_word_masking is off. Otherwise
    `table` (bool [V]) or the tokenizer.json named by the manifest; when neither can be had, or the tokenizer
    file is not the one the corpus was made with (sha256), a UserError names the file and the fix: whole-word
    masking never silently becomes token masking.
    """
    fmt = corpus.format
    if not (fmt.masked and fmt.continuation_prefix and whole_word_masking):
        return None
    if table is None:
        if corpus.manifest is None:
            raise ShardsError(f"{corpus.description}: whole-word masking needs the tokenizer's word pieces, and a "
                              f"file pattern names no tokenizer: read the manifest directory, pass "
                              f"continuation_table=, {_TURN_OFF}")
        info = corpus.manifest["tokenizer"]
        path = posixpath.join(corpus.manifest["_directory"], info.get("file", "tokenizer.json"))
        table = _load_table(path, info.get("sha256"), fmt.continuation_prefix)
    table = [bool(x) for x in table]
    return table + [False] * max(0, vocabulary_size - len(table))  # ids past the tokenizer are never "##"


def _load_table(path, sha256, prefix):
    """tokenizer.json (local or gs://) -> tuple of bool, True for continuation pieces."""
    if not tf.io.gfile.exists(path):
        raise ManifestError(f"{path}: not found; whole-word masking needs the tokenizer the corpus was prepared "
                            f"with: copy it back beside manifest.json, {_TURN_OFF}")
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise ManifestError(f"{path}: its sha256 differs from the manifest's: it is not the tokenizer the corpus "
                            f"was prepared with; restore that file (or re-run `tfpretrain prepare`), {_TURN_OFF}")
    return _table_from_json(data, prefix)


@functools.lru_cache(maxsize=4)
def _table_from_json(data, prefix):
    from tokenizers import Tokenizer

    return tuple(continuation_table(Tokenizer.from_str(data.decode("utf-8")), prefix))
