"""`tfpretrain <command>`: the argument layer. Each command is one module of tfpretrain.commands with
`add_arguments(parser)` and `run(args) -> exit status`; only the command being run is imported, so
`tfpretrain --help` starts no TensorFlow.

Exit status: 0 done; 1 the fairness gate failed; 3 the gate checked nothing; 2 bad input (one line on stderr naming
the file / key / column; --debug shows the traceback). Any other error is a bug and keeps its traceback.
"""

import argparse
import importlib
import os
import sys

from tfpretrain.commands.bad_input import BAD_INPUT, one_line

# command -> one-line help; the module tfpretrain.commands.<command> holds its arguments and what it does.
COMMANDS = {
    "demo": "offline end-to-end run: prepare, pretrain, fine-tune, fairness evaluation, generate",
    "prepare": "corpus -> cleaned, deduplicated, PII-scrubbed, tokenized TFRecord shards + manifest (Apache Beam)",
    "pretrain": "pretrain BERT (MLM + NSP) or GPT-2 on a prepared corpus with checkpoints and resume",
    "finetune": "fine-tune a BertClassifier from a pretraining run or HF checkpoint; export it for TFMA",
    "evaluate": "fairness evaluation (TFMA + Fairness Indicators): tables, gate, HTML report, model card",
    "export": "export a run: SavedModel (classifiers) and Hugging Face format",
    "generate": "sample text from a GPT-2 run",
    "probe": "bias probes of a pretrained BERT / GPT-2: CrowS-Pairs and StereoSet, overall and per bias type",
    "audit": "memorisation audit: exposure of the canaries `prepare` inserted (canaries.count > 0)",
}
BAD_INPUT_STATUS = 2
DEBUG_HELP = "show the traceback of every error, bad input included"
DESCRIPTION = "Pretrain, fine-tune and responsibly evaluate BERT and GPT-2 models (tf-keras, TFMA, Apache Beam)."
EPILOG = ("exit status: 0 done, 1 the fairness gate failed, 2 bad input (one line on stderr), 3 the fairness gate "
          "checked nothing. `tfpretrain COMMAND --help` lists a command's options.")


def _command_module(name):
    return importlib.import_module(f"tfpretrain.commands.{name}")


def build_parser(command=None):
    """The parser; the arguments of `command` (the one being run) are added, the others are listed by name only."""
    parser = argparse.ArgumentParser(prog="tfpretrain", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if name == command:
            module = _command_module(name)
            sub.description = getattr(module, "DESCRIPTION", summary)
            module.add_arguments(sub)
            sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)  # here too
            sub.set_defaults(unknown_flags_to_beam=getattr(module, "UNKNOWN_FLAGS_TO_BEAM", False))
    return parser


def _command(argv):
    """The command named in argv (the first word that is not a global option), or None."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv=None):
    """Run a command; returns 0, or raises SystemExit with the exit status (see the module docstring)."""
    # Entry point: pick legacy Keras before TensorFlow is imported anywhere, and keep TF's C++ logs quiet.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else [os.fspath(a) for a in argv]
    command = _command(argv)
    parser = build_parser(command if command in COMMANDS else None)
    args, unknown = parser.parse_known_args(argv)
    if unknown and not args.unknown_flags_to_beam:
        parser.parse_args(argv)  # argparse's usual error for unknown flags
    args.beam_args = unknown
    try:
        status = _command_module(args.command).run(args)
    except BAD_INPUT as e:
        if args.debug:
            raise
        print(f"tfpretrain {args.command}: error: {one_line(e)}", file=sys.stderr)
        status = BAD_INPUT_STATUS
    if status:
        raise SystemExit(status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
