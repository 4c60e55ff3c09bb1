"""Experiment -> strategy, model, data, optimizer -> `model.fit` with checkpoints -> run directory.

    RUN/experiment.yaml      the resolved experiment (model fields spelled out)
    RUN/checkpoints/         tf.train.CheckpointManager: model (incl. dropout RNG state), optimizer, step
    RUN/metrics.jsonl        one line per logging interval; RUN/tensorboard/ the same as TensorBoard scalars
    RUN/energy.json          energy and CO2 over every session of the run (codecarbon offline; training/energy.py)
    RUN/privacy.json         with trainer.dp.enabled: DP-SGD's settings and epsilon (training/privacy/accounting.py)
    RUN/final/               the trained task in Hugging Face format (config.json + model.safetensors)
    RUN/tokenizer.json       the corpus's tokenizer, so a run directory is self-contained

The data position is the step: on resume every input pipeline skips the batches already consumed (before parsing
and masking), and masking seeds are per batch index, so a deterministic run replays the same batches.
"""

import logging
import os
import shutil

import tensorflow as tf

from tfpretrain.config import ConfigError, dump_yaml
from tfpretrain.data.manifest import check_compatible, read_manifest
from tfpretrain.data.pretrain_input import make_dataset
from tfpretrain.keras import keras
from tfpretrain.models import families
from tfpretrain.runs import RunDir
from tfpretrain.training import checkpointing, distribute, flops
from tfpretrain.training.callbacks import CheckpointCallback, ScalarLogger
from tfpretrain.training.energy import EnergyTracker
from tfpretrain.training.experiment import resolve_model_config, to_dict
from tfpretrain.training.optimization import WarmupDecay, build_optimizer
from tfpretrain.training.privacy.dp_sgd import enable_dp
from tfpretrain.training.privacy.plan import plan_dp

log = logging.getLogger(__name__)


def build_task(model_config, gradient_accumulation_steps=1):
    """A fresh pretraining task (BertPretrainer / GPT2CausalLM) for a model config (call inside strategy.scope())."""
    family = families.get(model_config.family)
    return family.build_pretraining_task(model_config, gradient_accumulation_steps=gradient_accumulation_steps)


def build_optimizer_from_config(trainer):
    o = trainer.optimizer
    schedule = WarmupDecay(
        peak_learning_rate=o.learning_rate,
        warmup_steps=o.warmup_steps,
        decay_steps=max(trainer.train_steps - o.warmup_steps, 1),
        decay=o.decay,
        end_learning_rate=o.end_learning_rate,
        power=o.power,
    )
    kwargs = {"beta_1": o.beta_1, "beta_2": o.beta_2, "epsilon": o.epsilon} if o.name != "sgd" else {}
    return build_optimizer(o.name, schedule, weight_decay=o.weight_decay, global_clipnorm=o.global_clipnorm, **kwargs)


def _dataset(strategy, experiment, manifest_dir, model_config, *, split, skip_steps, repeat=True):

    t, d = experiment.trainer, experiment.data

    def dataset_fn(context):
        # Each step takes one batch per replica from this pipeline's dataset.
        replicas_here = context.num_replicas_in_sync // context.num_input_pipelines
        return make_dataset(
            manifest_dir,
            model_config.family,
            t.global_batch_size,
            context,
            split=split,
            sequence_length=None,
            vocabulary_size=model_config.vocabulary_size,
            shuffle=split == "train",
            shuffle_buffer=d.shuffle_buffer,
            seed=t.seed,
            deterministic=t.deterministic,
            repeat=repeat,
            mask_rate=d.mask_rate,
            max_predictions_per_seq=d.max_predictions_per_seq,
            whole_word_masking=d.whole_word_masking,
            skip_batches=skip_steps * replicas_here,
        )

    return strategy.distribute_datasets_from_function(dataset_fn)


def device_peak_flops(trainer, strategy):
    """trainer.peak_flops_per_device, else the known peak of the accelerator the TPU system / GPU names; None on CPUs
    (no MFU then)."""
    if trainer.peak_flops_per_device:
        return trainer.peak_flops_per_device
    kind = distribute.device_kind(strategy)
    peak = flops.peak_flops(kind)
    if kind and peak is None:
        log.warning("no known peak FLOP/s for %r: set trainer.peak_flops_per_device to log MFU", kind)
    return peak


