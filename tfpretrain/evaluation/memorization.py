"""Canary exposure (Carlini et al. 2019, "The Secret Sharer"): how much more likely a trained model finds the secrets
`prepare` planted (tfpretrain.data.canaries) than random secrets in the same template.

    summary = audit("runs/gpt2", "data/prepared/gpt2_bpe/canaries.json", "runs/audit")   # -> OUT/exposure.json
    # the report section and card entry: tfpretrain.reporting.sections.exposure.exposure_section(summary)

Score of a secret s (higher = more likely), over the tokens of s inside template(s):
  GPT-2: sum of log P(token | <|endoftext|>, the tokens before it), i.e. log P(secret | template prefix);
  BERT:  pseudo-log-likelihood, each of those tokens masked in turn.
Candidates: N secrets drawn uniformly from the same space R (alphabet^length) without the planted ones, scored once
and shared by every canary (they share the template); all of R when N covers it.
  rank       = 1 + #candidates scoring at least as well (within 1e-9 relative): ties count against the secret, so
               a model that cannot tell secrets apart gets exposure 0, not full marks;
  exposure (rank) = log2|R| - log2(estimated rank in R), estimated as rank / (N + 1) * |R| clamped to [1, |R|]:
               at most log2(N + 1), and Carlini's exact exposure when the candidates are all of R;
  exposure   = -log2 P(candidate score >= the secret's) under a skew-normal fitted to the candidate scores
               (Carlini et al. §4.3), in [0, log2|R|]: it resolves ranks far beyond N.
The secrets stay in canaries.json: exposure.json (and so the report section and the card) name canaries by id only.
"""

import itertools
import json
import logging
import math
import os
import statistics

import numpy as np

from tfpretrain.atomic import write_text
from tfpretrain.data.canaries import PLACEHOLDER, fill, read_key
from tfpretrain.evaluation.lm_scoring import TOKENS, causal_log_probs, load_language_model, masked_log_probs
from tfpretrain.models import families

log = logging.getLogger(__name__)
FORMAT = "tfpretrain.exposure/1"
EXPOSURE_FILE = "exposure.json"
SCORING = {  # by the model's objective (models/families.py)
    families.CAUSAL: "sum of causal log-probabilities of the secret's tokens given the template prefix",
    families.MASKED: "pseudo-log-likelihood of the secret's tokens (each masked in turn)",
}
_CHUNK = 4096  # secrets scored per call, to bound memory


# ------------------------------------------------------------------------------------------------ exposure math


def rank_of(score, candidate_scores):
    """1 + the number of candidates scoring at least as well as `score` (ties within 1e-9 relative count)."""
    tolerance = 1e-9 * max(1.0, abs(score))
    return 1 + int(np.sum(np.asarray(candidate_scores) >= score - tolerance))


def rank_exposure(rank, num_candidates, space_size):
    """log2|R| - log2(rank / (N + 1) * |R|), the estimated rank clamped to [1, |R|]."""
    estimated = min(max(rank / (num_candidates + 1) * space_size, 1.0), float(space_size))
    return math.log2(space_size) - math.log2(estimated)


def fit_skewnorm(candidate_scores):
    """(shape, loc, scale) of a skew-normal fitted to the scores by maximum likelihood; None if they are constant."""
    from scipy import stats

    x = np.asarray(candidate_scores, np.float64)
    mean, std = float(x.mean()), float(x.std())
    if not std > 1e-12 * max(1.0, abs(mean)):
        return None
    a, loc, scale = stats.skewnorm.fit((x - mean) / std)  # standardised: the optimiser starts near the answer
    return float(a), float(loc * std + mean), float(scale * std)


def extrapolated_exposure(score, fit, candidate_scores, space_size):
    """-log2 P(candidate score >= score) under the fitted skew-normal, clamped to [0, log2|R|]."""
    from scipy import stats

    bound = math.log2(space_size)
    if fit is None:  # constant candidate scores: the secret either beats them all or none
        return bound if rank_of(score, candidate_scores) == 1 else 0.0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_sf = float(stats.skewnorm.logsf(score, *fit))
    if math.isnan(log_sf):
        return bound if rank_of(score, candidate_scores) == 1 else 0.0
    return min(max(-log_sf / math.log(2), 0.0), bound)


# --------------------------------------------------------------------------------------------------- candidates


def candidate_secrets(alphabet, length, n, exclude, seed=0):
    """-> (secrets, exhaustive): n distinct uniform secrets of R without `exclude`, or all of them if n covers R."""
    exclude, size = set(exclude), len(alphabet) ** length
    if n >= size - len(exclude):
        every = ("".join(chars) for chars in itertools.product(alphabet, repeat=length))
        return [s for s in every if s not in exclude], True
    rng = np.random.default_rng(seed)
    letters = np.asarray(list(alphabet))
    chosen, seen = [], set(exclude)
    while len(chosen) < n:  # rejection sampling: fast while R is much larger than n
        for row in letters[rng.integers(0, len(alphabet), (max(n - len(chosen), 64) * 2, length))]:
            secret = "".join(row)
            if secret not in seen and len(chosen) < n:
                seen.add(secret)
                chosen.append(secret)
    return chosen, False


