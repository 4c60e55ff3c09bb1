"""Fine-tune a BertClassifier from a pretraining run or a Hugging Face checkpoint (configs/finetune/*.yaml).

    RUN/finetune.yaml   the resolved config
    RUN/checkpoints/    every trainer.checkpoint_every steps, at the end and on SIGTERM (then nothing below is
                        written: `--resume` continues from the step reached, skipping the batches already consumed)
    RUN/metrics.jsonl   one line per logging interval (and RUN/tensorboard/)
    RUN/energy.json     energy and CO2 of fine-tuning (codecarbon offline; training/energy.py)
    RUN/privacy.json    with trainer.dp.enabled: DP-SGD's settings, sampling, epsilon (training/privacy/accounting.py)
    RUN/export/         SavedModel: serving_default on serialized tf.Example -> {"score", ...} (TFMA, TF Serving);
                        with trainer.dp.trainable: lora, export/ and final/ hold W + (alpha / r) B A (merged adapters)
    RUN/final/          Hugging Face format (config.json + model.safetensors + the tokenizer file)
    RUN/eval.tfrecord   the eval split as tf.Example: token features, label, text and the group columns unchanged,
                        ready for `tfpretrain evaluate --model RUN`
"""

import dataclasses
import json
import logging
import os
import platform

import tensorflow as tf

from tfpretrain.config import ConfigError, apply_overrides, dump_yaml, load_dataclass, load_yaml, with_defaults
from tfpretrain.data.eval_records import write_eval_tfrecords
from tfpretrain.data.labeled import FinetuneData, classifier_arrays, make_classifier_dataset, read_examples
from tfpretrain.data.tokenizer import load_tokenizer
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.runs import RunDir, find_checkpoint
from tfpretrain.training import checkpointing, distribute, flops
from tfpretrain.training.callbacks import CheckpointCallback, ScalarLogger
from tfpretrain.training.energy import EnergyTracker
from tfpretrain.training.experiment import TrainerConfig
from tfpretrain.training.export import export_classifier, export_hf
from tfpretrain.training.lora import add_adapters, merge_adapters
from tfpretrain.training.privacy.dp_sgd import enable_dp
from tfpretrain.training.privacy.plan import plan_dp
from tfpretrain.training.privacy.trainable import train_top_layers
from tfpretrain.training.trainer import build_optimizer_from_config, device_peak_flops, worker_dir

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LabeledData:
    source: str  # CSV / JSONL / TFRecord path or glob (local or gs://), or tfds:NAME[/CONFIG]:SPLIT
    text_field: str = "text"
    label_field: str = "label"
    label_threshold: float | None = None  # continuous labels (civil_comments toxicity): >= threshold is 1
    group_fields: list[str] = dataclasses.field(default_factory=list)  # carried unchanged into RUN/eval.tfrecord
    text_pair_field: str | None = None
    split: str | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True)
class FinetuneExperiment:
    init: str  # a `tfpretrain pretrain` run directory or a Hugging Face BERT checkpoint directory
    train: LabeledData
    eval: LabeledData | None = None
    num_classes: int = 1  # 1: binary with a sigmoid (the score TFMA slices); >= 2: softmax
    sequence_length: int = 128
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    source: str = "<finetune>"


def load_finetune_experiment(path=None, overrides=(), *, data=None):
    source = str(path) if path is not None else "<finetune>"
    mapping = load_yaml(path) if path is not None else dict(data or {})
    mapping["trainer"] = with_defaults(TrainerConfig, mapping.get("trainer") or {})
    for key in ("train", "eval"):
        if isinstance(mapping.get(key), dict):
            mapping[key] = with_defaults(LabeledData, mapping[key])
    mapping = apply_overrides(mapping, overrides, source)
    experiment = load_dataclass(FinetuneExperiment, mapping, source)
    if experiment.trainer.validation_every and experiment.eval is None:
        raise ConfigError(source, "trainer.validation_every", "validation needs an eval section; or set it to 0")
    return dataclasses.replace(experiment, source=source)


def _labeled(data, num_classes):
    return FinetuneData(
        source=data.source,
        text_field=data.text_field,
        label_field=data.label_field,
        label_threshold=data.label_threshold,
        group_fields=tuple(data.group_fields),
        text_pair_field=data.text_pair_field,
        split=data.split,
        num_classes=num_classes,
    )


def _write_run_info(run_dir, strategy):
    """RUN/run_info.json: where it ran (strategy, devices, TF version), for the model card."""
    info = {**distribute.describe(strategy), "tensorflow": tf.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count()}
    with open(RunDir(run_dir).run_info, "w") as f:
        json.dump(info, f, indent=2)


def _train_part(model, dp, source):
    """trainer.dp.trainable top_n_layers / lora: freeze the rest (after the base weights are loaded)."""
    key = "top_n_layers" if dp.trainable == "top_n_layers" else "lora_rank"
    try:
        if dp.trainable == "top_n_layers":
            train_top_layers(model, dp.top_n_layers)
        else:
            add_adapters(model, dp.lora_rank, dp.lora_alpha)
    except ValueError as error:
        raise ConfigError(source, f"trainer.dp.{key}", str(error)) from None


