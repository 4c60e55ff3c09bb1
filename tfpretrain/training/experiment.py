"""Pretraining experiments (configs/pretrain/*.yaml): model + data + trainer sections, strictly loaded.

    model:   {preset: bert_tiny, <any model field>: value}; `vocabulary_size: data` takes the prepared corpus's
    data:    the prepared corpus (a `prepare` output directory) and the reader's masking options
    trainer: strategy, precision, batch, steps, optimizer + schedule, checkpointing, logging

Dotted overrides (`trainer.train_steps=1000`) apply before validation, so a mistake in one names its key too.
"""

import dataclasses
from typing import Any, Literal

from tfpretrain.config import ConfigError, apply_overrides, load_dataclass, load_yaml, with_defaults
from tfpretrain.models import families


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    name: Literal["adamw", "lamb", "adam", "sgd"] = "adamw"
    learning_rate: float = 1e-4  # peak, reached after warmup
    weight_decay: float = 0.01  # decoupled; LayerNorm, biases and norms excluded
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-6
    warmup_steps: int = 0
    decay: Literal["linear", "cosine", "polynomial", "constant"] = "linear"
    end_learning_rate: float = 0.0
    power: float = 1.0  # polynomial decay
    global_clipnorm: float | None = 1.0


@dataclasses.dataclass(frozen=True)
class DataConfig:
    train: str  # a `tfpretrain prepare` output directory (manifest.json inside), local or gs://
    validation_split: str | None = "validation"  # a split of the same manifest; null for none
    max_predictions_per_seq: int = 20
    mask_rate: float = 0.15
    whole_word_masking: bool = True
    shuffle_buffer: int = 10_000


@dataclasses.dataclass(frozen=True)
class EnergyConfig:
    """codecarbon's offline tracker around training (tfpretrain/training/energy.py): RUN/energy.json + scalars."""

    enabled: bool = True
    country_iso_code: str = "USA"  # ISO 3166-1 alpha-3 code of the grid powering the machine: its carbon intensity
    region: str | None = None  # a US state / Canadian province (codecarbon's names, e.g. california) or None
    measure_power_secs: float = 15.0  # codecarbon's sampling interval; it is also read at each log interval

    def __post_init__(self):
        code = self.country_iso_code
        if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
            raise ConfigError("<config>", "country_iso_code",
                              f"expected a 3-letter upper-case ISO 3166-1 alpha-3 code (USA, FRA, IND), got {code!r}")
        if not self.measure_power_secs > 0:
            raise ConfigError("<config>", "measure_power_secs", f"must be positive, got {self.measure_power_secs}")