def worker_dir(strategy, run_dir):
    """Where this process writes: the run directory for the chief (or a single process); for other workers of a
    MultiWorkerMirroredStrategy cluster, RUN/.worker-<i> (every worker must save checkpoints, only one may own
    the run directory)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type, task_id = getattr(resolver, "task_type", None), getattr(resolver, "task_id", None)
    if task_type is None:
        return run_dir
    has_chief = "chief" in (resolver.cluster_spec().as_dict() if resolver else {})
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return run_dir if is_chief else os.path.join(run_dir, f".worker-{task_id}")


def pretrain(experiment, run_dir, resume=False, verbose=1):
    """Train (or resume) an experiment into `run_dir`; returns the Keras History of this invocation."""
    t = experiment.trainer
    keras.utils.set_random_seed(t.seed)
    if t.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.get_strategy(t.strategy)
    run_dir = worker_dir(strategy, run_dir)
    run = RunDir(run_dir)
    checkpointing.refuse_without_resume(run.checkpoints, resume, run_dir)

    manifest = read_manifest(experiment.data.train)
    model_config = resolve_model_config(experiment, vocabulary_size=manifest["vocabulary_size"])
    sequence_length = manifest["sequence_length"]
    if sequence_length > model_config.max_sequence_length:
        raise ConfigError(experiment.source, "model.max_sequence_length",
                          f"{model_config.max_sequence_length} is below the data's sequence_length {sequence_length}")
    check_compatible(manifest, family=model_config.family, sequence_length=sequence_length,
                     vocabulary_size=model_config.vocabulary_size)
    plan = None
    if t.dp.enabled:  # sampling rate = global batch / the manifest's train records; streamed shuffled batches
        unit = ("one training record (a BERT NSP pair / a GPT-2 sequence); a document spread over k records is "
                "protected as a group of k")
        plan = plan_dp(t, manifest["splits"]["train"]["records"], unit, experiment.source, fine_tuning=False)
    os.makedirs(run_dir, exist_ok=True)  # after the data is checked: a bad input leaves no run directory behind
    dump_yaml(to_dict(experiment, model_config), run.experiment)
    shutil.copyfile(os.path.join(manifest["_directory"], manifest["tokenizer"]["file"]), run.tokenizer)

    distribute.set_precision(t.precision)
    log.info("training on %s", distribute.describe(strategy))
    energy = EnergyTracker(run_dir, t.energy) if t.energy.enabled else None  # its hardware probe overlaps the build

    with strategy.scope():
        model = build_task(model_config, t.gradient_accumulation_steps)
        if t.dp.enabled:  # before the checkpoint is made: it then holds the noise generator's state
            enable_dp(model, t.dp.l2_norm_clip, plan.noise_multiplier, seed=t.seed, clipping=t.dp.clipping)
        optimizer = build_optimizer_from_config(t)
        if t.precision == "mixed_float16":
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, jit_compile=t.jit_compile, steps_per_execution=t.steps_per_execution)
        manager = checkpointing.restore_or_start(model, run.checkpoints, t.keep_checkpoints, resume)
    step = int(optimizer.iterations.numpy())
    if step >= t.train_steps:
        log.info("nothing to do: step %d >= train_steps %d", step, t.train_steps)
        return None

    train_data = _dataset(strategy, experiment, experiment.data.train, model_config, split="train", skip_steps=step)
    fit_kwargs = {}
    validation = experiment.data.validation_split
    if t.validation_every and validation and validation in manifest["splits"]:
        fit_kwargs = dict(
            validation_data=_dataset(strategy, experiment, experiment.data.train, model_config, split=validation,
                                     skip_steps=0),
            validation_steps=t.validation_steps,
            validation_freq=max(t.validation_every // t.log_every, 1),
        )
    masked = experiment.data.max_predictions_per_seq  # a causal LM's head FLOPs ignore it
    callbacks = [
        CheckpointCallback(manager, t.checkpoint_every, t.train_steps),
        ScalarLogger(
            run_dir,
            tokens_per_step=t.global_batch_size * sequence_length,
            flops_per_step=flops.training_flops_per_step(model_config, t.global_batch_size, sequence_length, masked),
            peak_flops=device_peak_flops(t, strategy),
        ),
    ]
    if energy is not None:
        logger = next(c for c in callbacks if isinstance(c, ScalarLogger))
        energy.flops_per_step = logger.flops_per_step
        logger.extra_scalars.append(energy.scalars)
        callbacks.append(energy)
    privacy = plan.ledger if plan is not None else None
    if privacy is not None:  # epsilon spent so far, each interval
        next(c for c in callbacks if isinstance(c, ScalarLogger)).extra_scalars.append(privacy.scalars)
    epochs = -(-t.train_steps // t.log_every)
    history = model.fit(
        train_data,
        initial_epoch=step // t.log_every,
        epochs=epochs,
        steps_per_epoch=t.log_every,
        callbacks=callbacks,
        verbose=verbose,
        **fit_kwargs,
    )
    if privacy is not None:  # the budget spent by every step so far, also when preempted
        privacy.write(run_dir, int(optimizer.iterations.numpy()))
    if callbacks[0].preempted:
        log.warning("stopped by SIGTERM at step %d; run again with --resume", int(optimizer.iterations.numpy()))
        return history
    model.save_pretrained(run.final)
    return history
