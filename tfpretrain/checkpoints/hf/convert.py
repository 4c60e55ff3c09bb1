"""Hugging Face transformers checkpoints <-> tfpretrain models, the same way for every family.

    BertBackbone.from_pretrained(path)                           # registry -> checkpoints/hf/bert.py's CONVERTER
    BertPretrainer.from_pretrained(path, require_heads=("mlm",))  # refuses a checkpoint without an MLM head
    model.save_pretrained(path)                                  # config.json + model.safetensors

A family's `Converter` (checkpoints/hf/<family>.py) is data: its config map, weight name maps and task heads keyed
by the task class. The models reach it through models/families.py by dotted name (models never import this
package); configs are built from the backbone's get_config(), the file IO is checkpoints/hf/io.py.
"""

import dataclasses
import inspect
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from tfpretrain.checkpoints.hf import io
from tfpretrain.checkpoints.hf.name_map import TaskSpec, collect, load_entries
from tfpretrain.config import ConfigError, load_dataclass
from tfpretrain.errors import UserError
from tfpretrain.models import families

logger = logging.getLogger(__name__)
REQUIRED = object()  # in a config map: config.json must have the key


class MissingHeadError(UserError):
    """The checkpoint lacks a head the caller needs (a probe, an audit): scoring with a freshly initialised head
    would print meaningless numbers, so loading stops with one line naming the head, the use and the path."""


