"""The model-family registry: everything that differs between BERT and GPT-2, one `Family` record each.

    family = families.get("bert")                    # or families.by_model_type(config_json["model_type"])
    family.config_class                              # BertConfig: the one list of the backbone's fields
    family.build_pretraining_task(model_config)      # BertPretrainer(BertBackbone(**model_config.to_kwargs()))
    family.objective                                 # "masked" | "causal": how LM scoring reads the model
    family.corpus                                    # data/formats.py's CorpusFormat: records, tokenizer kind
    family.converter                                 # checkpoints/hf/bert.py's CONVERTER
    model_config = families.load_model_config("bert_tiny")   # a configs/models preset name or a YAML path

Code elsewhere asks the registry instead of branching on a family's name. Model classes and converters are named
by dotted path and imported on first use: models/backbone.py and models/task.py import this registry, so it must
not import them (nor checkpoints/, which imports models).
"""

import dataclasses
import importlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from tfpretrain.config import CONFIGS_DIR, ConfigError, apply_overrides, dump_yaml, load_dataclass, load_yaml
from tfpretrain.data import formats
from tfpretrain.errors import UserError
from tfpretrain.models.bert.config import BertConfig
from tfpretrain.models.gpt2.config import GPT2Config
from tfpretrain.models.model_config import ModelConfig

MASKED, CAUSAL = "masked", "causal"
MODELS_DIR = CONFIGS_DIR / "models"


@dataclasses.dataclass(frozen=True, eq=False)  # one instance per family: compared and hashed by identity
class Family:
    name: str
    config_class: type[ModelConfig]
    backbone: str  # "module:Class", imported on use
    pretraining_task: str  # "module:Class", imported on use
    objective: Literal["masked", "causal"]  # masked: one [MASK] per scored token; causal: left-to-right
    # The checkpoint heads LM scoring reads, per use: "tokens" (token log-probabilities) and "next_sentence"
    # (does sentence b follow a). Heads are named as in the family's converter ("mlm", "nsp", "lm").
    scoring_heads: Mapping[str, str]
    corpus_format: str  # its data/formats.py name: record spec, tokenizer kind, special tokens, example builder
    hf_model_type: str  # config.json's model_type
    hf_converter: str  # "module:ATTRIBUTE" of its checkpoints/hf converter

    @property
    def backbone_class(self) -> type:
        return _resolve(self.backbone)

    @property
    def pretraining_task_class(self) -> type:
        return _resolve(self.pretraining_task)

    @property
    def converter(self) -> Any:
        return _resolve(self.hf_converter)

    @property
    def corpus(self) -> formats.CorpusFormat:
        return formats.get_format(self.corpus_format)

    @property
    def tokenizer_kind(self) -> str:
        return self.corpus.tokenizer_kind

    def build_pretraining_task(self, model_config: ModelConfig, **task_kwargs: Any) -> Any:
        """A fresh pretraining task (BertPretrainer / GPT2CausalLM) on a fresh backbone built from the config."""
        return self.pretraining_task_class(self.backbone_class(**model_config.to_kwargs()), **task_kwargs)


def _resolve(dotted: str) -> Any:
    module, _, attribute = dotted.partition(":")
    return getattr(importlib.import_module(module), attribute)


FAMILIES = {
    family.name: family
    for family in (
        Family(
            name="bert",
            config_class=BertConfig,
            backbone="tfpretrain.models.bert.bert_backbone:BertBackbone",
            pretraining_task="tfpretrain.models.bert.bert_pretrainer:BertPretrainer",
            objective=MASKED,
            scoring_heads={"tokens": "mlm", "next_sentence": "nsp"},
            corpus_format="bert",
            hf_model_type="bert",
            hf_converter="tfpretrain.checkpoints.hf.bert:CONVERTER",
        ),
        Family(
            name="gpt2",
            config_class=GPT2Config,
            backbone="tfpretrain.models.gpt2.gpt2_backbone:GPT2Backbone",
            pretraining_task="tfpretrain.models.gpt2.gpt2_causal_lm:GPT2CausalLM",
            objective=CAUSAL,
            scoring_heads={"tokens": "lm", "next_sentence": "lm"},  # a continuation is scored token by token
            corpus_format="gpt2",
            hf_model_type="gpt2",
            hf_converter="tfpretrain.checkpoints.hf.gpt2:CONVERTER",
        ),
    )
}


class UnknownFamilyError(UserError):
    """A family name or a checkpoint's model_type that no registered family has."""


def get(name: str, source: str = "") -> Family:
    """The family called `name`; an unknown name is one UnknownFamilyError listing the known families."""
    if name not in FAMILIES:
        where = f"{source}: " if source else ""
        raise UnknownFamilyError(f"{where}unknown model family {name!r}; known families: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def by_model_type(model_type: str, source: str = "config.json") -> Family:
    """The family whose Hugging Face model_type is `model_type` (config.json's "model_type")."""
    for family in FAMILIES.values():
        if family.hf_model_type == model_type:
            return family
    known = ", ".join(f"{f.hf_model_type!r} ({f.name})" for f in FAMILIES.values())
    raise UnknownFamilyError(f"{source}: model_type {model_type!r} is not supported; known model types: {known}")


# -- model configs: configs/models/<name>.yaml = {family: bert|gpt2, model: {<config fields>}} ---------------------
def load_model_config(path_or_name: str | os.PathLike, overrides: Iterable[str] = ()) -> ModelConfig:
    """A model YAML (`family` + `model`), by path or preset name (e.g. "bert_tiny"), with dotted overrides."""
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        path = MODELS_DIR / f"{path_or_name}.yaml"
        if not path.exists():
            names = sorted(p.stem for p in MODELS_DIR.glob("*.yaml"))
            raise ConfigError(str(path_or_name), "", f"no such model preset; available: {names}")
    data = apply_overrides(load_yaml(path), overrides, str(path))
    name = data.get("family")
    if name not in FAMILIES:
        raise ConfigError(str(path), "family", f"{name!r} is not one of {sorted(FAMILIES)}")
    unknown = sorted(set(data) - {"family", "model"}, key=str)
    if unknown:
        raise ConfigError(str(path), str(unknown[0]), "unknown key; a model file holds 'family' and 'model'")
    return load_dataclass(FAMILIES[name].config_class, data.get("model"), str(path), "model")


def dump_model_config(model_config: ModelConfig, path: str | os.PathLike) -> None:
    """Write a model config atomically in the form load_model_config reads."""
    dump_yaml({"family": model_config.family, "model": model_config.to_kwargs()}, path)
