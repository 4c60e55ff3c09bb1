"""Hugging Face checkpoint files: read config.json + weights (model.safetensors, a sharded safetensors index, or
transformers' TF tf_model.h5), write config.json + model.safetensors atomically. Nothing family-specific here.

Tensors come back under PyTorch names and layouts, as model.safetensors holds them; a tf_model.h5 is renamed to
the same keys and layouts on reading (as transformers itself does), so one name map serves every format.
"""

import json
import os
import shutil
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

from tfpretrain.errors import UserError

CONFIG = "config.json"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TF_H5 = "tf_model.h5"


def read_config(path):
    """`path`/config.json as a dict; one error when the directory is no checkpoint."""
    file = os.path.join(os.fspath(path), CONFIG)
    if not os.path.isfile(file):
        raise UserError(f"{os.fspath(path)}: no {CONFIG} (expected a Hugging Face checkpoint directory)")
    with open(file) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise UserError(f"{file}: not valid JSON ({e})") from None


def read_tensors(path):
    """-> ({checkpoint key: array in PyTorch layout}, the weights file read), from the first format present."""
    readers = ((SAFETENSORS, load_file), (SAFETENSORS_INDEX, _read_sharded), (TF_H5, _read_h5))
    for name, reader in readers:
        file = os.path.join(os.fspath(path), name)
        if os.path.isfile(file):
            return reader(file), file
    raise UserError(f"{os.fspath(path)}: no weights file (looked for {', '.join(name for name, _ in readers)})")


def _read_sharded(file):
    with open(file) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    return {k: v for shard in shards for k, v in load_file(os.path.join(os.path.dirname(file), shard)).items()}


def _read_h5(file):
    """transformers' TF weights -> PyTorch keys and layouts, renamed as transformers itself does, e.g.
    "tf_bert_model/bert/encoder/layer_._0/attention/self/query/kernel:0" [in, out]
    -> "bert.encoder.layer.0.attention.self.query.weight" [out, in]."""
    import h5py  # only for this format

    text = lambda s: s.decode() if isinstance(s, bytes) else s
    leaves = {"kernel": "weight", "gamma": "weight", "embeddings": "weight", "beta": "bias"}
    tensors = {}
    with h5py.File(file, "r") as h5:
        for layer in h5.attrs["layer_names"]:
            group = h5[text(layer)]
            for name in map(text, group.attrs["weight_names"]):
                array = np.asarray(group[name])
                parts = name.removesuffix(":0").replace("_._", "/").split("/")[1:]  # drop the model's own scope
                parts = [part.split("___")[-1] for part in parts]  # "mlm___cls" -> "cls"
                if parts[-1] == "kernel":
                    array = array.T  # Dense [in, out] -> Linear [out, in]
                if parts[-1] == "bias" and array.ndim == 2:
                    array = array.reshape(-1)  # GPT-2 Conv1D bias [1, N] -> [N]
                parts[-1] = leaves.get(parts[-1], parts[-1])
                tensors.setdefault(".".join(parts), array)  # head groups repeat the tied embedding
    return tensors


def write_checkpoint(path, config, tensors):
    """config.json + model.safetensors, written in a temp dir beside `path`, then renamed into place."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=os.path.dirname(path))
    try:
        save_file(tensors, os.path.join(tmp, SAFETENSORS), metadata={"format": "pt"})
        with open(os.path.join(tmp, CONFIG), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        if not os.path.exists(path):
            os.rename(tmp, path)
        else:  # an existing directory: replace our two files, each atomically
            for name in os.listdir(tmp):
                os.replace(os.path.join(tmp, name), os.path.join(path, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