def finetune(experiment, run_dir, resume=False, verbose=1):
    """Fine-tune (or resume), export and write the evaluation data; returns the Keras History of this invocation
    (None when a resumed run had no steps left). Stopped by SIGTERM: a checkpoint at the step reached, no export."""
    t, e = experiment.trainer, experiment
    keras.utils.set_random_seed(t.seed)
    if t.deterministic:  # the input order is fixed already: one shuffle from the seed, no parallel stage
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.get_strategy(t.strategy)  # first: multi_worker must start before any other TF op
    run_dir = worker_dir(strategy, run_dir)
    run = RunDir(run_dir)
    init = find_checkpoint(e.init)
    tokenizer_path = init.tokenizer_path
    if os.path.exists(run.export):
        raise FileExistsError(f"{run_dir} already holds a fine-tuned export; use a new --out")
    checkpointing.refuse_without_resume(run.checkpoints, resume, run_dir)
    tokenizer = load_tokenizer(tokenizer_path)
    train_examples = read_examples(_labeled(e.train, e.num_classes), limit=e.train.limit)
    eval_examples = read_examples(_labeled(e.eval, e.num_classes), limit=e.eval.limit) if e.eval else []
    # DP-SGD: one labelled example is the privacy unit; sampling rate = (expected) global batch / training examples
    plan = plan_dp(t, len(train_examples), "one example", e.source, replicas=strategy.num_replicas_in_sync,
                   epoch_aligned=True) if t.dp.enabled else None
    os.makedirs(run_dir, exist_ok=True)  # after the inputs are read: a bad input leaves no run directory behind
    resolved = {k: v for k, v in dataclasses.asdict(e).items() if k != "source"}
    dump_yaml(resolved, run.finetune_config)

    distribute.set_precision(t.precision)
    _write_run_info(run_dir, strategy)
    energy = EnergyTracker(run_dir, t.energy) if t.energy.enabled else None  # its hardware probe overlaps the build
    with strategy.scope():
        model = BertClassifier.from_pretrained(
            init.directory, num_classes=e.num_classes, gradient_accumulation_steps=t.gradient_accumulation_steps
        )
        if t.dp.enabled and t.dp.trainable != "all":  # per-example gradients of the trained part only
            _train_part(model, t.dp, e.source)
        if t.dp.enabled:
            enable_dp(model, t.dp.l2_norm_clip, plan.noise_multiplier, seed=t.seed, clipping=t.dp.clipping,
                      expected_batch_size=plan.expected_batch_size)
        if e.sequence_length > model.backbone.max_sequence_length:
            raise ConfigError(e.source, "sequence_length",
                              f"{e.sequence_length} exceeds the checkpoint's {model.backbone.max_sequence_length}")
        model.compile(optimizer=build_optimizer_from_config(t), jit_compile=t.jit_compile,
                      steps_per_execution=t.steps_per_execution)
        manager = checkpointing.restore_or_start(model, run.checkpoints, t.keep_checkpoints, resume)
    step = int(model.optimizer.iterations.numpy())
    # The data position is the step: a resumed run skips the batches its checkpoint consumed (same seed, same order).
    if plan is not None and plan.sampler is not None:  # Poisson: stateless per step, so it starts at the step
        train_data = plan.sampler.dataset(classifier_arrays(train_examples, tokenizer, e.sequence_length), step)
    else:  # under DP, batches never span epochs: privacy.json's proven bound counts epochs
        train_data = make_classifier_dataset(train_examples, tokenizer, e.sequence_length, t.global_batch_size,
                                             shuffle=True, seed=t.seed, repeat=True,
                                             epoch_aligned=t.dp.enabled).skip(step)
    batch = plan.physical_batch_size if plan is not None and plan.sampler is not None else t.global_batch_size
    fit_kwargs = {}
    if t.validation_every:
        fit_kwargs = dict(
            validation_data=make_classifier_dataset(eval_examples, tokenizer, e.sequence_length,
                                                    t.global_batch_size, shuffle=False,
                                                    drop_remainder=False).take(t.validation_steps),
            validation_freq=max(t.validation_every // t.log_every, 1),
        )
    logger = ScalarLogger(run_dir, tokens_per_step=batch * e.sequence_length,
                          flops_per_step=flops.classifier_training_flops_per_step(
                              model.backbone, e.num_classes, batch, e.sequence_length),
                          peak_flops=device_peak_flops(t, strategy))
    checkpoints = CheckpointCallback(manager, t.checkpoint_every, t.train_steps)
    callbacks = [checkpoints, logger]
    if energy is not None:
        energy.flops_per_step = logger.flops_per_step
        logger.extra_scalars.append(energy.scalars)
        callbacks.append(energy)
    privacy = plan.ledger if plan is not None else None
    if privacy is not None:
        logger.extra_scalars.append(privacy.scalars)
    history = None
    if step < t.train_steps:
        history = model.fit(train_data, initial_epoch=step // t.log_every, epochs=-(-t.train_steps // t.log_every),
                            steps_per_epoch=t.log_every, callbacks=callbacks, verbose=verbose, **fit_kwargs)
    if privacy is not None:  # the budget spent by every step so far, also when preempted
        privacy.write(run_dir, int(model.optimizer.iterations.numpy()))
    if checkpoints.preempted:
        log.warning("stopped by SIGTERM at step %d; run again with --resume", int(model.optimizer.iterations.numpy()))
        return history
    merge_adapters(model)  # LoRA: W + (alpha / r) B A, plain Dense layers again (checkpoints keep the adapters)
    export_classifier(model, run.export, e.sequence_length, label_key="label")
    export_hf(model, run.final, tokenizer_path)
    if eval_examples:
        groups = tuple(e.eval.group_fields)
        write_eval_tfrecords(run.eval_data, eval_examples, tokenizer, e.sequence_length,
                             label_key="label", group_fields=groups)
    return history
