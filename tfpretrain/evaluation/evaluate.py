"""`tfpretrain evaluate`: TFMA + Fairness Indicators -> metrics tables, fairness gate, HTML report, model card.

    OUT/metrics.csv, OUT/metrics.json   one row per slice x metric x threshold (value, CI, n, gap_to_overall)
    OUT/report.html                     self-contained: open it in a browser
    OUT/model_card.md, .json            Mitchell et al. sections, with the per-slice numbers
    OUT/tfma/                           TFMA's own output (tfma.load_eval_result reads it)

The model is a fine-tuning run directory (its export/ SavedModel and eval.tfrecord are used) or a SavedModel with
a tf.Example serving_default; or, for models scored elsewhere, a predictions table (CSV / JSONL / Parquet).
"""

import dataclasses
import os

import yaml

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "eval", "default.yaml")


def _model_paths(model, data):
    """A run directory or a SavedModel -> (saved model dir, eval data, run dir or None)."""
    if os.path.exists(os.path.join(model, "export", "saved_model.pb")):
        run = model
        saved = os.path.join(model, "export")
        data = data or os.path.join(model, "eval.tfrecord")
    elif os.path.exists(os.path.join(model, "saved_model.pb")):
        run, saved = None, model
    else:
        raise FileNotFoundError(f"{model}: neither a fine-tuning run (export/saved_model.pb) nor a SavedModel")
    if not data:
        raise ValueError(f"{model}: no evaluation data: pass --data EVAL.tfrecord")
    return saved, data, run


def _run_info(run):
    if run is None or not os.path.exists(os.path.join(run, "finetune.yaml")):
        return {}, {}, {}
    with open(os.path.join(run, "finetune.yaml")) as f:
        config = yaml.safe_load(f)
    model_info = {"name": os.path.basename(os.path.abspath(run)), "type": "BertClassifier (fine-tuned BERT)",
                  "initialised from": config.get("init"), "classes": config.get("num_classes"),
                  "sequence length": config.get("sequence_length")}
    training = {"data": config.get("train", {}).get("source"), "steps": config.get("trainer", {}).get("train_steps"),
                "optimizer": config.get("trainer", {}).get("optimizer", {}).get("name")}
    data = {"evaluation data": (config.get("eval") or {}).get("source"),
            "group columns": (config.get("eval") or {}).get("group_fields")}
    return model_info, training, data


def evaluate(out, *, model=None, data=None, predictions=None, config=None, slices=None, intersections=None,
             thresholds=None, confidence="config", min_slice_size=None, pipeline_options=None, title=None,
             label_column=None, score_column=None):
    """Run the evaluation; returns (rows, gate result or None, {artefact: path})."""
    from tfpretrain.evaluation import fairness
    from tfpretrain.evaluation.model_card import write_model_card
    from tfpretrain.evaluation.report import write_report

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
    os.makedirs(out, exist_ok=True)
    tfma_dir = os.path.join(out, "tfma")
    run = None
    if predictions is not None:
        result = fairness.evaluate_predictions(predictions, output_dir=tfma_dir, **settings.predictions_kwargs())
        data_info = {"predictions": predictions}
    else:
        saved, data, run = _model_paths(model, data)
        result = fairness.evaluate_saved_model(saved, data, output_dir=tfma_dir, pipeline_options=pipeline_options,
                                               **settings.saved_model_kwargs())
        data_info = {"evaluation data": data, "saved model": saved}
    rows = fairness.metrics_table(result)
    paths = fairness.write_tables(rows, out)
    gate_result = settings.gate.check(rows) if settings.gate else None
    model_info, training, run_data = _run_info(run)
    model_info = model_info or {"model": model or predictions}
    title = title or f"Fairness evaluation: {model_info.get('name', model or predictions)}"
    paths["report"] = write_report(os.path.join(out, "report.html"), rows, title=title, gate=settings.gate,
                                   model_info=model_info, min_slice_size=settings.min_slice_size)
    card = write_model_card(os.path.join(out, "model_card.md"), model_info=model_info, training=training,
                            data={**run_data, **data_info}, evaluation_rows=rows, gate=settings.gate,
                            min_slice_size=settings.min_slice_size, report_path="report.html")
    paths.update(model_card=card["markdown"], model_card_json=card["json"], tfma=tfma_dir)
    return rows, gate_result, paths
