"""`tfpretrain prepare`: corpus -> cleaned, deduplicated, PII-scrubbed, tokenized TFRecord shards + manifest."""

from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import setup_logging
from tfpretrain.data.prepare import prepare
from tfpretrain.data.prepare_config import load_prepare_config

UNKNOWN_FLAGS_TO_BEAM = True
DESCRIPTION = ("Unknown --flags go to Apache Beam's PipelineOptions, e.g. --runner=DataflowRunner --project=P "
               "--region=R --temp_location=gs://B/tmp; the default is Beam's local FnApiRunner in multi-processing "
               "mode.")


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="configs/data/<name>.yaml")
    parser.add_argument("--input", action="append", help="source pattern or spec (repeatable); replaces sources")
    parser.add_argument("--output", help="output directory (local or gs://); replaces the config's output")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. num_shards=64 tokenizer.lowercase=false")


def run(args):
    setup_logging()
    config = load_prepare_config(args.config, args.overrides, inputs=args.input, output=args.output)
    with removed_on_bad_input(config.output):
        manifest = prepare(config, args.beam_args or None)
    for split, entry in manifest["splits"].items():
        print(f"{split}: {entry['records']} records, {entry['tokens']} tokens in {len(entry['shards'])} shards")
    print(f"manifest: {config.output}/manifest.json")
    return 0
