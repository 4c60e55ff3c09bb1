"""Run directories: the layout `pretrain` and `finetune` write, and the one way to load a model and its tokenizer
from a run or from a Hugging Face checkpoint directory.

    RUN/experiment.yaml   pretraining: the resolved experiment      RUN/finetune.yaml   fine-tuning: the resolved config
    RUN/checkpoints/      tf.train.CheckpointManager                 RUN/metrics.jsonl   one line per logging interval
    RUN/tensorboard/      the same scalars for TensorBoard           RUN/run_info.json   where it ran (devices)
    RUN/energy.json       energy and CO2 (codecarbon)                RUN/privacy.json    DP-SGD: epsilon spent
    RUN/final/            Hugging Face format (config.json + model.safetensors [+ tokenizer file])
    RUN/tokenizer.json    pretraining: the corpus's tokenizer        RUN/export/         fine-tuning: SavedModel
    RUN/eval.tfrecord     fine-tuning: the eval split as tf.Example, for `tfpretrain evaluate --model RUN`

    run = RunDir("runs/bert"); run.metrics                          # "runs/bert/metrics.jsonl"
    loaded = load("runs/bert", BertPretrainer, dropout=0.0)         # Loaded(model, tokenizer, checkpoint)
    loaded = load("hf/minilm", BertClassifier, num_classes=1)       # an HF directory: vocab.txt beside it

A path is either a run (its final/ holds the checkpoint; the tokenizer is RUN/tokenizer.json or beside the
checkpoint) or a Hugging Face checkpoint directory itself (config.json + weights + tokenizer.json or vocab.txt).
"""

import dataclasses
import json
import os
from typing import Any

import yaml

from tfpretrain.checkpoints.hf import io as checkpoint_io
from tfpretrain.data.tokenizer import load_tokenizer
from tfpretrain.errors import UserError


class CheckpointError(UserError):
    """A run or checkpoint directory that cannot be loaded: no tokenizer, an unknown model type."""


class RunNotFoundError(CheckpointError, FileNotFoundError):
    """A path that is neither a run with final/ nor a Hugging Face checkpoint directory."""


@dataclasses.dataclass(frozen=True)
class RunDir:
    """The files of one run directory; every layout name is spelled here and nowhere else."""

    path: str

    FINAL = "final"
    HF_CONFIG = checkpoint_io.CONFIG  # config.json, of a Hugging Face checkpoint directory
    TOKENIZER = "tokenizer.json"
    VOCAB = "vocab.txt"
    EXPERIMENT = "experiment.yaml"
    FINETUNE = "finetune.yaml"
    CHECKPOINTS = "checkpoints"
    METRICS = "metrics.jsonl"
    TENSORBOARD = "tensorboard"
    ENERGY = "energy.json"
    PRIVACY = "privacy.json"
    RUN_INFO = "run_info.json"
    EXPORT = "export"
    SAVED_MODEL = "saved_model.pb"
    EVAL_DATA = "eval.tfrecord"

    def __post_init__(self):
        object.__setattr__(self, "path", os.fspath(self.path))

    def join(self, *names):
        return os.path.join(self.path, *names)

    final = property(lambda self: self.join(self.FINAL))
    tokenizer = property(lambda self: self.join(self.TOKENIZER))
    experiment = property(lambda self: self.join(self.EXPERIMENT))
    finetune_config = property(lambda self: self.join(self.FINETUNE))
    checkpoints = property(lambda self: self.join(self.CHECKPOINTS))
    metrics = property(lambda self: self.join(self.METRICS))
    tensorboard = property(lambda self: self.join(self.TENSORBOARD))
    energy = property(lambda self: self.join(self.ENERGY))
    privacy = property(lambda self: self.join(self.PRIVACY))
    run_info = property(lambda self: self.join(self.RUN_INFO))
    export = property(lambda self: self.join(self.EXPORT))
    eval_data = property(lambda self: self.join(self.EVAL_DATA))

    def is_pretraining(self):
        return os.path.exists(self.experiment)

    def is_finetuning(self):
        return os.path.exists(self.finetune_config)

    def has_export(self):
        return os.path.exists(self.join(self.EXPORT, self.SAVED_MODEL))

    def read_experiment(self):
        """RUN/experiment.yaml as a dict, or None for a run that is not a pretraining run."""
        return _read_yaml(self.experiment)

    def read_finetune_config(self):
        """RUN/finetune.yaml as a dict, or None for a run that is not a fine-tuning run."""
        return _read_yaml(self.finetune_config)

    def read_json(self, name):
        """RUN/<name> (energy.json, privacy.json, run_info.json) as a dict, or None when the run has none."""
        return read_json(self.join(name))


def _read_yaml(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return yaml.safe_load(f) or {}


def read_json(path):
    """A JSON file's contents (a run's record, a command's summary), or None when it does not exist; invalid JSON
    is one error naming the file."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}: not valid JSON ({e})") from None


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """Where the weights and the tokenizer of a run or of an HF checkpoint directory are."""

    source: str  # the path as given
    directory: str  # config.json + weights: RUN/final, or the HF directory itself
    tokenizer_path: str  # tokenizer.json (preferred) or vocab.txt, in the run or beside the checkpoint
    run: RunDir  # the path as a run directory (for an HF directory: the directory itself)

    def config(self):
        """The checkpoint's config.json as a dict."""
        return checkpoint_io.read_config(self.directory)

    @property
    def model_type(self):
        """config.json's model_type, e.g. "bert" or "gpt2"."""
        return self.config().get("model_type")


def find_checkpoint(path):
    """A pretraining / fine-tuning run directory or an HF checkpoint directory -> Checkpoint."""
    run = RunDir(path)
    for directory in (run.final, run.path):
        if os.path.exists(os.path.join(directory, RunDir.HF_CONFIG)):
            for name in (RunDir.TOKENIZER, RunDir.VOCAB):
                for folder in (run.path, directory):
                    if os.path.exists(os.path.join(folder, name)):
                        return Checkpoint(run.path, directory, os.path.join(folder, name), run)
            raise CheckpointError(f"{run.path}: a checkpoint ({directory}) but no {RunDir.TOKENIZER} or "
                                  f"{RunDir.VOCAB} in the run or beside it")
    raise RunNotFoundError(f"{run.path}: neither a pretraining run nor a fine-tuning run ({RunDir.FINAL}/"
                           f"{RunDir.HF_CONFIG}) nor a Hugging Face checkpoint ({RunDir.HF_CONFIG})")


@dataclasses.dataclass
class Loaded:
    model: Any  # the task class asked for, e.g. BertPretrainer, GPT2CausalLM, BertClassifier
    tokenizer: Any  # tokenizers.Tokenizer
    checkpoint: Checkpoint


def load(path, task_class, *, require_heads=(), **kwargs):
    """A run or HF checkpoint directory (or a Checkpoint) -> Loaded(model, tokenizer, checkpoint).

    `task_class.from_pretrained(checkpoint, **kwargs)` builds the model. `require_heads` names the heads the purpose
    needs, as Task.from_pretrained takes them (("mlm",), or {"mlm": "CrowS-Pairs"} to say what needs it): a
    checkpoint without one is refused with MissingHeadError rather than scored with a freshly initialised head.
    """
    checkpoint = path if isinstance(path, Checkpoint) else find_checkpoint(path)
    if require_heads:
        kwargs["require_heads"] = require_heads
    model = task_class.from_pretrained(checkpoint.directory, **kwargs)
    return Loaded(model, load_tokenizer(checkpoint.tokenizer_path), checkpoint)
