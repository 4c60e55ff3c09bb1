"""Fairness evaluation: TFMA + Fairness Indicators sliced by group, the tidy metrics table and the gate.

Public entry points (TFMA itself is imported only when an evaluation runs):

    from tfpretrain.evaluation import fairness
    result = fairness.evaluate_predictions("preds.csv", label_column="label", score_column="score",
                                           slices=["gender"], output_dir="out/tfma")
    rows = fairness.metrics_table(result)
    fairness.write_tables(rows, "out")

Modules: settings (configs/eval/*.yaml), groups (slice columns from annotations), eval_config (what TFMA computes),
inputs (model / data / predictions checks), tfma_runner (the TFMA runs; the only TFMA import), metrics_table
(EvalResult -> rows), intervals (confidence intervals within each metric's range), tables (metrics.csv / .json),
gate (pass / fail / unchecked).
"""

from tfpretrain.evaluation.fairness.eval_config import DEFAULT_THRESHOLDS
from tfpretrain.evaluation.fairness.gate import FairnessGate, GateResult
from tfpretrain.evaluation.fairness.inputs import EvaluationInputError, read_table
from tfpretrain.evaluation.fairness.metrics_table import metrics_table
from tfpretrain.evaluation.fairness.settings import EvalSettings, load_settings
from tfpretrain.evaluation.fairness.tables import TABLE_COLUMNS, read_tables, write_tables
from tfpretrain.evaluation.fairness.tfma_runner import (
    build_eval_config,
    evaluate_outcome_means,
    evaluate_predictions,
    evaluate_saved_model,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EvalSettings",
    "EvaluationInputError",
    "FairnessGate",
    "GateResult",
    "TABLE_COLUMNS",
    "build_eval_config",
    "evaluate_outcome_means",
    "evaluate_predictions",
    "evaluate_saved_model",
    "load_settings",
    "metrics_table",
    "read_table",
    "read_tables",
    "write_tables",
]
