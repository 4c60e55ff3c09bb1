"""`tfpretrain evaluate`: TFMA + Fairness Indicators -> metrics tables, fairness gate, HTML report, model card.

    OUT/metrics.csv, OUT/metrics.json   one row per slice x metric x threshold (value, CI, n, gap_to_overall)
    OUT/report.html                     self-contained: open it in a browser
    OUT/model_card.md, .html, .json     Mitchell et al. sections, the per-slice numbers, the pretraining corpus's
                                        statistics (documents, duplicates, PII scrubbed), training setup, hardware
    OUT/tfma/                           TFMA's own output (tfma.load_eval_result reads it)
    OUT/explanations.json               with explain > 0: integrated gradients for sampled examples of each slice

Beside the fairness slices, the report and the card carry what else was measured about the model: the privacy
budget and the energy of its training runs (RUN/privacy.json, RUN/energy.json of the fine-tuning run and the
pretraining run it started from), bias probe results (`tfpretrain probe` output directories), canary exposure
(`tfpretrain audit` output directories) and integrated-gradients explanations.

The model is a fine-tuning run directory (its export/ SavedModel and eval.tfrecord are used) or a SavedModel with
a tf.Example serving_default; or, for models scored elsewhere, a predictions table (CSV / JSONL / Parquet).
"""

import dataclasses
import os

from tfpretrain.commands.arguments import non_negative_int, positive_int
from tfpretrain.commands.bad_input import removed_on_bad_input
from tfpretrain.commands.console import print_paths, setup_logging
from tfpretrain.config import CONFIGS_DIR
from tfpretrain.data.manifest import read_manifest
from tfpretrain.errors import UserError
from tfpretrain.evaluation import fairness
from tfpretrain.evaluation import training_runs as run_records
from tfpretrain.evaluation.explain.selection import explain_run, write_explanations
from tfpretrain.evaluation.memorization import EXPOSURE_FILE
from tfpretrain.evaluation.probes.run import SUMMARY_FILE
from tfpretrain.reporting import write_model_card, write_report
from tfpretrain.reporting.sections.explanations import explanations_section
from tfpretrain.reporting.sections.exposure import exposure_section
from tfpretrain.reporting.sections.probes import probe_section
from tfpretrain.reporting.sections.training_runs import energy_section, privacy_section
from tfpretrain.runs import RunDir, read_json

DEFAULT_CONFIG = os.fspath(CONFIGS_DIR / "eval" / "default.yaml")


def _model_paths(model, data):
    """A run directory or a SavedModel -> (saved model dir, eval data, run dir or None)."""
    run = RunDir(model)
    if run.has_export():
        saved, data, run = run.export, data or run.eval_data, model
    elif os.path.exists(os.path.join(model, RunDir.SAVED_MODEL)):
        run, saved = None, model
    else:
        raise FileNotFoundError(f"{model}: neither a fine-tuning run ({RunDir.EXPORT}/{RunDir.SAVED_MODEL}) nor a "
                                "SavedModel")
    if not data:
        raise UserError(f"{model}: no evaluation data: pass --data EVAL.tfrecord")
    return saved, data, run


def _pretraining_data(init):
    """The pretraining run a fine-tune started from -> its corpus statistics from the prepared manifest."""
    config = RunDir(init).read_experiment() if init else None
    if config is None:
        return None
    info = {"pretraining run": init, "model": config.get("model"), "trainer": config.get("trainer")}
    try:
        manifest = read_manifest(config["data"]["train"])
        if manifest.get("stages"):
            info["stages"] = manifest["stages"]
        info["corpus"] = {
            "sources": manifest.get("sources"),
            "documents": manifest.get("documents"),
            "personal data scrubbed (count per type)": manifest.get("pii") or "none found",
            "tokenizer": {k: manifest["tokenizer"].get(k) for k in ("kind", "sha256")},
            "records per split": {k: v["records"] for k, v in manifest["splits"].items()},
        }
    except Exception as e:  # a moved or deleted corpus must not stop the evaluation; say so in the card
        info["corpus"] = f"manifest not readable ({e})"
    return info


