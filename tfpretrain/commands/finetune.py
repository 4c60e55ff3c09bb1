"""`tfpretrain finetune`: a BertClassifier from a pretraining run or an HF checkpoint, exported for TFMA."""

from tfpretrain.commands.arguments import add_run_arguments
from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import setup_logging
from tfpretrain.runs import RunDir
from tfpretrain.training.finetune import finetune, load_finetune_experiment

DESCRIPTION = ("Writes RUN/finetune.yaml, checkpoints/, metrics.jsonl, tensorboard/, then export/ (SavedModel), "
               "final/ (HF format) and eval.tfrecord. SIGTERM (preemption) saves a checkpoint and stops before the "
               "export; --resume continues from the latest checkpoint.")


def add_arguments(parser):
    add_run_arguments(parser, "configs/finetune/<name>.yaml", "init=runs/bert trainer.train_steps=500")


def run(args):
    setup_logging()
    experiment = load_finetune_experiment(args.config, args.overrides)
    with removed_on_bad_input(args.out):
        finetune(experiment, args.out, resume=args.resume, verbose=args.verbose)
    run_dir = RunDir(args.out)
    if not run_dir.has_export():  # stopped by SIGTERM: a checkpoint at the step reached, nothing exported yet
        print(f"stopped before the last step: {run_dir.checkpoints} holds the step reached; run again with --resume")
        return 0
    print(f"fine-tuned: {run_dir.export} (SavedModel), {run_dir.final} (HF), {run_dir.eval_data}")
    return 0