@dataclasses.dataclass(frozen=True, eq=False)  # one instance per family
class Converter:
    family: str  # its models/families.py name
    base_prefix: str  # the base model's prefix in task checkpoints: "bert." / "transformer."
    backbone_architecture: str  # config.json "architectures" of a backbone checkpoint: "BertModel"
    # (our config field, HF config key, default when the key is absent or null: a value, REQUIRED, or a function
    # of the fields mapped so far)
    config_map: tuple[tuple[str, str, Any], ...]
    unsupported: tuple[tuple[str, Any], ...]  # options our blocks do not implement: (HF key, the only value we load)
    backbone_map: Callable[[int], list]  # num_layers -> weight entries of the backbone
    tasks: Mapping[type, TaskSpec]  # task class -> its architecture and heads (subclasses find their base's)
    tied_config: Callable[[dict], dict] = lambda kwargs: {}  # HF keys set from ours without a field of their own

    # -- config.json <-> backbone kwargs -------------------------------------------------------------------------
    def config_to_kwargs(self, hf_config, source=io.CONFIG):
        """HF config dict -> backbone kwargs, checked by the family's config dataclass; errors name the HF key."""
        kwargs = {}
        for ours, theirs, default in self.config_map:
            value = hf_config.get(theirs)
            if value is None and default is REQUIRED:
                raise UserError(f"{source}: missing {theirs!r} (needed for {ours})")
            kwargs[ours] = value if value is not None else default(kwargs) if callable(default) else default
        for key, supported in self.unsupported:
            if hf_config.get(key, supported) != supported:
                raise UserError(f"{source}: {key}={hf_config[key]!r} is not supported (only {supported!r})")
        try:
            return load_dataclass(families.get(self.family).config_class, kwargs, source).to_kwargs()
        except ConfigError as e:
            theirs = {ours: theirs for ours, theirs, _ in self.config_map}
            raise ConfigError(source, theirs.get(e.key, e.key), e.message) from None

    def kwargs_to_config(self, kwargs):
        """Backbone kwargs -> HF config dict (model_type, architectures and every mapped key)."""
        config = {"model_type": families.get(self.family).hf_model_type, "architectures": [self.backbone_architecture]}
        config.update({theirs: kwargs[ours] for ours, theirs, _ in self.config_map})
        return {**config, **self.tied_config(kwargs)}

    def _backbone_config(self, backbone):
        fields = {f.name for f in dataclasses.fields(families.get(self.family).config_class)}
        return self.kwargs_to_config({k: v for k, v in backbone.get_config().items() if k in fields})

    # -- loading -------------------------------------------------------------------------------------------------
    def _read(self, path, owner):
        """-> (config.json, {canonical key: array}, weights file); the model_type must be this family's."""
        config = io.read_config(path)
        model_type = families.get(self.family).hf_model_type
        if config.get("model_type") != model_type:
            raise UserError(f"{os.fspath(path)}: config.json has model_type {config.get('model_type')!r}; "
                            f"{owner} needs a {model_type!r} checkpoint")
        tensors, file = io.read_tensors(path)
        return config, {self._canonical(key): array for key, array in tensors.items()}, file

    def _canonical(self, key):
        key = key.removeprefix(self.base_prefix)
        # Older PyTorch BERT checkpoints still name LayerNorm parameters gamma/beta.
        if key.endswith(".gamma"):
            return key.removesuffix(".gamma") + ".weight"
        return key.removesuffix(".beta") + ".bias" if key.endswith(".beta") else key

    def _build_backbone(self, cls, config, path, overrides):
        kwargs = self.config_to_kwargs(config, source=os.path.join(os.fspath(path), io.CONFIG))
        return cls(**{**kwargs, **overrides})

    def load_backbone(self, cls, path, **overrides):
        """`cls.from_pretrained(path, **overrides)`: config.json + weights -> a backbone; overrides win."""
        config, tensors, file = self._read(path, cls.__name__)
        backbone = self._build_backbone(cls, config, path, overrides)
        load_entries(backbone, self.backbone_map(backbone.num_layers), tensors, file)
        return backbone

    def task_spec(self, cls):
        for klass in cls.__mro__:
            if klass in self.tasks:
                return self.tasks[klass]
        names = sorted(klass.__name__ for klass in self.tasks)
        raise ValueError(f"{cls.__name__} has no Hugging Face name map; supported: {names}")

    def load_task(self, cls, path, *, require_heads=(), backbone_kwargs=None, **kwargs):
        """`Task.from_pretrained`: backbone + the heads the checkpoint has. A head in `require_heads` (names, or
        {name: what needs it}, or (name, what needs it) pairs) that the checkpoint lacks raises MissingHeadError;
        other missing heads keep their fresh initialisation (fine-tuning). kwargs the task's __init__ does not
        name but the backbone does (dropout for BertPretrainer) go to the backbone; `backbone_kwargs` forces it."""
        spec = self.task_spec(cls)
        family = families.get(self.family)
        config, tensors, file = self._read(path, cls.__name__)
        self._check_required(cls, spec, _required(require_heads), config, tensors, file, path)
        task_params = inspect.signature(cls.__init__).parameters
        backbone_keys = {f.name for f in dataclasses.fields(family.config_class)} | {"dtype"}
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in backbone_keys and k not in task_params}
        overrides.update(backbone_kwargs or {})
        backbone = self._build_backbone(family.backbone_class, config, path, overrides)
        task = cls(backbone, **kwargs)
        load_entries(backbone, self.backbone_map(backbone.num_layers), tensors, file)
        for head in spec.heads:
            if head.found(config, tensors, file):
                load_entries(task, head.entries, tensors, file)
            else:
                logger.info("%s has no %s; %s keeps its fresh initialisation", file, head.title, cls.__name__)
        return task

    @staticmethod
    def _check_required(cls, spec, required, config, tensors, file, path):
        heads = {head.name: head for head in spec.heads}
        for name, purpose in required.items():
            if name not in heads:
                raise ValueError(f"{cls.__name__} has no {name!r} head; its heads: {sorted(heads)}")
            head = heads[name]
            if not head.found(config, tensors, file):
                raise MissingHeadError(f"{os.fspath(path)}: no {head.title} ({head.pattern}) in the checkpoint; "
                                       f"{purpose or 'this use'} needs {head.kind} ({head.checkpoints})")

    # -- saving --------------------------------------------------------------------------------------------------
    def save_backbone(self, backbone, path):
        """Backbone -> a BertModel / GPT2Model checkpoint directory (PyTorch names, no base prefix)."""
        tensors = collect(backbone, self.backbone_map(backbone.num_layers))
        io.write_checkpoint(path, self._backbone_config(backbone), tensors)

    def save_task(self, task, path):
        """Task -> a checkpoint directory of its HF architecture (e.g. BertForPreTraining), PyTorch names."""
        spec = self.task_spec(type(task))
        backbone = task.backbone
        tensors = collect(backbone, self.backbone_map(backbone.num_layers), self.base_prefix)
        for head in spec.heads:
            tensors.update(collect(task, head.entries))
        config = {**self._backbone_config(backbone), "architectures": [spec.architecture], **spec.extra_config(task)}
        io.write_checkpoint(path, config, tensors)


def _required(require_heads):
    """require_heads as {head name: what needs it or None}; purposes of a head required twice are joined."""
    items = require_heads.items() if isinstance(require_heads, Mapping) else (
        (item, None) if isinstance(item, str) else tuple(item) for item in require_heads)
    required = {}
    for name, purpose in items:
        known = required.get(name)
        required[name] = f"{known} and {purpose}" if known and purpose and purpose not in known else known or purpose
    return required


def config_to_kwargs(hf_config, source=io.CONFIG):
    """HF config dict -> (family name, backbone kwargs), the family found by config.json's model_type."""
    family = families.by_model_type(hf_config.get("model_type"), source)
    return family.name, family.converter.config_to_kwargs(hf_config, source)


def kwargs_to_config(family, kwargs):
    """A family's backbone kwargs -> HF config dict."""
    return families.get(family).converter.kwargs_to_config(kwargs)
