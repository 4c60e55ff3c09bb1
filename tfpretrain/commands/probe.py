"""`tfpretrain probe`: bias probes (CrowS-Pairs, StereoSet) of a pretrained BERT / GPT-2, overall and per bias type."""

import os

from tfpretrain.commands.arguments import positive_int
from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import setup_logging
from tfpretrain.evaluation.probes.run import SUMMARY_FILE, headline, run_probe

DESCRIPTION = ("Writes OUT/probe_summary.json (metrics with counts, per bias type), OUT/probe_examples.jsonl and "
               "OUT/tfma/ (TFMA's predictions-only run sliced by bias type). Small example files ship in "
               "tfpretrain/evaluation/probes/samples/.")


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="a pretraining run directory or an HF BERT / GPT-2 directory")
    parser.add_argument("--probe", required=True, choices=("crows_pairs", "stereoset"))
    parser.add_argument("--data", required=True,
                        help="CrowS-Pairs CSV (pairs or [MASK] templates) or StereoSet JSON")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="sequences per forward pass")
    parser.add_argument("--confidence", choices=("jackknife", "bootstrap", "none"), default="none",
                        help="TFMA confidence intervals of the per-slice means (default: none; they are slow)")


def run(args):
    setup_logging(quiet_libraries=True)
    with removed_on_bad_input(args.out):
        summary = run_probe(args.model, args.probe, args.data, args.out, batch_size=args.batch_size,
                            confidence=None if args.confidence == "none" else args.confidence)
    for line in headline(summary):
        print(line)
    print(f"summary: {os.path.join(args.out, SUMMARY_FILE)}")
    return 0