@dataclasses.dataclass(frozen=True)
class DPConfig:
    """DP-SGD (training/privacy/dp_sgd.py): per-example clipping + Gaussian noise; RUN/privacy.json + `epsilon`."""

    enabled: bool = False
    l2_norm_clip: float = 1.0  # C: each example's gradient is clipped to this L2 norm
    noise_multiplier: float | None = None  # sigma: noise stddev sigma * C on the clipped sum; None: 1.0 or solved
    target_epsilon: float | None = None  # solve sigma so the run spends this (at delta); excludes noise_multiplier
    delta: float | None = None  # None: 1 / dataset size (the report says which)
    accountant: Literal["rdp", "pld"] = "rdp"
    # ghost: per-example norms without per-example gradients (training/privacy/ghost_clipping.py), normal training's
    # memory; per_example: materialised per-example gradients (B x parameters), the exact reference
    clipping: Literal["ghost", "per_example"] = "ghost"
    # poisson: each example joins each step with probability q = global_batch_size / N (fine-tuning only; padded
    # fixed-shape batches); shuffle: shuffled fixed-size batches (epsilon labelled as approximated by Poisson)
    sampling: Literal["poisson", "shuffle"] = "shuffle"
    # fine-tuning only: top_n_layers trains the top N layers + pooler + head; lora trains low-rank adapters on every
    # attention projection + pooler + head (training/lora.py), merged into the weights at export
    trainable: Literal["all", "top_n_layers", "lora"] = "all"
    top_n_layers: int | None = None  # N, with trainable: top_n_layers
    lora_rank: int | None = None  # r, with trainable: lora
    lora_alpha: float | None = None  # with trainable: lora; adapters scaled by alpha / r (None: alpha = r)

    def __post_init__(self):
        if not self.l2_norm_clip > 0:
            raise ConfigError("<config>", "l2_norm_clip", f"must be positive, got {self.l2_norm_clip}")
        if self.noise_multiplier is not None and not self.noise_multiplier >= 0:
            raise ConfigError("<config>", "noise_multiplier", f"must be >= 0, got {self.noise_multiplier}")
        if self.target_epsilon is not None:
            if self.noise_multiplier is not None:
                raise ConfigError("<config>", "target_epsilon",
                                  "set either target_epsilon or noise_multiplier, not both (sigma is solved from it)")
            if not self.target_epsilon > 0:
                raise ConfigError("<config>", "target_epsilon", f"must be positive, got {self.target_epsilon}")
        if self.delta is not None and not 0 < self.delta < 1:
            raise ConfigError("<config>", "delta", f"must be in (0, 1) or null, got {self.delta}")
        if (self.trainable == "top_n_layers") != (self.top_n_layers is not None):
            raise ConfigError("<config>", "top_n_layers", "set it exactly when trainable is top_n_layers")
        if self.top_n_layers is not None and self.top_n_layers < 0:
            raise ConfigError("<config>", "top_n_layers", f"must be >= 0, got {self.top_n_layers}")
        if (self.trainable == "lora") != (self.lora_rank is not None):
            raise ConfigError("<config>", "lora_rank", "set it exactly when trainable is lora")
        if self.lora_rank is not None and self.lora_rank < 1:
            raise ConfigError("<config>", "lora_rank", f"must be >= 1, got {self.lora_rank}")
        if self.lora_alpha is not None and (self.trainable != "lora" or not self.lora_alpha > 0):
            raise ConfigError("<config>", "lora_alpha", f"a positive scale with trainable: lora, got {self.lora_alpha}")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    strategy: str = "auto"  # auto | tpu[:NAME] | mirrored | multi_worker | cpu
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = "float32"
    global_batch_size: int = 32
    train_steps: int = 1000
    gradient_accumulation_steps: int = 1
    steps_per_execution: int = 1
    jit_compile: bool = True
    log_every: int = 100  # one Keras "epoch" = log_every steps: progress bar line, TensorBoard scalars
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    validation_every: int = 0  # steps; 0 = never (needs data.validation_split)
    validation_steps: int = 20
    seed: int = 0
    deterministic: bool = False  # op determinism + deterministic input order: exact replay after resume
    peak_flops_per_device: float | None = None  # for the MFU estimate; default: known accelerators' bf16 peak
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    energy: EnergyConfig = dataclasses.field(default_factory=EnergyConfig)
    dp: DPConfig = dataclasses.field(default_factory=DPConfig)

    def __post_init__(self):
        for name in ("global_batch_size", "train_steps", "gradient_accumulation_steps", "steps_per_execution",
                     "log_every", "checkpoint_every", "keep_checkpoints", "validation_steps"):
            if getattr(self, name) <= 0:
                raise ConfigError("<config>", name, f"must be positive, got {getattr(self, name)}")
        if self.global_batch_size % self.gradient_accumulation_steps:
            raise ConfigError("<config>", "gradient_accumulation_steps",
                              f"{self.gradient_accumulation_steps} does not divide global_batch_size "
                              f"{self.global_batch_size}")
        if self.log_every % self.steps_per_execution or self.checkpoint_every % self.steps_per_execution:
            raise ConfigError("<config>", "steps_per_execution",
                              f"{self.steps_per_execution} must divide log_every and checkpoint_every")
        if self.dp.enabled and self.precision == "mixed_float16":
            raise ConfigError("<config>", "dp.enabled",
                              "DP-SGD does not support mixed_float16 (loss scaling); use float32 or mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class Experiment:
    model: dict[str, Any]
    data: DataConfig
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    source: str = "<experiment>"


def load_experiment(path=None, overrides=(), *, data=None):
    """configs/pretrain/<name>.yaml (or a mapping) + dotted overrides -> Experiment."""
    source = str(path) if path is not None else "<experiment>"
    mapping = load_yaml(path) if path is not None else dict(data or {})
    model = mapping.get("model")
    if isinstance(model, dict) and "preset" in model:
        # Fill in the preset's fields so `model.<field>=` overrides work; a `model.preset=` override goes first.
        preset_overrides = [o for o in overrides if o.partition("=")[0].strip() == "model.preset"]
        overrides = [o for o in overrides if o not in preset_overrides]
        model = apply_overrides({"model": model}, preset_overrides, source)["model"]
        mapping["model"] = {**dataclasses.asdict(families.load_model_config(model["preset"])), **model}
    if isinstance(mapping.get("trainer", {}), dict):
        mapping["trainer"] = with_defaults(TrainerConfig, mapping.get("trainer", {}))
    if isinstance(mapping.get("data"), dict):
        mapping["data"] = with_defaults(DataConfig, mapping["data"])
    mapping = apply_overrides(mapping, overrides, source)
    unknown = sorted(set(mapping) - {"model", "data", "trainer"})
    if unknown:
        raise ConfigError(source, unknown[0], "unknown section; an experiment has model, data and trainer")
    if not isinstance(mapping.get("model"), dict) or "preset" not in mapping["model"]:
        raise ConfigError(source, "model.preset", "required: a configs/models name (e.g. bert_tiny) or YAML path")
    experiment = Experiment(
        model=dict(mapping["model"]),
        data=load_dataclass(DataConfig, mapping.get("data"), source, "data"),
        trainer=load_dataclass(TrainerConfig, mapping.get("trainer", {}), source, "trainer"),
        source=source,
    )
    resolve_model_config(experiment, vocabulary_size=None)  # fail now on a bad model section, not after loading data
    return experiment


def resolve_model_config(experiment, vocabulary_size):
    """The model section -> BertConfig / GPT2Config: the preset with the section's fields laid over it.

    `vocabulary_size: data` is replaced by `vocabulary_size` (the manifest's); None leaves the preset's value.
    """
    section = dict(experiment.model)
    section.pop("family", None)  # written into resolved configs for readers; the preset decides it
    preset = families.load_model_config(section.pop("preset"))
    fields = dataclasses.asdict(preset)
    if section.get("vocabulary_size") == "data":
        section.pop("vocabulary_size")
        if vocabulary_size is not None:
            fields["vocabulary_size"] = vocabulary_size
    fields.update(section)
    return load_dataclass(families.get(preset.family).config_class, fields, experiment.source, "model")


def to_dict(experiment, model_config=None):
    """The resolved experiment as plain data (written to RUN_DIR/experiment.yaml)."""
    model = dict(experiment.model)
    if model_config is not None:
        model = {"preset": model["preset"], "family": model_config.family, **dataclasses.asdict(model_config)}
    return {
        "model": model,
        "data": dataclasses.asdict(experiment.data),
        "trainer": dataclasses.asdict(experiment.trainer),
    }
