"""`tfpretrain <subcommand>`: a thin argument layer over the library."""

import argparse
import os
import sys


def _demo(args):
    from tfpretrain import demo

    demo.run(out_dir=args.out, bert_steps=args.bert_steps, gpt2_steps=args.gpt2_steps, seed=args.seed)


def build_parser():
    parser = argparse.ArgumentParser(prog="tfpretrain", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="offline end-to-end run: tokenizers, BERT + GPT-2 pretraining, sampling")
    demo.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    demo.add_argument("--bert-steps", type=int, default=600, help="BERT training steps (default: 600)")
    demo.add_argument("--gpt2-steps", type=int, default=600, help="GPT-2 training steps (default: 600)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    # Entry point: pick legacy Keras before TensorFlow is imported anywhere, and keep TF's C++ logs quiet.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
