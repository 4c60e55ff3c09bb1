"""`tfpretrain <subcommand>`: a thin argument layer over the library."""

import argparse
import os
import sys


def _demo(args):
    from tfpretrain import demo

    demo.run(out_dir=args.out, bert_steps=args.bert_steps, gpt2_steps=args.gpt2_steps, seed=args.seed)


def _prepare(args, beam_args):
    import logging

    from tfpretrain.data.prepare import prepare
    from tfpretrain.data.prepare_config import load_prepare_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_prepare_config(args.config, args.overrides, inputs=args.input, output=args.output)
    manifest = prepare(config, beam_args or None)
    for split, entry in manifest["splits"].items():
        print(f"{split}: {entry['records']} records, {entry['tokens']} tokens in {len(entry['shards'])} shards")
    print(f"manifest: {config.output}/manifest.json")


def _pretrain(args):
    import logging

    from tfpretrain.training.experiment import load_experiment
    from tfpretrain.training.trainer import pretrain

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    experiment = load_experiment(args.config, args.overrides)
    pretrain(experiment, args.out, resume=args.resume, verbose=args.verbose)


def build_parser():
    parser = argparse.ArgumentParser(prog="tfpretrain", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="offline end-to-end run: tokenizers, BERT + GPT-2 pretraining, sampling")
    demo.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    demo.add_argument("--bert-steps", type=int, default=600, help="BERT training steps (default: 600)")
    demo.add_argument("--gpt2-steps", type=int, default=600, help="GPT-2 training steps (default: 600)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)

    prepare = commands.add_parser(
        "prepare",
        help="corpus -> cleaned, deduplicated, PII-scrubbed, tokenized TFRecord shards + manifest (Apache Beam)",
        description="Unknown --flags go to Apache Beam's PipelineOptions, e.g. --runner=DataflowRunner "
        "--project=P --region=R --temp_location=gs://B/tmp; the default is the DirectRunner in multi-processing mode.",
    )
    prepare.add_argument("--config", required=True, help="configs/data/<name>.yaml")
    prepare.add_argument("--input", action="append", help="source pattern or spec (repeatable); replaces sources")
    prepare.add_argument("--output", help="output directory (local or gs://); replaces the config's output")
    prepare.add_argument("overrides", nargs="*", help="dotted overrides, e.g. num_shards=64 tokenizer.lowercase=false")
    prepare.set_defaults(func=_prepare, passes_unknown=True)

    pretrain = commands.add_parser(
        "pretrain",
        help="pretrain BERT (MLM + NSP) or GPT-2 on a prepared corpus with checkpoints and resume",
        description="Writes RUN/experiment.yaml (resolved), checkpoints/, metrics.jsonl, tensorboard/, "
        "final/ (HF format). SIGTERM (preemption) saves a checkpoint and stops; --resume continues from the "
        "latest checkpoint.",
    )
    pretrain.add_argument("--config", required=True, help="configs/pretrain/<name>.yaml")
    pretrain.add_argument("--out", required=True, help="run directory")
    pretrain.add_argument("--resume", action="store_true", help="continue from the run directory's latest checkpoint")
    pretrain.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")
    pretrain.add_argument("overrides", nargs="*", help="dotted overrides, e.g. trainer.train_steps=1000")
    pretrain.set_defaults(func=_pretrain)
    return parser


def main(argv=None):
    # Entry point: pick legacy Keras before TensorFlow is imported anywhere, and keep TF's C++ logs quiet.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if not getattr(args, "passes_unknown", False):
        args = parser.parse_args(argv)  # the usual error for unknown flags
        args.func(args)
    else:
        args.func(args, unknown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
