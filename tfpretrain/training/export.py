"""Export fine-tuned classifiers: a SavedModel for TF Serving / TFMA, and a Hugging Face checkpoint directory.

    export_classifier(model, "export/toxicity/1", sequence_length=128)   # TF Serving wants numbered versions
    info = load_export_info("export/toxicity/1")                        # {"prediction_key": "score", ...}
    export_hf(model, "hf/toxicity", tokenizer_path="vocab.txt")

The SavedModel holds only the model's variables and two traced signatures, no Keras objects: it loads with plain
TensorFlow (`tf.saved_model.load`), as TF Serving and TFMA load it, without tfpretrain or tf-keras installed.

- `serving_default`: `examples` tf.string [B] serialized tf.Example with token_ids / segment_ids / padding_mask
  int64 [S] (segment_ids default to 0, padding_mask to token_ids != pad_id) -> outputs below.
- `token_ids`: the model's own inputs, int32 [B, S] each -> outputs below.
- Outputs: `score` float32 [B] (probability of class 1: sigmoid of the single logit, or softmax[:, 1]),
  `probabilities` float32 [B, max(2, C)], `logits` float32 [B, C]. `score` is the prediction_key for TFMA.
"""

from __future__ import annotations

import json
import numbers
import os
import posixpath
import uuid
from collections.abc import Mapping
from typing import Any

from tfpretrain.data import features as F
from tfpretrain.data.tokenizer import load_tokenizer
from tfpretrain.errors import UserError
from tfpretrain.runs import RunDir

EXPORT_INFO = "tfpretrain_export.json"
PREDICTION_KEY = "score"
EXAMPLES_SIGNATURE = "serving_default"
TOKENS_SIGNATURE = "token_ids"
SIGNATURES = (EXAMPLES_SIGNATURE, TOKENS_SIGNATURE)
_INFO_KEYS = ("sequence_length", "num_classes", "prediction_key", "label_key", "signatures")


class ExportError(UserError):
    """A model, export directory or export info file that cannot be exported / read."""


def _num_classes(model) -> int:
    num_classes = getattr(model, "num_classes", None)
    if num_classes is None:
        num_classes = model.output_shape[-1]
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ExportError(f"cannot tell the number of classes of {model.name} (output shape {model.output_shape})")
    return num_classes


def _input_keys(model) -> tuple[str, ...]:
    keys = tuple(getattr(model, "input_names", None) or ())
    unknown = [k for k in keys if k not in F.BERT_INPUTS]
    if not keys or unknown or F.TOKEN_IDS not in keys:
        raise ExportError(f"{model.name}: inputs {list(keys)} are not token inputs from {list(F.BERT_INPUTS)}")
    return tuple(k for k in F.BERT_INPUTS if k in keys)


def _outputs(logits, num_classes: int) -> dict[str, Any]:
    """logits [B, C] -> {score [B], probabilities [B, max(2, C)], logits [B, C]}, all float32."""
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    if num_classes == 1:
        score = tf.sigmoid(logits[:, 0])  # [B]
        probabilities = tf.stack([1.0 - score, score], axis=-1)  # [B, 2]
    else:
        probabilities = tf.nn.softmax(logits, axis=-1)  # [B, C]
        score = probabilities[:, 1]  # [B]
    return {PREDICTION_KEY: score, "probabilities": probabilities, "logits": logits}


def _serving_module(model, sequence_length: int, pad_id: int):
    """A tf.Module tracking the model's variables, with the two signature functions traced over `model`."""
    import tensorflow as tf

    num_classes = _num_classes(model)
    keys = _input_keys(model)
    length = int(sequence_length)

    def predict(inputs):  # {key: int32 [B, S]} -> outputs
        return _outputs(model({k: inputs[k] for k in keys}, training=False), num_classes)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(examples):
        absent = [-1] * length  # marks a padding_mask missing from an example
        spec = {
            F.TOKEN_IDS: tf.io.FixedLenFeature([length], tf.int64),
            F.SEGMENT_IDS: tf.io.FixedLenFeature([length], tf.int64, default_value=[0] * length),
            F.PADDING_MASK: tf.io.FixedLenFeature([length], tf.int64, default_value=absent),
        }
        parsed = tf.io.parse_example(examples, spec)  # int64 [B, S] each
        token_ids = tf.cast(parsed[F.TOKEN_IDS], tf.int32)  # [B, S]
        from_ids = tf.cast(tf.not_equal(token_ids, pad_id), tf.int32)  # [B, S]
        stored = tf.cast(parsed[F.PADDING_MASK], tf.int32)  # [B, S]
        missing = tf.reduce_all(tf.equal(stored, -1), axis=-1, keepdims=True)  # [B, 1]
        inputs = {
            F.TOKEN_IDS: token_ids,
            F.SEGMENT_IDS: tf.cast(parsed[F.SEGMENT_IDS], tf.int32),
            F.PADDING_MASK: tf.where(missing, from_ids, stored),
        }
        return predict(inputs)

    @tf.function(input_signature=[{k: tf.TensorSpec([None, length], tf.int32, name=k) for k in keys}])
    def serve_tokens(inputs):
        return predict(inputs)

    module = tf.Module(name="tfpretrain_classifier")
    module.model_variables = list(model.variables)  # tracked, so the traced functions' captures are saved
    signatures = {
        EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
        TOKENS_SIGNATURE: serve_tokens.get_concrete_function(),
    }
    return module, signatures, num_classes, keys


def _is_empty_dir(path: str) -> bool:
    import tensorflow as tf

    return tf.io.gfile.isdir(path) and not tf.io.gfile.listdir(path)


