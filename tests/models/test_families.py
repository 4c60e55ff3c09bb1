"""The family registry and the model configs: presets, strict loading, and each family's one field list agreeing with
its backbone's constructor, its task classes and its converter."""

import dataclasses
import inspect
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import ROOT, factories
from tfpretrain.config import ConfigError, load_dataclass
from tfpretrain.errors import UserError
from tfpretrain.models import families
from tfpretrain.models.bert.config import BertConfig
from tfpretrain.models.families import MODELS_DIR, dump_model_config, load_model_config
from tfpretrain.models.gpt2.config import GPT2Config
from tfpretrain.models.model_config import ACTIVATIONS

FAMILIES = sorted(families.FAMILIES)
TINY_KWARGS = {"bert": factories.BERT_KWARGS, "gpt2": factories.GPT2_KWARGS}


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_preset_loads_and_round_trips(path, tmp_path):
    config = load_model_config(path)
    assert config.family == path.stem.split("_")[0]
    dump_model_config(config, tmp_path / "resolved.yaml")
    assert yaml.safe_load((tmp_path / "resolved.yaml").read_text())["family"] == config.family
    assert load_model_config(tmp_path / "resolved.yaml") == config
    assert load_model_config(path.stem) == config  # by preset name
    assert [p.name for p in tmp_path.iterdir()] == ["resolved.yaml"]  # no temp file left behind


def test_registry_and_model_configs_do_not_import_tensorflow():
    code = "import sys, tfpretrain.models.families; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


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
    with pytest.raises(ConfigError, match="size: unknown key; a model file holds 'family' and 'model'"):
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump({"family": "bert", "model": TINY, "size": 1}))
        load_model_config(tmp_path / "extra.yaml")


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("family: gpt2\nmodel: {vocabulary_size: 10, num_layers: 1, num_heads: 1, hidden_dim: 4, "
                    "intermediate_dim: 8, layer_norm_epsilon: 1e-6, dropout: 0}\n")
    config = load_model_config(path)
    assert config.layer_norm_epsilon == 1e-6 and config.dropout == 0.0 and type(config.dropout) is float


def test_overrides_on_a_preset_are_validated():
    assert load_model_config("bert_tiny", ["model.num_layers=4"]).num_layers == 4
    with pytest.raises(ConfigError, match=r"bert_tiny.yaml: model.num_layers: expected int, got True"):
        load_model_config("bert_tiny", ["model.num_layers=true"])


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
        dump_model_config(config, Path(tmp) / "model.yaml")
        assert load_model_config(Path(tmp) / "model.yaml") == config


# ------------------------------------------------------------------------------------------------- the registry


def test_lookup_by_name_and_model_type_with_one_clear_error():
    assert families.get("bert").config_class is BertConfig and families.get("gpt2").config_class is GPT2Config
    assert families.by_model_type("gpt2") is families.get("gpt2")
    assert len({families.get("bert"), families.get("bert").converter, families.get("gpt2")}) == 3  # hashable
    with pytest.raises(UserError, match=r"^runs/x: unknown model family 't5'; known families: bert, gpt2$"):
        families.get("t5", source="runs/x")
    with pytest.raises(UserError, match=r"^m/config.json: model_type 'roberta' is not supported; known model types: "
                                        r"'bert' \(bert\), 'gpt2' \(gpt2\)$"):
        families.by_model_type("roberta", "m/config.json")


@pytest.mark.parametrize("name", FAMILIES)
def test_config_fields_are_the_backbone_constructor_parameters(name):
    """The one field list: the config dataclass's fields (names, order, defaults) are the backbone's constructor
    parameters minus dtype / name / **kwargs, and get_config holds exactly them."""
    family = families.get(name)
    backbone_class = family.backbone_class
    fields = [(f.name, f.default) for f in dataclasses.fields(family.config_class)]
    parameters = [(p.name, dataclasses.MISSING if p.default is p.empty else p.default)
                  for p in inspect.signature(backbone_class.__init__).parameters.values()
                  if p.name not in ("self", "dtype", "name") and p.kind is p.POSITIONAL_OR_KEYWORD]
    assert fields == parameters
    assert backbone_class.config_names() == tuple(n for n, _ in fields)
    config = family.config_class(**{**TINY_KWARGS[name], "dropout": 0.25})
    backbone = backbone_class(**config.to_kwargs())
    assert backbone.get_config() == {"name": backbone.name, "trainable": True, **config.to_kwargs()}
    assert backbone_class.from_config(backbone.get_config()).get_config() == backbone.get_config()


def test_activation_names_are_the_layers():
    from tfpretrain.layers.activations import ACTIVATIONS as IMPLEMENTED

    assert sorted(ACTIVATIONS) == sorted(IMPLEMENTED)


@pytest.mark.parametrize("name", FAMILIES)
def test_family_record_agrees_with_its_classes(name):
    from tfpretrain.data import features as F
    from tfpretrain.data import tokenizer

    family = families.get(name)
    assert family.name == family.config_class.family == family.backbone_class.family
    assert family.pretraining_task_class.family == name and family.converter.family == name
    assert callable(getattr(tokenizer, f"train_{family.tokenizer_kind}"))
    assert family.corpus.input_keys == family.backbone_class.input_keys  # the data feeds the model it names
    config = family.config_class(**TINY_KWARGS[name])
    task = family.build_pretraining_task(config, gradient_accumulation_steps=2)
    assert type(task) is family.pretraining_task_class and task.gradient_accumulation_steps == 2
    assert task.backbone.get_config() | {"name": ""} == {"name": "", "trainable": True, **config.to_kwargs()}
    # The objective says how LM scoring reads the task: masked positions in (masked) or logits per position (causal).
    assert (F.MASKED_LM_POSITIONS in task.input_keys) == (family.objective == families.MASKED)
    heads = {head.name for spec in family.converter.tasks.values() for head in spec.heads}
    assert set(family.scoring_heads.values()) <= heads
