"""A synthetic fairness metrics table (slices, thresholds, CIs, an escaped-HTML slice name) for report and card
tests."""

XSS = "religion=<script>alert(1)</script>"
SLICES = {  # slice -> (n, shift of the thresholded rates)
    "overall": (2000, 0.0),
    "gender=female": (900, 0.15),  # fails the gate at 0.5 (gap 0.15 > 0.1)
    "gender=male": (1080, -0.02),
    XSS: (20, 0.3),  # small: hatched, skipped by the gate
    "gender=female&religion=muslim": (150, 0.04),
}
BASE = {"false_positive_rate": {0.5: 0.10, 0.75: 0.05}, "false_negative_rate": {0.5: 0.20, 0.75: 0.35}}
LIMITS = {"false_positive_rate": 0.1, "false_negative_rate": 0.1}


def make_rows(slices=SLICES):
    rows = []
    for name, (n, shift) in slices.items():
        rows.append(
            dict(
                slice=name,
                metric="example_count",
                threshold=None,
                value=float(n),
                ci_low=None,
                ci_high=None,
                n=n,
                gap_to_overall=None,
                note=None,
            )
        )
        auc = 0.9 - shift / 3
        rows.append(
            dict(
                slice=name,
                metric="auc",
                threshold=None,
                value=auc,
                ci_low=auc - 0.02,
                ci_high=auc + 0.02,
                n=n,
                gap_to_overall=None,
                note=None,
            )
        )
        for metric, by_threshold in BASE.items():
            for threshold, base in by_threshold.items():
                value = base + shift * (1.0 if threshold == 0.5 else 0.5)
                rows.append(
                    dict(
                        slice=name,
                        metric=metric,
                        threshold=threshold,
                        value=value,
                        ci_low=value - 0.03,
                        ci_high=value + 0.03,
                        n=n,
                        gap_to_overall=None,
                        note=None,
                    )
                )
    overall = {(r["metric"], r["threshold"]): r["value"] for r in rows if r["slice"] == "overall"}
    for r in rows:
        r["gap_to_overall"] = r["value"] - overall[(r["metric"], r["threshold"])]
    return rows
