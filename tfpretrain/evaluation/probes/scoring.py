"""CrowS-Pairs and StereoSet bias probes: sentence scores from a pretrained BERT (MLM + NSP) or GPT-2.

    from tfpretrain.evaluation import lm_scoring
    from tfpretrain.evaluation.probes import data as probe_data
    from tfpretrain.evaluation.probes import scoring as probes
    scorer = probes.LMProbeScorer(lm_scoring.load_language_model("runs/bert"))
    scores = scorer.crows_pairs(probe_data.load_probe_data("crows.csv", "crows_pairs").examples)
    # run everything and write the outputs: probe_run.run_probe
    # report / model card: tfpretrain.reporting.sections.probes.probe_section(summaries)

How each model family scores (all token log-probabilities come from lm_scoring):
  * CrowS-Pairs, BERT: pseudo-log-likelihood of the shared tokens (Nangia et al. 2020): the two sentences are
    aligned with difflib as in the official get_span, and every token they share is masked in turn, its log P
    summed; the modified tokens are never scored, so a rare group word does not decide the pair.
  * CrowS-Pairs, GPT-2: the same shared tokens, each scored by log P(token | everything before it), summed (the
    common causal-LM adaptation: the modified tokens condition the shared tokens after them).
  * StereoSet intrasentence, BERT: as the official evaluation: the BLANK filler's tokens are masked one at a time
    with the filler's earlier tokens visible and its later ones absent; score = mean probability.
  * StereoSet intersentence, BERT: the NSP head's probability that the sentence follows the context.
  * StereoSet, GPT-2: geometric-mean token probability (exp of the mean log P) of the sentence, conditioned on
    <|endoftext|> (intrasentence) or on <|endoftext|> + the context (intersentence).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfpretrain.errors import UserError
from tfpretrain.evaluation import lm_scoring
from tfpretrain.evaluation.probes.data import GOLD_LABELS, CrowsPair, StereoSetItem
from tfpretrain.models import families

# How each part is scored, by the model's objective (models/families.py): masked = BERT, causal = GPT-2.
MASKED, CAUSAL = families.MASKED, families.CAUSAL
METHODS = {
    ("crows_pairs", MASKED): "pseudo-log-likelihood of the tokens the two sentences share (each masked in turn, "
    "log-probabilities summed; Nangia et al. 2020)",
    ("crows_pairs", CAUSAL): "log-likelihood of the tokens the two sentences share, each given all tokens before "
    "it (causal LM; summed): the common GPT-2 adaptation of Nangia et al. 2020",
    ("intrasentence", MASKED): "mean probability of the BLANK filler's tokens, each masked with the filler's "
    "earlier tokens visible (official StereoSet evaluation)",
    ("intersentence", MASKED): "next-sentence-prediction probability that the sentence follows the context",
    ("intrasentence", CAUSAL): "geometric-mean token probability of the sentence (exp of its mean log-likelihood)",
    ("intersentence", CAUSAL): "geometric-mean token probability of the sentence given the context",
}


def shared_token_positions(a: Sequence[int], b: Sequence[int]) -> tuple[list[int], list[int]]:
    """Positions of the tokens `a` and `b` share, in each: difflib's "equal" blocks, as the official CrowS-Pairs
    get_span finds them (it aligns [CLS] a [SEP] with [CLS] b [SEP]; the sentinels here stand for those)."""
    left, right = [-1, *map(int, a), -2], [-1, *map(int, b), -2]
    keep_a, keep_b = [], []
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(None, left, right).get_opcodes():
        if op == "equal":
            keep_a += range(a0, a1)
            keep_b += range(b0, b1)
    # drop the sentinels (first and last aligned positions) and shift back to positions in a / b
    return [i - 1 for i in keep_a if 0 < i < len(left) - 1], [i - 1 for i in keep_b if 0 < i < len(right) - 1]


def crows_shared_positions(more: Sequence[int], less: Sequence[int],
                           direction: str | None) -> tuple[list[int], list[int]]:
    """(shared positions in sent_more, in sent_less), aligned in the official order: sent1 = sent_more for stereo
    rows and sent_less for antistereo rows (difflib's alignment is not symmetric when tokens repeat). Rows without
    a direction (masked templates, expanded to their pair by probes.data) align sent_more first."""
    if direction == "antistereo":
        shared_less, shared_more = shared_token_positions(less, more)
        return shared_more, shared_less
    return shared_token_positions(more, less)


class ProbeScorer:
    """What run_probe needs from a model: per-pair CrowS scores and per-item StereoSet scores (higher = preferred)."""

    family: str = "bert"
    source: str = ""

    def crows_pairs(self, pairs: Sequence[CrowsPair]) -> list[dict[str, Any]]:
        """-> per pair {"score_more", "score_less"} (log-likelihoods) plus optional details."""
        raise NotImplementedError

    def stereoset(self, items: Sequence[StereoSetItem]) -> list[dict[str, float]]:
        """-> per item {gold_label: score} (a probability-like score > 0) for all three gold labels."""
        raise NotImplementedError

    def method(self, part: str) -> str:
        """How a part ("crows_pairs", "intrasentence", "intersentence") is scored, in words."""
        return METHODS[(part, self.objective)]

    @property
    def objective(self) -> str:
        """"masked" or "causal": how the model family scores (models/families.py)."""
        return families.get(self.family).objective


class LMProbeScorer(ProbeScorer):
    """ProbeScorer over an lm_scoring.LanguageModel (BERT with MLM + NSP heads, or GPT-2)."""

    def __init__(self, lm: Any, batch_size: int = 64):
        self.lm, self.family, self.source, self.batch_size = lm, lm.family, lm.source, batch_size

    def _fits(self, length: int, where: str) -> None:
        # lm_scoring raises too, but without saying which example is too long
        if length > self.lm.max_length:
            raise UserError(f"{where}: {length} tokens (with special tokens) exceed the model's "
                             f"max_sequence_length {self.lm.max_length}")

    def _encode(self, text: str, where: str) -> list[int]:
        ids = self.lm.encode(text)
        if not ids:
            raise UserError(f"{where}: {text!r} encodes to no tokens")
        return ids

    # ------------------------------------------------------------------------------------------ CrowS-Pairs

    def crows_pairs(self, pairs):
        extra = 2 if self.objective == MASKED else 1  # [CLS] .. [SEP] / leading <|endoftext|>
        sequences, positions = [], []
        for pair in pairs:
            more, less = self._encode(pair.sent_more, pair.where), self._encode(pair.sent_less, pair.where)
            self._fits(max(len(more), len(less)) + extra, pair.where)
            shared_more, shared_less = crows_shared_positions(more, less, pair.direction)
            sequences += [more, less]
            positions += [shared_more, shared_less]
        if self.objective == MASKED:
            log_probs = lm_scoring.masked_log_probs(self.lm, sequences, positions, batch_size=self.batch_size)
        else:
            full = lm_scoring.causal_log_probs(self.lm, sequences, batch_size=self.batch_size)
            log_probs = [lp[p] for lp, p in zip(full, positions)]
        out = []
        for k in range(len(pairs)):
            more, less = log_probs[2 * k], log_probs[2 * k + 1]
            out.append({"score_more": float(np.sum(more)), "score_less": float(np.sum(less)),
                        "shared_tokens": len(positions[2 * k]),
                        "token_counts": [len(sequences[2 * k]), len(sequences[2 * k + 1])]})
        return out

    # -------------------------------------------------------------------------------------------- StereoSet

    def stereoset(self, items):
        scores = [dict.fromkeys(GOLD_LABELS, 0.0) for _ in items]
        intra = [(k, item) for k, item in enumerate(items) if item.split == "intrasentence"]
        inter = [(k, item) for k, item in enumerate(items) if item.split == "intersentence"]
        if self.objective == MASKED:
            self._masked_intrasentence(intra, scores)
            self._next_sentence(inter, scores)
        else:
            self._causal(intra, inter, scores)
        return scores

    def _masked_intrasentence(self, intra, scores):
        """Official StereoSet: for filler tokens f_0..f_m-1, row k is the context with BLANK -> f_0..f_k and f_k
        masked; the sentence's score is the mean of P(f_k) over k."""
        sequences, positions, owners = [], [], []
        for k, item in intra:
            before, after = item.blank_parts()
            prefix, suffix = self.lm.encode(before), self.lm.encode(after)
            for gold in GOLD_LABELS:
                filler = self._encode(item.filler(gold), f"{item.where} ({gold})")
                self._fits(len(prefix) + len(filler) + len(suffix) + 2, f"{item.where} ({gold})")
                for j in range(len(filler)):
                    sequences.append(prefix + filler[: j + 1] + suffix)
                    positions.append([len(prefix) + j])
                    owners.append((k, gold))
        if not sequences:
            return
        log_probs = lm_scoring.masked_log_probs(self.lm, sequences, positions, batch_size=self.batch_size)
        probabilities: dict[tuple[int, str], list[float]] = {}
        for owner, lp in zip(owners, log_probs):
            probabilities.setdefault(owner, []).append(float(np.exp(lp[0])))
        for (k, gold), values in probabilities.items():
            scores[k][gold] = float(np.mean(values))

    def _next_sentence(self, inter, scores):
        pairs, owners = [], []
        for k, item in inter:
            context = self._encode(item.context, f"{item.where}.context")
            for gold in GOLD_LABELS:
                sentence = self._encode(item.sentence(gold).sentence, f"{item.where} ({gold})")
                self._fits(len(context) + len(sentence) + 3, f"{item.where} ({gold})")
                pairs.append((context, sentence))
                owners.append((k, gold))
        if not pairs:
            return
        log_probs = lm_scoring.next_sentence_log_probs(self.lm, pairs, batch_size=self.batch_size)
        for (k, gold), lp in zip(owners, log_probs):
            scores[k][gold] = float(np.exp(lp))

    def _causal(self, intra, inter, scores):
        """exp(mean log P) of the sentence's tokens; intersentence rows are context + " " + sentence, of which only
        the sentence's tokens are averaged."""
        sequences, starts, owners = [], [], []
        for k, item in intra + inter:
            context = self._encode(item.context, f"{item.where}.context") if item.split == "intersentence" else []
            for gold in GOLD_LABELS:
                text = item.sentence(gold).sentence
                # byte-level BPE: a word's leading space belongs to its token, so encode the sentence with it
                sentence = self._encode(" " + text if context else text, f"{item.where} ({gold})")
                self._fits(len(context) + len(sentence) + 1, f"{item.where} ({gold})")
                sequences.append(context + sentence)
                starts.append(len(context))
                owners.append((k, gold))
        if not sequences:
            return
        log_probs = lm_scoring.causal_log_probs(self.lm, sequences, batch_size=self.batch_size)
        for (k, gold), lp, start in zip(owners, log_probs, starts):
            scores[k][gold] = float(np.exp(np.mean(lp[start:])))
