"""`tfpretrain pretrain`: BERT (MLM + NSP) or GPT-2 on a prepared corpus, with checkpoints and resume."""

from tfpretrain.commands.arguments import add_run_arguments
from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import setup_logging
from tfpretrain.training.experiment import load_experiment
from tfpretrain.training.trainer import pretrain

DESCRIPTION = ("Writes RUN/experiment.yaml (resolved), checkpoints/, metrics.jsonl, tensorboard/, final/ (HF format). "
               "SIGTERM (preemption) saves a checkpoint and stops; --resume continues from the latest checkpoint.")


def add_arguments(parser):
    add_run_arguments(parser, "configs/pretrain/<name>.yaml", "trainer.train_steps=1000")


def run(args):
    setup_logging()
    experiment = load_experiment(args.config, args.overrides)
    with removed_on_bad_input(args.out):
        pretrain(experiment, args.out, resume=args.resume, verbose=args.verbose)
    return 0
