"""manifest.json: the contract between a prepared corpus and the model that trains on it.

Written last by `prepare` (so a directory with a manifest is complete), read and validated by the reader
before a single step runs. Paths may be local or gs:// (tf.io.gfile).
"""

import json
import posixpath

from tfpretrain.data import features as F
from tfpretrain.errors import UserError

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
REQUIRED_KEYS = (
    "format_version",
    "task",
    "sequence_length",
    "vocabulary_size",
    "special_tokens",
    "tokenizer",
    "compression",
    "splits",
)


class ManifestError(UserError):
    """A manifest that is missing, unreadable, or does not fit the model asked to train on it."""


def shard_name(split, index, count, compression=""):
    """'train-00003-of-00128.tfrecord' (+ '.gz' when GZIP-compressed)."""
    suffix = ".tfrecord.gz" if compression == "GZIP" else ".tfrecord"
    return f"{split}-{index:05d}-of-{count:05d}{suffix}"


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def write_manifest(directory, manifest):
    """Write DIR/manifest.json atomically (temp name, then rename): readers never see half a manifest."""
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ManifestError(f"manifest for {directory} lacks keys {missing}")
    from tfpretrain.atomic import write_text

    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return write_text(posixpath.join(str(directory), MANIFEST_FILE), text)


def read_manifest(path_or_directory):
    """Load and check a manifest (a manifest.json path or the directory holding one)."""
    gfile = _gfile()
    path = str(path_or_directory)
    if not path.endswith(".json"):
        path = posixpath.join(path, MANIFEST_FILE)
    if not gfile.exists(path):
        raise ManifestError(f"{path}: no manifest; run `tfpretrain prepare` first (a killed run writes none)")
    try:
        with gfile.GFile(path) as f:
            manifest = json.loads(f.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: not valid JSON ({e})") from None
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ManifestError(f"{path}: missing keys {missing}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise ManifestError(f"{path}: format_version {manifest['format_version']}, this reader reads {FORMAT_VERSION}")
    if manifest["task"] not in F.TASKS:
        raise ManifestError(f"{path}: task {manifest['task']!r} is not one of {F.TASKS}")
    manifest["_directory"] = posixpath.dirname(path)
    return manifest


def shard_paths(manifest, split="train"):
    """Absolute paths of a split's shards, in index order."""
    splits = manifest["splits"]
    if split not in splits:
        raise ManifestError(f"{manifest['_directory']}: no split {split!r}; it has {sorted(splits)}")
    return [posixpath.join(manifest["_directory"], s["file"]) for s in splits[split]["shards"]]


def check_compatible(manifest, *, task, sequence_length, vocabulary_size):
    """One clear error when the prepared data cannot feed the model: task, length or vocabulary mismatch."""
    where = manifest.get("_directory", "manifest")
    problems = []
    if manifest["task"] != task:
        problems.append(f"task is {manifest['task']!r} but the model is {task!r}")
    if manifest["sequence_length"] != sequence_length:
        problems.append(f"sequence_length is {manifest['sequence_length']} but the model reads {sequence_length}")
    if manifest["vocabulary_size"] > vocabulary_size:
        problems.append(
            f"vocabulary_size is {manifest['vocabulary_size']} but the model embeds only {vocabulary_size}"
        )
    if problems:
        raise ManifestError(f"{where}/{MANIFEST_FILE}: " + "; ".join(problems))
