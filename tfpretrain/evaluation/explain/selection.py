"""Per-slice integrated-gradients explanations of a fine-tuned BertClassifier, for the fairness report and card.

    records = explain_run("runs/toxicity", slices=settings.slices, groups=settings.groups)  # EvalSettings
    write_explanations(records, "runs/toxicity/fairness/explanations.json")
    # report section + card entry: tfpretrain.reporting.sections.explanations.explanations_section(records)

For the overall slice and every value of every slice column (gender=female, ...), up to `per_slice` examples are
drawn with a seeded generator: misclassified ones (at `threshold`) first, about half the sample when the slice has
that many, then correctly classified ones. Each is explained by integrated gradients over its word-piece embeddings
(attribution.integrated_gradients): which words pushed the score up or down relative to the baseline input.
The score explained is the probability of class 1 (binary heads, the score the fairness evaluation thresholds) or
of the predicted class (multi-class heads).
"""

import collections
import json
import math
import os
import zlib

import numpy as np

from tfpretrain import runs
from tfpretrain.atomic import write_text
from tfpretrain.data import features as F
from tfpretrain.data.eval_records import read_eval_records
from tfpretrain.data.labeled import encode
from tfpretrain.data.tokenizer import special_token_ids
from tfpretrain.errors import UserError
from tfpretrain.evaluation.explain.integrated_gradients import integrated_gradients, real_lengths
from tfpretrain.evaluation.fairness.groups import GroupSpec
from tfpretrain.models.bert.bert_classifier import BertClassifier

OVERALL = "overall"
TOP_K = 5
_SPECIAL = ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]")


# ------------------------------------------------------------------------------------------------------- inputs


def load_classifier(run_dir):
    """A fine-tuning run (RUN/final + its tokenizer file) or an HF BERT classifier directory -> (model, tokenizer,
    {num_classes, sequence_length, group_fields}) (from RUN/finetune.yaml when there, else the checkpoint)."""
    checkpoint = runs.find_checkpoint(run_dir)
    settings = checkpoint.run.read_finetune_config() or {}
    labels = checkpoint.config().get("id2label") or {0: 0, 1: 1}  # transformers' default is 2 labels
    num_classes = int(settings.get("num_classes") or len(labels))
    loaded = runs.load(checkpoint, BertClassifier, num_classes=num_classes,
                       require_heads={"classifier": "explaining a classifier's scores"})
    length = int(settings.get("sequence_length") or loaded.model.backbone.max_sequence_length)
    groups = list((settings.get("eval") or {}).get("group_fields") or [])
    return loaded.model, loaded.tokenizer, {"num_classes": num_classes, "sequence_length": length,
                                            "group_fields": groups}


def _encoded(examples, tokenizer, sequence_length, label_key):
    """Example dicts ({"text", label_key, group columns, ...}) -> records like read_eval_records'."""

    examples = list(examples)
    tokens = encode(examples, tokenizer, sequence_length)
    return [{**example, **{key: tokens[key][i] for key in F.BERT_INPUTS}} for i, example in enumerate(examples)]


def _check_columns(records, source, label_key, columns):
    present = set().union(*(r.keys() for r in records))
    for key in (F.TOKEN_IDS, F.PADDING_MASK, label_key):
        missing = [i for i, r in enumerate(records) if key not in r]
        if missing:
            raise UserError(f"{source}: record {missing[0]} has no {key!r} feature")
    for column in columns:
        if column not in present:
            raise UserError(f"{source}: slice column {column!r} is not in the data; columns: {sorted(present)}")


# --------------------------------------------------------------------------------------------- scoring, slices


def _stack(records, rows):
    return {key: np.stack([records[i].get(key, np.zeros_like(records[i][F.TOKEN_IDS])) for i in rows])
            for key in F.BERT_INPUTS}


def _probabilities(model, records, batch_size=256):
    """-> float32 [N, C] class probabilities (C = 2 for a 1-logit head), each batch cut to its longest row."""

    out = []
    for start in range(0, len(records), batch_size):
        features = _stack(records, range(start, min(start + batch_size, len(records))))
        cut = int(real_lengths(features[F.PADDING_MASK]).max())
        logits = model({k: v[:, :cut] for k, v in features.items()}, training=False).numpy()  # [B, C]
        if logits.shape[-1] == 1:
            positive = 1 / (1 + np.exp(-logits[:, 0]))
            out.append(np.stack([1 - positive, positive], -1))
        else:
            out.append(np.exp(logits - logits.max(-1, keepdims=True)))
            out[-1] /= out[-1].sum(-1, keepdims=True)
    return np.concatenate(out).astype(np.float32)


def _slice_members(records, columns, groups):
    """{slice name: [record indices]}: overall first, then every value of each column (sorted), as the fairness
    evaluation names them ("gender=female"); missing values are in no slice, multi-valued ones in several."""

    specs = {g.column: g for g in groups}
    slices = {OVERALL: list(range(len(records)))}
    for column in columns:
        spec = specs.get(column) or GroupSpec(column)
        members = collections.defaultdict(list)
        for i, record in enumerate(records):
            value = spec.derive(record.get(spec.input_column))
            for v in value if isinstance(value, list) else [] if value is None else [value]:
                members[str(v)].append(i)
        slices.update({f"{column}={v}": members[v] for v in sorted(members)})
    return slices


