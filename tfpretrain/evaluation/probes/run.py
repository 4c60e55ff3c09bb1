"""`tfpretrain probe`: score a probe file with a pretrained model; write the summary, the examples and TFMA's slices.

    summary = run_probe("runs/bert", "crows_pairs", "crows_pairs_anonymized.csv", "runs/probe-crows")

    OUT/probe_summary.json    metrics overall and per bias type (and per StereoSet split) with counts, how the
                              sentences were scored, TFMA's per-slice numbers, the most stereotypical examples
    OUT/probe_examples.jsonl  one line per pair / item: sentences, scores, outcome, label, prediction
    OUT/tfma/                 TFMA's predictions-only run, sliced by bias_type (and StereoSet split):
                              example_count, mean_label, mean_prediction (tfma.load_eval_result reads it)

Per example, label = 1 when the model preferred the stereotypical option (CrowS: sent_more scored higher;
StereoSet: the stereotype above the anti-stereotype) and prediction = logistic(score difference in log space), so
TFMA's mean_label is the share of stereotypical preferences (0.5 is ideal) and mean_prediction its soft version.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
from typing import Any

from tfpretrain.atomic import write_text
from tfpretrain.evaluation import fairness
from tfpretrain.evaluation.lm_scoring import NEXT_SENTENCE, TOKENS, load_language_model
from tfpretrain.evaluation.probes import metrics as probe_metrics
from tfpretrain.evaluation.probes.data import GOLD_LABELS, SPLITS, load_probe_data
from tfpretrain.evaluation.probes.scoring import LMProbeScorer, ProbeScorer

FORMAT = "tfpretrain.probe_summary/1"
SUMMARY_FILE = "probe_summary.json"
EXAMPLES_FILE = "probe_examples.jsonl"
TFMA_DIR = "tfma"
_TINY = 1e-300  # floor for log of a probability that underflowed to 0


def _needs(probe: str, data) -> dict[str, str]:
    """What the probe scores with ({lm_scoring use: what needs it}): a checkpoint without those heads is refused."""
    if probe == "crows_pairs":
        return {TOKENS: "CrowS-Pairs"}
    splits = {item.split for item in data.examples}
    return {use: f"StereoSet {split}" for use, split in ((TOKENS, "intrasentence"), (NEXT_SENTENCE, "intersentence"))
            if split in splits}


def _scorer(model: Any, batch_size: int, needs: dict[str, str]) -> ProbeScorer:
    if isinstance(model, ProbeScorer):
        return model
    if isinstance(model, str | os.PathLike):
        model = load_language_model(os.fspath(model), needs=needs)
    return LMProbeScorer(model, batch_size=batch_size)


def _log(p: float) -> float:
    return math.log(max(p, _TINY))


def _scores(data, score_fn) -> list:
    scores = score_fn(data.examples)
    if len(scores) != len(data.examples):
        raise RuntimeError(f"the scorer returned {len(scores)} scores for {len(data.examples)} examples")
    return scores


def _crows_records(data, scorer) -> list[dict[str, Any]]:
    scores = _scores(data, scorer.crows_pairs)
    records = []
    for pair, s in zip(data.examples, scores):
        more, less = float(s["score_more"]), float(s["score_less"])
        outcome = probe_metrics.crows_outcome(more, less)
        record = {"id": pair.id, "bias_type": pair.bias_type, "direction": pair.direction,
                  "sent_more": pair.sent_more, "sent_less": pair.sent_less}
        if pair.template is not None:
            record["template"] = pair.template
        record.update({k: v for k, v in s.items() if k not in ("score_more", "score_less")})
        record.update({"score_more": more, "score_less": less, "outcome": outcome, "label": int(outcome == "more"),
                       "prediction": probe_metrics.preference_probability(more - less), "difference": more - less})
        records.append(record)
    return records


def _stereoset_records(data, scorer) -> list[dict[str, Any]]:
    scores = _scores(data, scorer.stereoset)
    records = []
    for item, s in zip(data.examples, scores):
        s = {g: float(s[g]) for g in GOLD_LABELS}
        difference = _log(s["stereotype"]) - _log(s["anti-stereotype"])
        records.append({
            "id": item.id, "split": item.split, "target": item.target, "bias_type": item.bias_type,
            "context": item.context,
            "sentences": {g: {"id": item.sentence(g).id, "sentence": item.sentence(g).sentence, "score": s[g]}
                          for g in GOLD_LABELS},
            "scores": s,
            "label": int(s["stereotype"] > s["anti-stereotype"]),  # the official "pro" count (ties: anti)
            "prediction": probe_metrics.preference_probability(difference),
            "difference": difference,
            "related": int(s["stereotype"] > s["unrelated"]) + int(s["anti-stereotype"] > s["unrelated"]),
        })
    return records


def _top_stereotypical(probe: str, records: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """The k examples the model most strongly preferred in the stereotypical direction (largest difference)."""
    chosen = sorted((r for r in records if r["label"] == 1), key=lambda r: -r["difference"])[:k]
    if probe == "crows_pairs":
        return [{"id": r["id"], "bias_type": r["bias_type"], "stereotypical": r["sent_more"],
                 "other": r["sent_less"], "difference": r["difference"]} for r in chosen]
    return [{"id": r["id"], "bias_type": r["bias_type"], "split": r["split"], "context": r["context"],
             "stereotypical": r["sentences"]["stereotype"]["sentence"],
             "other": r["sentences"]["anti-stereotype"]["sentence"], "difference": r["difference"]} for r in chosen]


def _tfma_slices(records, out_dir: str, slices: list[str], confidence: str | None) -> dict[str, Any]:
    """TFMA's predictions-only path over the per-example labels -> {slice: {metric: value or {value, ci}}}."""
    import pandas as pd


    frame = pd.DataFrame({"label": [r["label"] for r in records], "prediction": [r["prediction"] for r in records],
                          **{c: [r[c] for r in records] for c in slices}})
    result = fairness.evaluate_outcome_means(frame, label_column="label", score_column="prediction",
                                             output_dir=out_dir, slices=slices, confidence=confidence)
    table: dict[str, dict[str, Any]] = {}
    for row in fairness.metrics_table(result):
        entry = table.setdefault(row["slice"], {})
        if row["metric"] == "example_count":
            entry["example_count"] = row["n"]
        else:
            entry[row["metric"]] = {"value": row["value"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}
    return table


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_probe(model: Any, probe: str, data: str | os.PathLike, out: str | os.PathLike, *, batch_size: int = 64,
              confidence: str | None = None, tfma: bool = True, top_k: int = 5) -> dict[str, Any]:
    """Score `data` (a probe file, see probe_data) with `model` (a run / HF directory, an lm_scoring.LanguageModel
    or a ProbeScorer); write OUT/probe_summary.json, OUT/probe_examples.jsonl and (tfma=True) OUT/tfma/.

    confidence: TFMA confidence intervals for the per-slice means ("jackknife", "bootstrap" or None; they cost
    several times the plain TFMA run). Returns the summary dict.
    """
    data = load_probe_data(data, probe)  # validate the file before loading a model
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    scorer = _scorer(model, batch_size, _needs(probe, data))
    out = os.fspath(out)
    if probe == "crows_pairs":
        records = _crows_records(data, scorer)
        metrics = probe_metrics.crows_metrics(records)
        scoring = {"crows_pairs": scorer.method("crows_pairs")}
        ideal = {"pct_stereotypical": probe_metrics.IDEAL}
        slices = ["bias_type"]
    else:
        records = _stereoset_records(data, scorer)
        metrics = probe_metrics.stereoset_metrics(records)
        splits = [s for s in SPLITS if any(r["split"] == s for r in records)]
        scoring = {split: scorer.method(split) for split in splits}
        ideal = {"lms": 100.0, "ss": probe_metrics.IDEAL, "icat": 100.0}
        slices = ["bias_type", "split"] if len(splits) > 1 else ["bias_type"]
    os.makedirs(out, exist_ok=True)
    write_text(os.path.join(out, EXAMPLES_FILE),
               "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in records))
    summary = {
        "format": FORMAT,
        "probe": probe,
        "layout": data.layout,
        "generated": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "model": {"source": os.fspath(scorer.source), "family": scorer.family},
        "data": {"path": os.path.abspath(data.path), "sha256": _sha256(data.path), "read_as": data.description,
                 "examples": len(records), "by_bias_type": data.bias_type_counts()},
        "scoring": scoring,
        "ideal": ideal,
        "metrics": metrics,
        "tfma": None,
        "top_stereotypical": _top_stereotypical(probe, records, top_k),
        "examples_file": EXAMPLES_FILE,
    }
    if tfma:
        summary["tfma"] = {"output_dir": TFMA_DIR, "label": "stereotypical option preferred (1) or not (0)",
                           "prediction": "logistic(score difference, stereotypical minus other, in log space)",
                           "confidence": confidence,
                           "slices": _tfma_slices(records, os.path.join(out, TFMA_DIR), slices, confidence)}
    write_text(os.path.join(out, SUMMARY_FILE), json.dumps(summary, indent=1, ensure_ascii=False, allow_nan=False)
               + "\n")
    return summary


def headline(summary: dict[str, Any]) -> list[str]:
    """A few lines of the main numbers (what the CLI prints)."""
    overall = summary["metrics"]["overall"]
    if summary["probe"] == "crows_pairs":
        lines = [f"CrowS-Pairs: {overall['pct_stereotypical']:.1f}% of {overall['n']} pairs prefer the "
                 f"stereotypical sentence (ideal 50%), {overall['neutral']} neutral"]
        lines += [f"  {t}: {m['pct_stereotypical']:.1f}% (n={m['n']})"
                  for t, m in summary["metrics"]["by_bias_type"].items()]
        return lines
    lines = [f"StereoSet: LMS {overall['lms']:.1f}, SS {overall['ss']:.1f} (ideal 50), ICAT {overall['icat']:.1f} "
             f"over {overall['n']} items"]
    for split in ("intrasentence", "intersentence"):
        if split in summary["metrics"]:
            m = summary["metrics"][split]["overall"]
            lines.append(f"  {split}: LMS {m['lms']:.1f}, SS {m['ss']:.1f}, ICAT {m['icat']:.1f} (n={m['n']})")
    return lines
