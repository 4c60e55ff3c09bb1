"""The generic strict config loader: dataclasses from YAML, overrides, and one clear error naming key and file."""

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest

from tfpretrain.config import ConfigError, apply_overrides, dump_yaml, load_dataclass, load_yaml
from tfpretrain.models.bert.config import BertConfig


def test_config_module_does_not_import_tensorflow():
    code = "import sys, tfpretrain.config; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent).returncode == 0


TINY = dict(vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32)


def test_invalid_yaml_or_non_mapping_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("family: bert\nmodel: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{path}: invalid YAML"):
        load_yaml(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match=f"{path}: the top level must be a mapping"):
        load_yaml(path)


@dataclasses.dataclass(frozen=True)
class _Optim:
    name: Literal["adamw", "lamb"] = "adamw"
    betas: tuple[float, float] = (0.9, 0.999)


@dataclasses.dataclass(frozen=True)
class _Experiment:
    model: BertConfig
    steps: int
    tags: list[str] = dataclasses.field(default_factory=list)
    warmup: int | None = None
    optimizer: _Optim = _Optim()


def test_generic_loader_handles_nesting_optional_tuple_list_literal():
    raw = {"model": TINY, "steps": 5, "tags": ["a"], "warmup": None, "optimizer": {"name": "lamb", "betas": [1, 0.9]}}
    exp = load_dataclass(_Experiment, raw, "exp.yaml")
    assert exp.model == BertConfig(**TINY) and exp.optimizer == _Optim("lamb", (1.0, 0.9)) and exp.tags == ["a"]
    bad = [
        ({"steps": 1.5}, "exp.yaml: steps: expected int, got 1.5"),
        ({"warmup": "x"}, "exp.yaml: warmup: expected int, got 'x'"),
        ({"tags": [1]}, "exp.yaml: tags[0]: expected str, got 1"),
        ({"optimizer": {"name": "sgd"}}, "exp.yaml: optimizer.name: expected one of ['adamw', 'lamb'], got 'sgd'"),
        ({"optimizer": {"betas": [0.9]}}, "exp.yaml: optimizer.betas: expected 2 items"),
        ({"model": {**TINY, "num_heads": 3}}, "exp.yaml: model.num_heads: 3 does not divide"),
        ({"model": {**TINY, "hiden_dim": 8}}, "exp.yaml: model.hiden_dim: unknown key; did you mean 'hidden_dim'?"),
    ]
    for change, message in bad:
        with pytest.raises(ConfigError) as error:
            load_dataclass(_Experiment, {**raw, **change}, "exp.yaml")
        assert str(error.value).startswith(message), str(error.value)


def test_overrides_parse_values_and_reject_unknown_keys():
    data = {"model": {"num_layers": 2, "tags": []}, "trainer": {"train_steps": 10}}
    out = apply_overrides(data, ["model.num_layers=4", "trainer.train_steps=1000", "model.tags=[1, 2]"])
    assert out == {"model": {"num_layers": 4, "tags": [1, 2]}, "trainer": {"train_steps": 1000}}
    assert data["model"] == {"num_layers": 2, "tags": []}  # input untouched
    with pytest.raises(ConfigError, match="trainer.steps: unknown key"):
        apply_overrides(data, ["trainer.steps=5"])
    with pytest.raises(ConfigError, match="must look like key.path=value"):
        apply_overrides(data, ["model.num_layers"])


def test_dump_yaml_writes_dataclasses_and_mappings_atomically(tmp_path):
    config = _Experiment(model=BertConfig(**TINY), steps=3, tags=["x"])
    dump_yaml(config, tmp_path / "exp.yaml")
    assert load_dataclass(_Experiment, load_yaml(tmp_path / "exp.yaml"), "exp.yaml") == config
    dump_yaml({"b": 1, "a": [2]}, tmp_path / "plain.yaml")
    assert (tmp_path / "plain.yaml").read_text() == "b: 1\na:\n- 2\n"  # key order kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.yaml", "plain.yaml"]  # no temp file left behind
