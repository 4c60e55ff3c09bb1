"""Checkpoint files: sharded safetensors read as one, atomic writes, and each converter's config map covering its
family's config fields."""

import dataclasses
import json
import os

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tests.support import factories
from tfpretrain.checkpoints.hf import io
from tfpretrain.errors import UserError
from tfpretrain.models import families
from tfpretrain.models.bert.bert_backbone import BertBackbone


def test_sharded_safetensors_load_like_one_file(tmp_path):
    backbone = factories.bert_backbone()
    backbone.save_pretrained(tmp_path / "single")
    tensors = load_file(str(tmp_path / "single" / "model.safetensors"))
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    (sharded / "config.json").write_text((tmp_path / "single" / "config.json").read_text())
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, str(sharded / shard))
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    read, file = io.read_tensors(sharded)
    assert file == str(sharded / "model.safetensors.index.json") and sorted(read) == names
    reloaded = BertBackbone.from_pretrained(sharded)
    for ours, theirs in zip(backbone.weights, reloaded.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_write_checkpoint_replaces_files_atomically(tmp_path):
    target = tmp_path / "final"
    io.write_checkpoint(target, {"a": 1}, {"x": np.zeros((2, 3), np.float32)})
    (target / "tokenizer.json").write_text("{}")  # a file of someone else's stays
    io.write_checkpoint(target, {"a": 2}, {"x": np.ones((2, 3), np.float32)})
    assert sorted(os.listdir(target)) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert json.loads((target / "config.json").read_text()) == {"a": 2}
    np.testing.assert_array_equal(load_file(str(target / "model.safetensors"))["x"], np.ones((2, 3)))
    assert sorted(os.listdir(tmp_path)) == ["final"]  # no temp directory left behind


def test_unreadable_directories_name_the_problem(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        io.read_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match=r"config.json: not valid JSON"):
        io.read_config(tmp_path)
    with pytest.raises(UserError, match=r"no weights file \(looked for model.safetensors, "
                                        r"model.safetensors.index.json, tf_model.h5\)"):
        io.read_tensors(tmp_path)


@pytest.mark.parametrize("name", sorted(families.FAMILIES))
def test_config_map_covers_every_config_field(name):
    family = families.get(name)
    mapped = [ours for ours, _, _ in family.converter.config_map]
    assert mapped == [f.name for f in dataclasses.fields(family.config_class)]
