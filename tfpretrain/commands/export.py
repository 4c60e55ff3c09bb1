"""`tfpretrain export`: a run directory -> deployable artefacts.

A fine-tuning run -> OUT/savedmodel (tf.Example serving_default + token_ids signatures, for TF Serving and TFMA)
and OUT/hf (Hugging Face format + tokenizer). A pretraining run -> OUT/hf.
"""

import os
import shutil

import yaml


def export_run(run, out):
    from tfpretrain.training.export import export_classifier, export_hf

    final = os.path.join(run, "final")
    if not os.path.exists(os.path.join(final, "config.json")):
        raise FileNotFoundError(f"{run}: no final/config.json; is it a finished pretraining or fine-tuning run?")
    paths = {}
    finetune_config = os.path.join(run, "finetune.yaml")
    if os.path.exists(finetune_config):
        from tfpretrain.models.bert.bert_classifier import BertClassifier

        with open(finetune_config) as f:
            config = yaml.safe_load(f)
        model = BertClassifier.from_pretrained(final, num_classes=config["num_classes"])
        tokenizer = next(os.path.join(final, n) for n in ("tokenizer.json", "vocab.txt")
                         if os.path.exists(os.path.join(final, n)))
        paths["savedmodel"] = export_classifier(model, os.path.join(out, "savedmodel"), config["sequence_length"])
        paths["hf"] = export_hf(model, os.path.join(out, "hf"), tokenizer)
    else:
        target = os.path.join(out, "hf")
        if os.path.exists(target):
            raise FileExistsError(f"{target} exists")
        shutil.copytree(final, target)
        if os.path.exists(os.path.join(run, "tokenizer.json")):
            shutil.copy(os.path.join(run, "tokenizer.json"), target)
        paths["hf"] = target
    return paths
