"""The vocabulary of the per-family name maps (checkpoints/hf/bert.py, gpt2.py) and the two loops that apply them.

An entry is (our attribute path, checkpoint key or (q, k, v) keys, conversion):
  * our side: an attribute path from the backbone or task, e.g. "transformer_layer_0.attention.qkv_dense.kernel"
    (Keras variable names repeat inside a block: "transformer_layer_0/kernel:0" appears four times);
  * checkpoint side: PyTorch names without the base-model prefix ("bert." / "transformer."), e.g.
    "encoder.layer.0.attention.self.query.weight";
  * conversion: SAME (identical layout), T (PyTorch Linear [out, in] <-> our Dense kernel [in, out]), ROWS
    (vocabulary rows: the checkpoint may have fewer rows than ours; the extra rows keep their initialisation).
An entry with three checkpoint keys is concatenated on the last axis (BERT's q | k | v -> our fused qkv) and split
when saving.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tfpretrain.errors import UserError

SAME, T, ROWS = "same", "transpose", "rows"


def dense(ours, theirs, kernel=T):
    """kernel=T: a PyTorch Linear [out, in]; SAME: GPT-2's Conv1D, already [in, out]."""
    return [(f"{ours}.kernel", f"{theirs}.weight", kernel), (f"{ours}.bias", f"{theirs}.bias", SAME)]


def norm(ours, theirs):  # LayerNorm [H]
    return [(f"{ours}.gamma", f"{theirs}.weight", SAME), (f"{ours}.beta", f"{theirs}.bias", SAME)]


def keys(entry_keys):
    return entry_keys if isinstance(entry_keys, tuple) else (entry_keys,)


@dataclasses.dataclass(frozen=True)
class Head:
    """A task head as a checkpoint holds it, and how to name it when it is missing:
    "<path>: no MLM head (cls.predictions.*) in the checkpoint; CrowS-Pairs needs a masked-LM head (a ...)"."""

    name: str  # what callers require: "mlm", "nsp", "lm", "classifier"
    title: str  # "MLM head"
    pattern: str  # its checkpoint keys, for the message: "cls.predictions.*"
    kind: str  # "a masked-LM head"
    checkpoints: str  # which checkpoints have it: "a BertForPreTraining / BertForMaskedLM checkpoint"
    entries: tuple = ()  # the weight entries it loads (none for a head tied to the embedding)
    # (config.json, tensors, weights file) -> whether the checkpoint has the head; default: any of its keys
    present: Callable[[Mapping, Mapping, str], bool] | None = None

    def found(self, config, tensors, file):
        if self.present is not None:
            return self.present(config, tensors, file)
        return any(key in tensors for _, entry_keys, _ in self.entries for key in keys(entry_keys))


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """How a task class is saved and loaded: its HF architecture, its heads, extra config.json keys."""

    architecture: str  # e.g. "BertForPreTraining"
    heads: tuple[Head, ...] = ()
    extra_config: Callable[[Any], dict] = lambda task: {}


def variable(root, path):
    first, *rest = path.split(".")
    obj = root.get_layer(first)
    for name in rest:
        obj = getattr(obj, name)
    return obj


def _to_checkpoint(value, conversion, parts):
    """Our array -> the checkpoint array(s) of an entry."""
    arrays = np.split(value, parts, axis=-1) if parts > 1 else [value]
    return [a.T if conversion == T else a for a in arrays]


def _from_checkpoint(arrays, conversion):
    arrays = [a.T if conversion == T else a for a in arrays]
    return np.concatenate(arrays, axis=-1) if len(arrays) > 1 else arrays[0]


def load_entries(root, entries, tensors, file):
    """Assign each entry's checkpoint tensor(s) to our variable; missing or mis-shaped tensors name the key."""
    for ours, entry_keys, conversion in entries:
        target = variable(root, ours)
        expected = _to_checkpoint(np.empty(target.shape, np.float32), conversion, len(keys(entry_keys)))
        arrays = []
        for key, want in zip(keys(entry_keys), expected):
            if key not in tensors:
                raise UserError(f"{file}: missing tensor {key!r} (expected shape {want.shape}, for {ours})")
            got = tensors[key]
            grows = conversion == ROWS and got.shape[1:] == want.shape[1:]
            if grows and got.shape[0] > want.shape[0]:
                raise UserError(
                    f"vocabulary_size={want.shape[0]} is smaller than the {got.shape[0]} rows of {key!r} in {file}; "
                    "it must be at least the checkpoint's vocabulary size"
                )
            if got.shape != want.shape and not grows:
                raise UserError(f"{file}: tensor {key!r} has shape {got.shape}, expected {want.shape} (for {ours})")
            arrays.append(got)
        value = _from_checkpoint(arrays, conversion)
        if conversion == ROWS and value.shape[0] < target.shape[0]:  # new vocabulary rows keep their init
            value = np.concatenate([value, target.numpy()[value.shape[0] :]])
        target.assign(value.astype(target.dtype.as_numpy_dtype))


def collect(root, entries, prefix=""):
    """Our variables -> {checkpoint key: array in PyTorch layout} for `entries`."""
    tensors = {}
    for ours, entry_keys, conversion in entries:
        arrays = _to_checkpoint(variable(root, ours).numpy(), conversion, len(keys(entry_keys)))
        tensors.update({prefix + key: np.ascontiguousarray(a) for key, a in zip(keys(entry_keys), arrays)})
    return tensors
