"""Argument pieces several commands share: the training commands' common arguments, and argument types that turn a
bad number into argparse's one-line usage error (exit 2) instead of a traceback from deep inside a run."""

import argparse


def add_run_arguments(parser, config_help, overrides_example):
    """`pretrain` and `finetune`: a config, a run directory, resume, Keras progress output and dotted overrides."""
    parser.add_argument("--config", required=True, help=config_help)
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue from the run directory's latest checkpoint")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")
    parser.add_argument("overrides", nargs="*", help=f"dotted overrides, e.g. {overrides_example}")


def _number(kind, accept, expected):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {expected}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {expected}")
        return value

    parse.__name__ = expected  # argparse names the type in its message
    return parse


positive_int = _number(int, lambda v: v >= 1, "an integer >= 1")
non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number(float, lambda v: v > 0, "a number > 0")
probability = _number(float, lambda v: 0 < v <= 1, "a number in (0, 1]")
