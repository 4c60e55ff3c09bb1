"""`tfpretrain audit`: memorisation audit, the exposure of the canaries `prepare` inserted (canaries.count > 0)."""

import os

from tfpretrain.commands.arguments import positive_int
from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import setup_logging
from tfpretrain.evaluation.memorization import EXPOSURE_FILE, audit

DESCRIPTION = ("Scores each canary's secret and random candidate secrets in the same template (GPT-2 log-likelihood, "
               "BERT pseudo-log-likelihood) and writes OUT/exposure.json; secrets are never printed.")


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="a pretraining run directory or an HF BERT / GPT-2 directory")
    parser.add_argument("--canaries", required=True, help="PREPARED_DIR/canaries.json, written by `prepare`")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--candidates", type=positive_int, default=1000,
                        help="random candidate secrets (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the candidate draw")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="sequences per forward pass")


def run(args):
    setup_logging()
    with removed_on_bad_input(args.out):
        summary = audit(args.model, args.canaries, args.out, candidates=args.candidates, seed=args.seed,
                        batch_size=args.batch_size)
    print(f"exposure (bits, at most {summary['exposure_bound']:.2f}) against {summary['candidates']} candidates:")
    for level in summary["by_repetitions"]:
        print(f"  inserted {level['repetitions']}x: mean {level['mean_exposure']:.2f}, "
              f"max {level['max_exposure']:.2f} ({level['count']} canaries)")
    print(f"exposure: {os.path.join(args.out, EXPOSURE_FILE)}")
    return 0