# ------------------------------------------------------------------------------------------------------ scoring


def _common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def secret_span(lm, template, ids):
    """Token positions of the secret in `ids` (the encoded filled template): after the tokens shared with the
    template's prefix, before those shared with its suffix; a token merging across a boundary counts as secret."""
    head, tail = template.split(PLACEHOLDER)
    start = min(_common_prefix(ids, lm.encode(head.rstrip())), len(ids) - 1)
    tail_ids = lm.encode(tail) if tail else []  # the head's trailing space joins the secret (BPE "Ġ4711")
    end = max(len(ids) - _common_prefix(ids[::-1], tail_ids[::-1]), start + 1)
    return list(range(start, end))


def score_secrets(lm, template, secrets, batch_size=64):
    """-> (scores float64 [n], secret token counts [n], whether each secret has an unknown token [n])."""
    scores, counts, unknown = [], [], []
    unk = lm.special.get("unk")
    for start in range(0, len(secrets), _CHUNK):
        sequences = [lm.encode(fill(template, s)) for s in secrets[start : start + _CHUNK]]
        spans = [secret_span(lm, template, ids) for ids in sequences]
        if lm.objective == families.CAUSAL:
            log_probs = [lp[span] for lp, span in zip(causal_log_probs(lm, sequences, batch_size), spans)]
        else:
            log_probs = masked_log_probs(lm, sequences, spans, batch_size)
        scores += [float(lp.sum()) for lp in log_probs]
        counts += [len(span) for span in spans]
        unknown += [unk is not None and any(ids[p] == unk for p in span) for ids, span in zip(sequences, spans)]
    return np.asarray(scores, np.float64), counts, unknown


# -------------------------------------------------------------------------------------------------------- audit


def _level(repetitions, rows):
    exposures = [r["exposure"] for r in rows]
    return {
        "repetitions": repetitions,
        "count": len(rows),
        "mean_exposure": statistics.fmean(exposures),
        "median_exposure": statistics.median(exposures),
        "max_exposure": max(exposures),
        "mean_exposure_rank": statistics.fmean(r["exposure_rank"] for r in rows),
    }


def audit(model_path, canaries_path, out, candidates=1000, seed=0, batch_size=64):
    """Exposure of every canary in `canaries_path` for the model at `model_path` (a pretraining run or an HF BERT /
    GPT-2 directory); writes OUT/exposure.json atomically and returns the summary it holds. A checkpoint without
    the head the scores need (a plain BERT encoder has no MLM head) is refused: MissingHeadError."""
    if candidates < 1:
        raise ValueError(f"candidates must be >= 1, got {candidates}")
    key = read_key(canaries_path)
    lm = load_language_model(str(model_path), needs={TOKENS: "the canary exposure audit"})
    secrets = [c["secret"] for c in key["canaries"]]
    pool, exhaustive = candidate_secrets(key["alphabet"], key["length"], candidates, secrets, seed)
    log.info("audit: %d canaries against %d candidates (%s) with %s", len(secrets), len(pool),
             "all of R" if exhaustive else "sampled", lm.source)
    true_scores, counts, unknown = score_secrets(lm, key["template"], secrets, batch_size)
    pool_scores, _, _ = score_secrets(lm, key["template"], pool, batch_size)
    fit = fit_skewnorm(pool_scores)
    size = key["space_size"]
    rows = []
    for canary, score, count, unk in zip(key["canaries"], true_scores, counts, unknown):
        rank = rank_of(score, pool_scores)
        rows.append({
            "id": canary["id"],
            "repetitions": canary["repetitions"],
            "rank": rank,
            "exposure": extrapolated_exposure(score, fit, pool_scores, size),
            "exposure_rank": rank_exposure(rank, len(pool), size),
            "score": float(score),
            "secret_tokens": count,
            "unknown_token": unk,
        })
    if any(unknown):
        log.warning("audit: %d secrets contain the tokenizer's unknown token; their exposure is not meaningful",
                    sum(unknown))
    levels = sorted({r["repetitions"] for r in rows})
    summary = {
        "format": FORMAT,
        "model": str(model_path),
        "model_family": lm.family,
        "scoring": SCORING[lm.objective],
        "canaries_file": str(canaries_path),
        "template": key["template"],
        "space_size": size,
        "exposure_bound": math.log2(size),
        "candidates": len(pool),
        "exhaustive": exhaustive,
        "rank_exposure_bound": rank_exposure(1, len(pool), size),
        "seed": seed,
        "ties": "candidates scoring within 1e-9 (relative) of the secret count as scoring at least as well",
        "extrapolation": {"distribution": "skew-normal", "parameters": None if fit is None else
                          dict(zip(("shape", "loc", "scale"), fit))},
        "candidate_scores": {"mean": float(pool_scores.mean()), "std": float(pool_scores.std()),
                             "max": float(pool_scores.max())},
        "canaries": rows,
        "by_repetitions": [_level(r, [x for x in rows if x["repetitions"] == r]) for r in levels],
    }
    write_text(os.path.join(str(out), EXPOSURE_FILE), json.dumps(summary, indent=2) + "\n")
    return summary
