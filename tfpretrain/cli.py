"""`tfpretrain <subcommand>`: a thin argument layer over the library."""

import argparse
import os
import sys


def _demo(args):
    from tfpretrain.commands import demo

    _logging()
    for noisy in ("apache_beam", "absl", "tensorflow"):
        __import__("logging").getLogger(noisy).setLevel("WARNING")
    demo.run(out_dir=args.out, bert_steps=args.bert_steps, gpt2_steps=args.gpt2_steps,
             finetune_steps=args.finetune_steps, seed=args.seed)


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


def _logging():
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _finetune(args):
    from tfpretrain.training.finetune import finetune, load_finetune_experiment

    _logging()
    finetune(load_finetune_experiment(args.config, args.overrides), args.out, verbose=args.verbose)
    print(f"fine-tuned: {args.out}/export (SavedModel), {args.out}/final (HF), {args.out}/eval.tfrecord")


def _evaluate(args, beam_args):
    from tfpretrain.commands.evaluate import evaluate

    if (args.model is None) == (args.predictions is None):
        raise SystemExit("tfpretrain evaluate: give exactly one of --model and --predictions")
    _logging()
    confidence = "config" if args.confidence is None else (None if args.confidence == "none" else args.confidence)
    rows, gate, paths = evaluate(
        args.out,
        model=args.model,
        data=args.data,
        predictions=args.predictions,
        config=args.config,
        slices=args.slices.split(",") if args.slices else None,
        intersections=[i.split("&") for i in args.intersection] if args.intersection else None,
        thresholds=[float(t) for t in args.thresholds.split(",")] if args.thresholds else None,
        confidence=confidence,
        min_slice_size=args.min_slice_size,
        pipeline_options=beam_args or None,
        label_column=args.label_column,
        score_column=args.score_column,
        probes=args.probes or (),
        audits=args.audit or (),
        explain=args.explain,
        explain_steps=args.explain_steps,
    )
    for name, path in paths.items():
        print(f"{name}: {path}")
    if gate is not None:
        print(gate.message())
        if not gate.passed:
            raise SystemExit(1)


def _export(args):
    from tfpretrain.commands.export import export_run

    for name, path in export_run(args.run, args.out).items():
        print(f"{name}: {path}")


