"""`tfpretrain export`: a run directory -> deployable artefacts.

A fine-tuning run -> OUT/savedmodel (tf.Example serving_default + token_ids signatures, for TF Serving and TFMA)
and OUT/hf (Hugging Face format + tokenizer). A pretraining run -> OUT/hf.
"""

import os
import shutil

from tfpretrain import runs
from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import print_paths
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.training.export import export_classifier, export_hf


def export_run(run, out):
    """Export a finished pretraining or fine-tuning run into OUT; returns {artefact: path}."""
    run_dir = runs.RunDir(run)
    if not os.path.exists(os.path.join(run_dir.final, runs.RunDir.HF_CONFIG)):
        raise FileNotFoundError(f"{run}: no {runs.RunDir.FINAL}/{runs.RunDir.HF_CONFIG}; is it a finished "
                                "pretraining or fine-tuning run?")
    paths = {}
    config = run_dir.read_finetune_config()
    if config is not None:
        loaded = runs.load(run_dir.path, BertClassifier, num_classes=config["num_classes"],
                           require_heads={"classifier": "exporting a fine-tuned classifier"})
        paths["savedmodel"] = export_classifier(loaded.model, os.path.join(out, "savedmodel"),
                                                config["sequence_length"])
        paths["hf"] = export_hf(loaded.model, os.path.join(out, "hf"), loaded.checkpoint.tokenizer_path)
    else:
        target = os.path.join(out, "hf")
        if os.path.exists(target):
            raise FileExistsError(f"{target} exists")
        shutil.copytree(run_dir.final, target)
        if os.path.exists(run_dir.tokenizer):
            shutil.copy(run_dir.tokenizer, target)
        paths["hf"] = target
    return paths


def add_arguments(parser):
    parser.add_argument("--run", required=True, help="a pretraining or fine-tuning run directory")
    parser.add_argument("--out", required=True, help="output directory")


def run(args):
    with removed_on_bad_input(args.out):
        print_paths(export_run(args.run, args.out))
    return 0