def _write_json(path: str, payload: Mapping[str, Any]) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def export_classifier(
    model,
    export_dir: str | os.PathLike,
    sequence_length: int,
    *,
    label_key: str = "label",
    overwrite: bool = False,
    pad_id: int = 0,
) -> str:
    """Write a classifier as a SavedModel (signatures in the module docstring) plus `tfpretrain_export.json`.

    The export is written into a temporary sibling directory and renamed into place, so `export_dir` is either
    complete or absent (on gs:// the rename copies object by object). A non-empty `export_dir` is refused unless
    `overwrite`. `label_key` is recorded for the evaluation (the tf.Example label feature). Returns export_dir.
    """
    import tensorflow as tf

    export_dir = os.fspath(export_dir).rstrip("/")
    if not isinstance(sequence_length, numbers.Integral) or isinstance(sequence_length, bool) or sequence_length < 2:
        raise ExportError(f"sequence_length must be an int >= 2, got {sequence_length!r}")
    sequence_length = int(sequence_length)
    limit = getattr(getattr(model, "backbone", None), "max_sequence_length", None)
    if limit is not None and sequence_length > limit:
        raise ExportError(f"sequence_length {sequence_length} exceeds the model's max_sequence_length {limit}")
    if tf.io.gfile.exists(export_dir) and not _is_empty_dir(export_dir) and not overwrite:
        raise ExportError(f"{export_dir} exists and is not empty; pass overwrite=True to replace it")

    module, signatures, num_classes, keys = _serving_module(model, sequence_length, pad_id)
    parent, name = posixpath.split(export_dir)
    parent = parent or "."
    tf.io.gfile.makedirs(parent)
    tmp = posixpath.join(parent, f".{name}.tmp-{uuid.uuid4().hex}")
    info = {
        "sequence_length": sequence_length,
        "num_classes": num_classes,
        "prediction_key": PREDICTION_KEY,
        "label_key": label_key,
        "signatures": list(SIGNATURES),
        "inputs": list(keys),
        "pad_id": pad_id,
    }
    try:
        tf.saved_model.save(module, tmp, signatures=signatures)
        _write_json(posixpath.join(tmp, EXPORT_INFO), info)
        _move_into_place(tmp, export_dir)
    finally:
        if tf.io.gfile.exists(tmp):
            tf.io.gfile.rmtree(tmp)
    return export_dir


def _move_into_place(tmp: str, export_dir: str) -> None:
    """Rename `tmp` to `export_dir`, replacing an existing directory only once the new one is complete."""
    import tensorflow as tf

    if not tf.io.gfile.exists(export_dir):
        tf.io.gfile.rename(tmp, export_dir)
        return
    if _is_empty_dir(export_dir):
        tf.io.gfile.rmtree(export_dir)
        tf.io.gfile.rename(tmp, export_dir)
        return
    parent, name = posixpath.split(export_dir)
    old = posixpath.join(parent or ".", f".{name}.old-{uuid.uuid4().hex}")
    tf.io.gfile.rename(export_dir, old)
    try:
        tf.io.gfile.rename(tmp, export_dir)
    except BaseException:
        tf.io.gfile.rename(old, export_dir)
        raise
    tf.io.gfile.rmtree(old)


def load_export_info(export_dir: str | os.PathLike) -> dict[str, Any]:
    """The `tfpretrain_export.json` of an export: sequence_length, num_classes, prediction_key, label_key, ..."""
    import tensorflow as tf

    path = posixpath.join(os.fspath(export_dir), EXPORT_INFO)
    if not tf.io.gfile.exists(path):
        raise ExportError(f"{path} does not exist: {export_dir} is not a tfpretrain export")
    with tf.io.gfile.GFile(path) as f:
        try:
            info = json.load(f)
        except json.JSONDecodeError as e:
            raise ExportError(f"{path}: not valid JSON ({e.msg})") from None
    missing = [k for k in _INFO_KEYS if not isinstance(info, dict) or k not in info]
    if missing:
        raise ExportError(f"{path}: missing key(s) {missing}")
    return info


def export_hf(model, out_dir: str | os.PathLike, tokenizer_path: str | os.PathLike | None = None) -> str:
    """Write a transformers checkpoint (config.json + model.safetensors) and, if given, the tokenizer.

    The tokenizer file is copied as `vocab.txt` (a WordPiece vocabulary) or `tokenizer.json`, together with any
    `tokenizer_config.json` / `special_tokens_map.json` beside it, so `AutoTokenizer.from_pretrained(out_dir)` works.
    `out_dir` is local (save_pretrained writes with os); the tokenizer may be read from gs://.
    """
    import tensorflow as tf


    out_dir = os.fspath(out_dir)
    source = None if tokenizer_path is None else os.fspath(tokenizer_path)
    if source is not None:
        if not source.endswith((".txt", ".json")):
            raise ExportError(f"tokenizer file {source}: expected a vocab.txt or a tokenizer.json")
        try:
            load_tokenizer(source)  # fail before writing anything on a missing or malformed file
        except (OSError, ValueError) as e:
            raise ExportError(f"tokenizer file {source}: {e}") from None
    model.save_pretrained(out_dir)
    if source is not None:
        target = RunDir.VOCAB if source.endswith(".txt") else RunDir.TOKENIZER
        tf.io.gfile.copy(source, posixpath.join(out_dir, target), overwrite=True)
        folder = posixpath.dirname(source)
        for extra in ("tokenizer_config.json", "special_tokens_map.json"):
            path = posixpath.join(folder, extra)
            if folder and tf.io.gfile.exists(path):
                tf.io.gfile.copy(path, posixpath.join(out_dir, extra), overwrite=True)
    return out_dir
