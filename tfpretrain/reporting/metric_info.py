"""What each TFMA metric is called and means, for chart titles, table captions, legends and the model card.
Unknown metrics get their name, de-underscored; a "prefix/" (e.g. a TFMA output name) is kept."""

METRIC_INFO: dict[str, tuple[str, str]] = {
    "example_count": ("Example count", "Number of examples in the slice."),
    "weighted_example_count": ("Weighted example count", "Sum of example weights in the slice."),
    "auc": (
        "AUC",
        "Area under the ROC curve: how well scores rank positives above negatives, at every threshold "
        "(higher is better; 0.5 is chance).",
    ),
    "binary_accuracy": ("Accuracy", "Share of examples classified correctly (at threshold 0.5)."),
    "calibration": ("Calibration", "Mean prediction / mean label (1 is calibrated; >1 over-predicts)."),
    "mean_label": ("Mean label", "Share of positive labels in the slice (the base rate)."),
    "mean_prediction": ("Mean prediction", "Mean predicted probability in the slice."),
    "false_positive_rate": (
        "False positive rate",
        "Share of actual negatives flagged as positive (lower is "
        "better). Unequal rates mean some groups are wrongly flagged more often.",
    ),
    "false_negative_rate": ("False negative rate", "Share of actual positives the model misses (lower is better)."),
    "true_positive_rate": (
        "True positive rate",
        "Share of actual positives the model catches (recall; higher is "
        "better). Equal rates across groups is 'equal opportunity'.",
    ),
    "true_negative_rate": ("True negative rate", "Share of actual negatives classified negative (higher is better)."),
    "positive_rate": (
        "Positive rate",
        "Share of examples predicted positive (selection rate; equal rates across groups is 'demographic parity').",
    ),
    "negative_rate": ("Negative rate", "Share of examples predicted negative."),
    "false_discovery_rate": ("False discovery rate", "Share of positive predictions that are wrong (lower is better)."),
    "false_omission_rate": ("False omission rate", "Share of negative predictions that are wrong (lower is better)."),
    "precision": ("Precision", "Share of positive predictions that are right (higher is better)."),
    "recall": ("Recall", "Share of actual positives the model catches (higher is better)."),
}


def _base(metric: str) -> str:
    return metric.rsplit("/", 1)[-1]


def metric_label(metric: str) -> str:
    base = _base(metric)
    label = METRIC_INFO.get(base, (base.replace("_", " ").capitalize(), ""))[0]
    prefix = metric[: -len(base)]
    return f"{prefix}{label}" if prefix else label


def metric_description(metric: str) -> str:
    return METRIC_INFO.get(_base(metric), ("", ""))[1]


def is_count_metric(metric: str) -> bool:
    """Counts are shown as grouped integers and have no gap to overall."""
    return _base(metric).endswith("example_count") or metric.endswith("_count")
