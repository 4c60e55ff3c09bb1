"""`tfpretrain finetune`: a BertClassifier from a pretraining run or an HF checkpoint, exported for TFMA."""

from tfpretrain.commands.arguments import add_run_arguments
from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import setup_logging
from tfpretrain.runs import RunDir
from tfpretrain.training.finetune import finetune, load_finetune_experiment


def add_arguments(parser):
    add_run_arguments(parser, "configs/finetune/<name>.yaml", "init=runs/bert trainer.train_steps=500")


def run(args):
    setup_logging()
    experiment = load_finetune_experiment(args.config, args.overrides)
    with removed_on_bad_input(args.out):
        finetune(experiment, args.out, verbose=args.verbose)
    run_dir = RunDir(args.out)
    print(f"fine-tuned: {run_dir.export} (SavedModel), {run_dir.final} (HF), {run_dir.eval_data}")
    return 0