def _generate(args):
    from tfpretrain.commands.generate import generate_text

    texts = generate_text(args.run, args.prompt, max_length=args.max_length, sampler=args.sampler,
                          temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    for prompt, text in zip(args.prompt, texts):
        print(f"--- {prompt!r}\n{text}")


def _probe(args):
    from tfpretrain.evaluation.probes.run import SUMMARY_FILE, headline, run_probe

    _logging()
    for noisy in ("apache_beam", "absl", "tensorflow"):
        __import__("logging").getLogger(noisy).setLevel("WARNING")
    summary = run_probe(args.model, args.probe, args.data, args.out, batch_size=args.batch_size,
                        confidence=None if args.confidence == "none" else args.confidence)
    for line in headline(summary):
        print(line)
    print(f"summary: {os.path.join(args.out, SUMMARY_FILE)}")


def _audit(args):
    from tfpretrain.evaluation.memorization import EXPOSURE_FILE, audit

    _logging()
    summary = audit(args.model, args.canaries, args.out, candidates=args.candidates, seed=args.seed,
                    batch_size=args.batch_size)
    print(f"exposure (bits, at most {summary['exposure_bound']:.2f}) against {summary['candidates']} candidates:")
    for level in summary["by_repetitions"]:
        print(f"  inserted {level['repetitions']}x: mean {level['mean_exposure']:.2f}, "
              f"max {level['max_exposure']:.2f} ({level['count']} canaries)")
    print(f"exposure: {args.out}/{EXPOSURE_FILE}")


def build_parser():
    parser = argparse.ArgumentParser(prog="tfpretrain", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="offline end-to-end run: prepare, pretrain, fine-tune, fairness evaluation, generate"
    )
    demo.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    demo.add_argument("--bert-steps", type=int, default=300, help="BERT pretraining steps (default: 300)")
    demo.add_argument("--gpt2-steps", type=int, default=300, help="GPT-2 pretraining steps (default: 300)")
    demo.add_argument("--finetune-steps", type=int, default=150, help="classifier fine-tuning steps (default: 150)")
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

    finetune = commands.add_parser(
        "finetune", help="fine-tune a BertClassifier from a pretraining run or HF checkpoint; export it for TFMA"
    )
    finetune.add_argument("--config", required=True, help="configs/finetune/<name>.yaml")
    finetune.add_argument("--out", required=True, help="run directory")
    finetune.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    finetune.add_argument("overrides", nargs="*", help="dotted overrides, e.g. init=runs/bert trainer.train_steps=500")
    finetune.set_defaults(func=_finetune)

    evaluate = commands.add_parser(
        "evaluate",
        help="fairness evaluation (TFMA + Fairness Indicators): tables, gate, HTML report, model card",
        description="Exit status 1 when the config's fairness gate fails. Unknown --flag=value arguments go to "
        "Beam's PipelineOptions (SavedModel path), e.g. --direct_running_mode=multi_processing.",
    )
    evaluate.add_argument("--model", help="a fine-tuning run directory or a SavedModel (tf.Example serving_default)")
    evaluate.add_argument("--data", help="TFRecord(s) of tf.Example; default RUN/eval.tfrecord")
    evaluate.add_argument("--predictions", help="a CSV / JSONL / Parquet table of labels and scores instead")
    evaluate.add_argument("--label-column", default=None, help="predictions table: the label column")
    evaluate.add_argument("--score-column", default=None, help="predictions table: the score column")
    evaluate.add_argument("--config", default=None, help="configs/eval/<name>.yaml (default: default.yaml)")
    evaluate.add_argument("--slices", help="comma-separated slice columns, e.g. gender,religion")
    evaluate.add_argument("--intersection", action="append", help="columns joined by &, e.g. gender&religion")
    evaluate.add_argument("--thresholds", help="comma-separated decision thresholds, e.g. 0.25,0.5,0.75")
    evaluate.add_argument("--confidence", choices=("jackknife", "bootstrap", "none"), default=None)
    evaluate.add_argument("--min-slice-size", type=int, default=None)
    evaluate.add_argument("--probes", action="append", help="a `tfpretrain probe` output directory (repeatable)")
    evaluate.add_argument("--audit", action="append", help="a `tfpretrain audit` output directory (repeatable)")
    evaluate.add_argument("--explain", type=int, default=0,
                          help="examples per slice value to explain with integrated gradients (default 0: none)")
    evaluate.add_argument("--explain-steps", type=int, default=32, help="integrated-gradients path steps")
    evaluate.add_argument("--out", required=True, help="output directory")
    evaluate.set_defaults(func=_evaluate, passes_unknown=True)

    export = commands.add_parser("export", help="export a run: SavedModel (classifiers) and Hugging Face format")
    export.add_argument("--run", required=True, help="a pretraining or fine-tuning run directory")
    export.add_argument("--out", required=True, help="output directory")
    export.set_defaults(func=_export)

    generate = commands.add_parser("generate", help="sample text from a GPT-2 run")
    generate.add_argument("--run", required=True, help="a GPT-2 pretraining run directory (or an HF GPT-2 directory)")
    generate.add_argument("--prompt", action="append", required=True, help="prompt text (repeatable)")
    generate.add_argument("--max-length", type=int, default=64, help="total tokens, prompt included")
    generate.add_argument("--sampler", choices=("greedy", "random"), default="random")
    generate.add_argument("--temperature", type=float, default=0.8)
    generate.add_argument("--top-k", type=int, default=40)
    generate.add_argument("--top-p", type=float, default=0.95)
    generate.add_argument("--seed", type=int, default=0)
    generate.set_defaults(func=_generate)

    probe = commands.add_parser(
        "probe",
        help="bias probes of a pretrained BERT / GPT-2: CrowS-Pairs and StereoSet, overall and per bias type",
        description="Writes OUT/probe_summary.json (metrics with counts, per bias type), OUT/probe_examples.jsonl "
        "and OUT/tfma/ (TFMA's predictions-only run sliced by bias type). Small example files ship in "
        "tfpretrain/evaluation/probes/samples/.",
    )
    probe.add_argument("--model", required=True, help="a pretraining run directory or an HF BERT / GPT-2 directory")
    probe.add_argument("--probe", required=True, choices=("crows_pairs", "stereoset"))
    probe.add_argument("--data", required=True, help="CrowS-Pairs CSV (pairs or [MASK] templates) or StereoSet JSON")
    probe.add_argument("--out", required=True, help="output directory")
    probe.add_argument("--batch-size", type=int, default=64, help="sequences per forward pass")
    probe.add_argument("--confidence", choices=("jackknife", "bootstrap", "none"), default="none",
                       help="TFMA confidence intervals of the per-slice means (default: none; they are slow)")
    probe.set_defaults(func=_probe)

    audit = commands.add_parser(
        "audit",
        help="memorisation audit: exposure of the canaries `prepare` inserted (canaries.count > 0)",
        description="Scores each canary's secret and random candidate secrets in the same template (GPT-2 "
        "log-likelihood, BERT pseudo-log-likelihood) and writes OUT/exposure.json; secrets are never printed.",
    )
    audit.add_argument("--model", required=True, help="a pretraining run directory or an HF BERT / GPT-2 directory")
    audit.add_argument("--canaries", required=True, help="PREPARED_DIR/canaries.json, written by `prepare`")
    audit.add_argument("--out", required=True, help="output directory")
    audit.add_argument("--candidates", type=int, default=1000, help="random candidate secrets (default: 1000)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the candidate draw")
    audit.add_argument("--batch-size", type=int, default=64, help="sequences per forward pass")
    audit.set_defaults(func=_audit)
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
