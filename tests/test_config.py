"""Strict config loading: presets, round trips, and one clear error naming key and file for each mistake."""

import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Literal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpretrain.config import (
    ACTIVATIONS,
    MODELS_DIR,
    BertConfig,
    ConfigError,
    GPT2Config,
    apply_overrides,
    check_sequence_length,
    dump_yaml,
    load_dataclass,
    load_model_config,
    load_yaml,
)


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_preset_loads_and_round_trips(path, tmp_path):
    config = load_model_config(path)
    assert config.family == path.stem.split("_")[0]
    dump_yaml(config, tmp_path / "resolved.yaml")
    assert load_model_config(tmp_path / "resolved.yaml") == config
    assert load_model_config(path.stem) == config  # by preset name
    assert [p.name for p in tmp_path.iterdir()] == ["resolved.yaml"]  # no temp file left behind


def test_config_module_does_not_import_tensorflow():
    code = "import sys, tfpretrain.config; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent).returncode == 0


def _write(tmp_path, model, family="bert"):
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({"family": family, "model": model}))
    return path


TINY = dict(vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32)


@pytest.mark.parametrize(
    "change, key, message",
    [
        ({"num_layer": 2}, "model.num_layer", "did you mean 'num_layers'"),
        ({"num_layers": "two"}, "model.num_layers", "expected int, got 'two'"),
        ({"num_layers": True}, "model.num_layers", "expected int, got True"),
        ({"dropout": "high"}, "model.dropout", "expected float"),
        ({"num_heads": 3}, "model.num_heads", "3 does not divide hidden_dim=16"),
        ({"dropout": 1.5}, "model.dropout", "must be in [0, 1)"),
        ({"activation": "swish"}, "model.activation", "is not one of"),
        ({"hidden_dim": 0}, "model.hidden_dim", "positive integer"),
        ({"layer_norm_epsilon": 0}, "model.layer_norm_epsilon", "must be positive"),
    ],
)
def test_bad_model_files_name_the_key_and_file(change, key, message, tmp_path):
    path = _write(tmp_path, {**TINY, **change})
    with pytest.raises(ConfigError) as error:
        load_model_config(path)
    assert str(error.value).startswith(f"{path}: {key}: ") and message in str(error.value)
    assert (error.value.source, error.value.key) == (str(path), key)


def test_missing_key_unknown_family_and_unknown_preset(tmp_path):
    with pytest.raises(ConfigError, match="model.vocabulary_size: required key is missing"):
        load_model_config(_write(tmp_path, {k: v for k, v in TINY.items() if k != "vocabulary_size"}))
    with pytest.raises(ConfigError, match="family: 't5' is not one of"):
        load_model_config(_write(tmp_path, TINY, family="t5"))
    with pytest.raises(ConfigError, match="available: .*bert_tiny"):
        load_model_config("bert_enormous")


def test_invalid_yaml_or_non_mapping_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("family: bert\nmodel: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{path}: invalid YAML"):
        load_model_config(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match=f"{path}: the top level must be a mapping"):
        load_yaml(path)


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("family: gpt2\nmodel: {vocabulary_size: 10, num_layers: 1, num_heads: 1, hidden_dim: 4, "
                    "intermediate_dim: 8, layer_norm_epsilon: 1e-6, dropout: 0}\n")
    config = load_model_config(path)
    assert config.layer_norm_epsilon == 1e-6 and config.dropout == 0.0 and type(config.dropout) is float


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


def test_overrides_on_a_preset_are_validated():
    assert load_model_config("bert_tiny", ["model.num_layers=4"]).num_layers == 4
    with pytest.raises(ConfigError, match=r"bert_tiny.yaml: model.num_layers: expected int, got True"):
        load_model_config("bert_tiny", ["model.num_layers=true"])


def test_sequence_length_above_max_positions_names_the_key():
    config = load_model_config("bert_tiny")
    check_sequence_length(config, 128, "exp.yaml")
    with pytest.raises(ConfigError, match="exp.yaml: data.sequence_length: 256 exceeds .*=128"):
        check_sequence_length(config, 256, "exp.yaml")


@settings(max_examples=40, deadline=None)
@given(
    cls=st.sampled_from([BertConfig, GPT2Config]),
    heads=st.integers(1, 8),
    head_dim=st.integers(1, 16),
    layers=st.integers(1, 4),
    vocab=st.integers(1, 60000),
    max_len=st.integers(1, 4096),
    dropout=st.floats(0, 0.99),
    epsilon=st.floats(1e-14, 1e-3),
    activation=st.sampled_from(ACTIVATIONS),
)
def test_valid_configs_round_trip(cls, heads, head_dim, layers, vocab, max_len, dropout, epsilon, activation):
    config = cls(
        vocabulary_size=vocab,
        num_layers=layers,
        num_heads=heads,
        hidden_dim=heads * head_dim,
        intermediate_dim=4 * heads * head_dim,
        max_sequence_length=max_len,
        dropout=dropout,
        layer_norm_epsilon=epsilon,
        activation=activation,
    )
    assert load_dataclass(cls, config.to_kwargs()) == config
    with tempfile.TemporaryDirectory() as tmp:
        dump_yaml(config, Path(tmp) / "model.yaml")
        assert load_model_config(Path(tmp) / "model.yaml") == config
