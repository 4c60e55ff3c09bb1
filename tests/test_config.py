"""Strict config loading: presets, round trips, and one clear error naming key and file for each mistake."""

import dataclasses

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpretrain.config import (
    MODELS_DIR,
    BertConfig,
    ConfigError,
    GPT2Config,
    apply_overrides,
    check_sequence_length,
    dump_yaml,
    load_dataclass,
    load_model_config,
)


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_preset_loads_and_round_trips(path, tmp_path):
    config = load_model_config(path)
    assert config.family == path.stem.split("_")[0]
    dump_yaml(config, tmp_path / "resolved.yaml")
    assert load_model_config(tmp_path / "resolved.yaml") == config
    assert load_model_config(path.stem) == config  # by preset name


def _write(tmp_path, model, family="bert"):
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({"family": family, "model": model}))
    return path


TINY = dict(vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32)


@pytest.mark.parametrize(
    "change, key, message",
    [
        ({"num_layer": 2}, "model.num_layer", "did you mean 'num_layers'"),
        ({"num_layers": "two"}, "model.num_layers", "expected int"),
        ({"num_layers": True}, "model.num_layers", "expected int"),
        ({"num_heads": 3}, "model.num_heads", "3 does not divide hidden_dim=16"),
        ({"dropout": 1.5}, "model.dropout", "must be in [0, 1)"),
        ({"activation": "swish"}, "model.activation", "is not one of"),
        ({"hidden_dim": 0}, "model.hidden_dim", "positive integer"),
    ],
)
def test_bad_model_files_name_the_key_and_file(change, key, message, tmp_path):
    path = _write(tmp_path, {**TINY, **change})
    with pytest.raises(ConfigError) as error:
        load_model_config(path)
    assert str(error.value).startswith(f"{path}: {key}: ") and message in str(error.value)


def test_missing_key_unknown_family_and_unknown_preset(tmp_path):
    with pytest.raises(ConfigError, match="model.vocabulary_size: required key is missing"):
        load_model_config(_write(tmp_path, {k: v for k, v in TINY.items() if k != "vocabulary_size"}))
    with pytest.raises(ConfigError, match="family: 't5' is not one of"):
        load_model_config(_write(tmp_path, TINY, family="t5"))
    with pytest.raises(ConfigError, match="available: .*bert_tiny"):
        load_model_config("bert_enormous")


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("family: bert\nmodel: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{path}: invalid YAML"):
        load_model_config(path)


def test_overrides_parse_values_and_reject_unknown_keys():
    data = {"model": {"num_layers": 2}, "trainer": {"train_steps": 10}}
    out = apply_overrides(data, ["model.num_layers=4", "trainer.train_steps=1000"])
    assert out == {"model": {"num_layers": 4}, "trainer": {"train_steps": 1000}} and data["model"]["num_layers"] == 2
    with pytest.raises(ConfigError, match="trainer.steps: unknown key"):
        apply_overrides(data, ["trainer.steps=5"])
    with pytest.raises(ConfigError, match="must look like key.path=value"):
        apply_overrides(data, ["model.num_layers"])


def test_sequence_length_above_max_positions_names_the_key():
    with pytest.raises(ConfigError, match="exp.yaml: data.sequence_length: 256 exceeds .*=128"):
        check_sequence_length(load_model_config("bert_tiny"), 256, "exp.yaml")


@settings(max_examples=40, deadline=None)
@given(
    cls=st.sampled_from([BertConfig, GPT2Config]),
    heads=st.integers(1, 8),
    head_dim=st.integers(1, 16),
    layers=st.integers(1, 4),
    vocab=st.integers(1, 60000),
    dropout=st.floats(0, 0.99),
)
def test_valid_configs_round_trip(cls, heads, head_dim, layers, vocab, dropout):
    config = cls(
        vocabulary_size=vocab,
        num_layers=layers,
        num_heads=heads,
        hidden_dim=heads * head_dim,
        intermediate_dim=4 * heads * head_dim,
        dropout=dropout,
    )
    assert load_dataclass(cls, config.to_kwargs()) == config
    assert load_dataclass(cls, yaml.safe_load(yaml.safe_dump(dataclasses.asdict(config)))) == config