def _run_info(run):
    """Model card inputs from a fine-tuning run: model details, training procedure and data, hardware."""
    config = RunDir(run).read_finetune_config() if run is not None else None
    if config is None:
        return {}, {}, {}
    trainer = config.get("trainer", {})
    model_info = {"name": os.path.basename(os.path.abspath(run)), "type": "BertClassifier (fine-tuned BERT)",
                  "initialised from": config.get("init"), "classes": config.get("num_classes"),
                  "sequence length": config.get("sequence_length")}
    training = {
        "fine-tuning data": config.get("train", {}).get("source"),
        "steps": trainer.get("train_steps"),
        "global batch size": trainer.get("global_batch_size"),
        "optimizer": trainer.get("optimizer"),
        "precision": trainer.get("precision"),
    }
    hardware = RunDir(run).read_json(RunDir.RUN_INFO)
    if hardware is not None:
        training["hardware"] = hardware
    pretraining = _pretraining_data(config.get("init"))
    if pretraining:
        stages = pretraining.pop("stages", None)
        training["pretraining"] = pretraining
        if stages:
            training["data_stages"] = stages  # the card's training-data section tabulates them
    data = {"evaluation data": (config.get("eval") or {}).get("source"),
            "group columns": (config.get("eval") or {}).get("group_fields")}
    return model_info, training, data


def _responsible_sections(out, run, settings, data, *, probes, audits, explain, explain_steps, seed):
    """(reporting Sections for the report and the card, {artefact: path}) for what else was measured about the
    model: explanations, bias probes, canary exposure, privacy budget and energy."""
    sections, paths = [], {}
    if explain and run is not None:
        records = explain_run(run, data=data, slices=list(settings.slices), groups=settings.groups,
                              label_key=settings.label_key, per_slice=explain, steps=explain_steps, seed=seed)
        paths["explanations"] = write_explanations(records, os.path.join(out, "explanations.json"))
        sections.append(explanations_section(records))
    if probes:
        summaries = [_read_json(os.path.join(d, SUMMARY_FILE), "a `tfpretrain probe` output") for d in probes]
        sections.append(probe_section(summaries))
    for directory in audits or ():
        summary = _read_json(os.path.join(directory, EXPOSURE_FILE), "a `tfpretrain audit` output")
        sections.append(exposure_section(summary))
    runs = run_records.training_runs(run)
    if runs:
        privacy, energy = run_records.privacy_records(runs), run_records.energy_records(runs)
        sections += [privacy_section(privacy), energy_section(energy)]
    return sections, paths


def _read_json(path, what):
    contents = read_json(path)
    if contents is None:
        raise FileNotFoundError(f"{path} does not exist: expected {what}")
    return contents


def evaluate(out, *, model=None, data=None, predictions=None, config=None, slices=None, intersections=None,
             thresholds=None, confidence="config", min_slice_size=None, pipeline_options=None, title=None,
             label_column=None, score_column=None, probes=(), audits=(), explain=0, explain_steps=32, seed=0):
    """Run the evaluation; returns (rows, gate result or None, {artefact: path}).

    probes / audits: `tfpretrain probe` / `tfpretrain audit` output directories whose results join the report and
    the card. explain: examples per slice value to explain with integrated gradients (0: none; needs a run).
    """
    settings = fairness.load_settings(config or DEFAULT_CONFIG)
    changes = {}
    if slices is not None:
        changes["slices"] = tuple(slices)
        # Only the groups the chosen slices use; other columns are read from the data as they are.
        changes["groups"] = tuple(g for g in settings.groups if g.column in set(slices) | {c for i in
                                                                                     (intersections or ()) for c in i})
        changes["intersections"] = tuple(tuple(i) for i in (intersections or ()))
    elif intersections is not None:
        changes["intersections"] = tuple(tuple(i) for i in intersections)
    if thresholds is not None:
        changes["thresholds"] = tuple(thresholds)
    if confidence != "config":
        changes["confidence"] = confidence
    if min_slice_size is not None:
        changes["min_slice_size"] = min_slice_size
    if label_column is not None:
        changes["label_key"] = label_column
    if score_column is not None:
        changes["prediction_key"] = score_column
    settings = dataclasses.replace(settings, **changes)
    run = None
    if predictions is None:
        saved, data, run = _model_paths(model, data)  # before anything is written
    os.makedirs(out, exist_ok=True)
    tfma_dir = os.path.join(out, "tfma")
    if predictions is not None:
        result = fairness.evaluate_predictions(predictions, output_dir=tfma_dir, **settings.predictions_kwargs())
        data_info = {"predictions": predictions}
    else:
        result = fairness.evaluate_saved_model(saved, data, output_dir=tfma_dir, pipeline_options=pipeline_options,
                                               **settings.saved_model_kwargs())
        data_info = {"evaluation data": data, "saved model": saved}
    rows = fairness.metrics_table(result)
    paths = fairness.write_tables(rows, out)
    gate_result = settings.gate.check(rows) if settings.gate else None
    model_info, training, run_data = _run_info(run)
    model_info = model_info or {"model": model or predictions}
    title = title or f"Fairness evaluation: {model_info.get('name', model or predictions)}"
    sections, extra_paths = _responsible_sections(
        out, run, settings, data if predictions is None else None, probes=probes, audits=audits, explain=explain,
        explain_steps=explain_steps, seed=seed)
    paths.update(extra_paths)
    paths["report"] = write_report(os.path.join(out, "report.html"), rows, title=title, gate=settings.gate,
                                   model_info=model_info, min_slice_size=settings.min_slice_size, sections=sections)
    card = write_model_card(os.path.join(out, "model_card.md"), model_info=model_info, training=training,
                            data={**run_data, **data_info}, evaluation_rows=rows, gate=settings.gate,
                            min_slice_size=settings.min_slice_size, report_path="report.html", sections=sections)
    paths.update(model_card=card["markdown"], model_card_html=card["html"], model_card_json=card["json"],
                 tfma=tfma_dir)
    return rows, gate_result, paths


