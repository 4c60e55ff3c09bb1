"""manifest.json: the contract between a prepared corpus and the model that trains on it.

Written last by `prepare` (so a directory with a manifest is complete), read and validated by the reader
before a single step runs. Paths may be local or gs:// (tf.io.gfile).
"""

import json
import posixpath

from tfpretrain.atomic import write_text
from tfpretrain.data.formats import FAMILIES
from tfpretrain.errors import UserError

MANIFEST_FILE = "manifest.json"
# 2: the model family is "family" (version 1 called it "task"; read_manifest still reads it).
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
REQUIRED_KEYS = (
    "format_version",
    "family",
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
    if not isinstance(manifest, dict):
        raise ManifestError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    version = manifest.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ManifestError(f"{path}: format_version {version}, this reader reads {READABLE_VERSIONS}")
    if version == 1 and "task" in manifest:  # version 1 named the family "task"
        manifest["family"] = manifest.pop("task")
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ManifestError(f"{path}: missing keys {missing}")
    if manifest["family"] not in FAMILIES:
        raise ManifestError(f"{path}: family {manifest['family']!r} is not one of {FAMILIES}")
    manifest["_directory"] = posixpath.dirname(path)
    return manifest


def shard_paths(manifest, split="train"):
    """Absolute paths of a split's shards, in index order."""
    splits = manifest["splits"]
    if split not in splits:
        raise ManifestError(f"{manifest['_directory']}: no split {split!r}; it has {sorted(splits)}")
    return [posixpath.join(manifest["_directory"], s["file"]) for s in splits[split]["shards"]]


def check_compatible(manifest, *, family, sequence_length, vocabulary_size):
    """One clear error when the prepared data cannot feed the model: family, length or vocabulary mismatch."""
    where = manifest.get("_directory", "manifest")
    problems = []
    if manifest["family"] != family:
        problems.append(f"the corpus is prepared for {manifest['family']!r} but the model is {family!r}")
    if manifest["sequence_length"] != sequence_length:
        problems.append(f"sequence_length is {manifest['sequence_length']} but the model reads {sequence_length}")
    if manifest["vocabulary_size"] > vocabulary_size:
        problems.append(
            f"vocabulary_size is {manifest['vocabulary_size']} but the model embeds only {vocabulary_size}"
        )
    if problems:
        raise ManifestError(f"{where}/{MANIFEST_FILE}: " + "; ".join(problems))