def _sample(members, misclassified, per_slice, rng):
    """Up to per_slice indices: misclassified first (about half, at least one when any), the rest correct."""
    wrong = rng.permutation([i for i in members if misclassified[i]]).astype(int)
    right = rng.permutation([i for i in members if not misclassified[i]]).astype(int)
    n_wrong = min(len(wrong), max(1, math.ceil(per_slice / 2)))
    n_right = min(len(right), per_slice - n_wrong)
    n_wrong = min(len(wrong), per_slice - n_right)  # few correct ones: more misclassified
    return [int(i) for i in (*wrong[:n_wrong], *right[:n_right])]


# -------------------------------------------------------------------------------------------------- records


def merge_word_pieces(tokens, attributions):
    """Word pieces -> words: "##" pieces join the word before; special tokens are not words.

    Returns [{"word", "attribution" (the pieces' sum), "tokens": [first, stop)}]."""
    words = []
    for i, (token, value) in enumerate(zip(tokens, attributions)):
        if token in _SPECIAL:
            continue
        if token.startswith("##") and words and words[-1]["tokens"][1] == i:
            words[-1]["word"] += token[2:]
            words[-1]["attribution"] += float(value)
            words[-1]["tokens"][1] = i + 1
        else:
            words.append({"word": token, "attribution": float(value), "tokens": [i, i + 1]})
    return words


def _top(words, sign, k=TOP_K):
    chosen = sorted((w for w in words if sign * w["attribution"] > 0), key=lambda w: -abs(w["attribution"]))
    return [[w["word"], w["attribution"]] for w in chosen[:k]]


def explain_run(run_dir, data=None, slices=None, groups=(), per_slice=3, steps=32, baseline="pad", threshold=0.5,
                seed=0, max_examples=5000, label_key="label"):
    """Explain up to `per_slice` examples of every slice of a fine-tuning run's evaluation data -> list of records.

    data: an eval TFRecord (default RUN/eval.tfrecord) or a list of example dicts ({"text", label_key, columns}),
    encoded with the run's tokenizer. slices: slice columns (default: the run's eval group_fields); groups:
    GroupSpecs that derive slice columns (EvalSettings.groups; others are categorical). Only the first
    `max_examples` are scored and sampled from. baseline: "pad" or "mask" (attribution.integrated_gradients).
    Each record: slice, index (in the data), text, label, score, predicted, misclassified, tokens [{token,
    attribution}], words [{word, attribution, tokens: [first, stop)}], top_positive / top_negative [[word,
    attribution]], baseline_score, delta (completeness gap), and the settings: explained, baseline, steps, threshold.
    """

    if per_slice < 1:
        raise ValueError(f"per_slice must be >= 1, got {per_slice}")
    model, tokenizer, run = load_classifier(run_dir)
    if data is None or isinstance(data, str | os.PathLike):
        source = os.fspath(data or runs.RunDir(run_dir).eval_data)
        records = read_eval_records(source, max_examples)
    else:
        source = "data"
        records = _encoded(list(data)[:max_examples], tokenizer, run["sequence_length"], label_key)
        if not records:
            raise UserError("data: no examples")
    slices = run["group_fields"] if slices is None else [slices] if isinstance(slices, str) else list(slices)
    specs = {g.column: g for g in groups}
    _check_columns(records, source, label_key, [specs[c].input_column if c in specs else c for c in slices])

    probabilities = _probabilities(model, records)  # [N, C]
    labels = np.asarray([int(r[label_key]) for r in records])
    binary = run["num_classes"] <= 2
    predicted = (probabilities[:, 1] > threshold).astype(int) if binary else probabilities.argmax(-1)
    targets = np.ones_like(predicted) if binary else predicted  # the class whose probability is explained
    scores = probabilities[np.arange(len(records)), targets]
    misclassified = predicted != labels

    chosen = {}
    for name, members in _slice_members(records, slices, groups).items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])  # per slice: independent of the others
        chosen[name] = _sample(members, misclassified, per_slice, rng)
    unique = sorted({i for rows in chosen.values() for i in rows})
    special = special_token_ids(tokenizer, "bert")
    result = integrated_gradients(model, _stack(records, unique), special_ids=(special["cls"], special["sep"]),
                                  baseline=baseline, pad_id=special["pad"], mask_id=special["mask"],
                                  target_class=targets[unique], steps=steps)
    explained = {}
    for row, i in enumerate(unique):
        real = records[i][F.PADDING_MASK] != 0
        tokens = [tokenizer.id_to_token(int(t)) or "[UNK]" for t in records[i][F.TOKEN_IDS][real]]
        values = result["attributions"][row][real]
        words = merge_word_pieces(tokens, values)
        explained[i] = {
            "text": records[i].get("text"), "label": int(labels[i]), "score": float(scores[i]),
            "predicted": int(predicted[i]), "misclassified": bool(misclassified[i]),
            "tokens": [{"token": t, "attribution": float(v)} for t, v in zip(tokens, values)],
            "words": words, "top_positive": _top(words, 1), "top_negative": _top(words, -1),
            "baseline_score": float(result["baseline_score"][row]), "delta": float(result["delta"][row]),
        }
    what = "P(class 1)" if binary else "P(predicted class)"
    settings = {"explained": what, "baseline": baseline, "steps": int(steps), "threshold": float(threshold)}
    return [{"slice": name, "index": i, **explained[i], **settings} for name, rows in chosen.items() for i in rows]


def write_explanations(records, path):
    """The records as JSON (atomic); returns the path."""

    return write_text(path, json.dumps(list(records), indent=1, ensure_ascii=False) + "\n")