# ------------------------------------------------------------------------------------------------ the command

UNKNOWN_FLAGS_TO_BEAM = True
DESCRIPTION = ("Exit status 1 when the config's fairness gate fails, 3 when it checked nothing. Unknown --flag=value "
               "arguments go to Beam's PipelineOptions (SavedModel path), e.g. --direct_running_mode=multi_processing.")


def add_arguments(parser):
    parser.add_argument("--model", help="a fine-tuning run directory or a SavedModel (tf.Example serving_default)")
    parser.add_argument("--data", help="TFRecord(s) of tf.Example; default RUN/eval.tfrecord")
    parser.add_argument("--predictions", help="a CSV / JSONL / Parquet table of labels and scores instead")
    parser.add_argument("--label-column", default=None, help="predictions table: the label column")
    parser.add_argument("--score-column", default=None, help="predictions table: the score column")
    parser.add_argument("--config", default=None, help="configs/eval/<name>.yaml (default: default.yaml)")
    parser.add_argument("--slices", help="comma-separated slice columns, e.g. gender,religion")
    parser.add_argument("--intersection", action="append", help="columns joined by &, e.g. gender&religion")
    parser.add_argument("--thresholds", help="comma-separated decision thresholds, e.g. 0.25,0.5,0.75")
    parser.add_argument("--confidence", choices=("jackknife", "bootstrap", "none"), default=None)
    parser.add_argument("--min-slice-size", type=positive_int, default=None)
    parser.add_argument("--probes", action="append", help="a `tfpretrain probe` output directory (repeatable)")
    parser.add_argument("--audit", action="append", help="a `tfpretrain audit` output directory (repeatable)")
    parser.add_argument("--explain", type=non_negative_int, default=0,
                        help="examples per slice value to explain with integrated gradients (default 0: none)")
    parser.add_argument("--explain-steps", type=positive_int, default=32, help="integrated-gradients path steps")
    parser.add_argument("--out", required=True, help="output directory")


def _thresholds(text):
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise UserError(f"--thresholds {text!r}: expected comma-separated numbers, e.g. 0.25,0.5,0.75") from None


def run(args):
    if (args.model is None) == (args.predictions is None):
        raise UserError("give exactly one of --model and --predictions")
    setup_logging()
    confidence = "config" if args.confidence is None else (None if args.confidence == "none" else args.confidence)
    with removed_on_bad_input(args.out):
        _, gate, paths = evaluate(
            args.out,
            model=args.model,
            data=args.data,
            predictions=args.predictions,
            config=args.config,
            slices=args.slices.split(",") if args.slices else None,
            intersections=[i.split("&") for i in args.intersection] if args.intersection else None,
            thresholds=_thresholds(args.thresholds) if args.thresholds else None,
            confidence=confidence,
            min_slice_size=args.min_slice_size,
            pipeline_options=args.beam_args or None,
            label_column=args.label_column,
            score_column=args.score_column,
            probes=args.probes or (),
            audits=args.audit or (),
            explain=args.explain,
            explain_steps=args.explain_steps,
        )
    print_paths(paths)
    if gate is None:
        return 0
    print(gate.message())
    return gate.exit_code  # 0 pass, 1 fail, 3 nothing checked
