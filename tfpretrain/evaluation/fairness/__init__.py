"""Fairness evaluation: TFMA + Fairness Indicators sliced by group, the tidy metrics table and the gate.

Public entry points (TFMA itself is imported only when an evaluation runs):

    from tfpretrain.evaluation import fairness
    result = fairness.evaluate_predictions("preds.csv", label_column="label", score_column="score",
                                           slices=["gender"], output_dir="out/tfma")
    rows = fairness.metrics_table(result)
    fairness.write_tables(rows, "out")
"""

from tfpretrain.evaluation.fairness.gate import FairnessGate, GateResult
from tfpretrain.evaluation.fairness.tfma_runner import (
    EvalSettings,
    EvaluationInputError,
    build_eval_config,
    evaluate_outcome_means,
    evaluate_predictions,
    evaluate_saved_model,
    load_settings,
    metrics_table,
    read_table,
    read_tables,
    write_tables,
)

__all__ = [
    "EvalSettings",
    "EvaluationInputError",
    "FairnessGate",
    "GateResult",
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
