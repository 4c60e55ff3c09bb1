"""Token log-probabilities from a pretrained BERT or GPT-2: what bias probes and the memorisation audit score with.

    lm = load_language_model("runs/bert")               # a pretraining run, or an HF BERT / GPT-2 directory
    masked_log_probs(lm, [ids], [[0, 3]])               # BERT: log P(token p | the rest), one [MASK] per row
    causal_log_probs(lm, [ids])                         # GPT-2: log P(t_i | <|endoftext|> t_<i) for every i
    next_sentence_log_probs(lm, [(a_ids, b_ids)])       # BERT NSP head: log P(b follows a)

Token ids never include special tokens; these functions add [CLS]/[SEP] or the leading <|endoftext|>. Rows are
padded to the longest row of their batch rounded up to a multiple of 16, so a probe over thousands of sentences
traces a handful of graphs.
"""

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfpretrain import runs
from tfpretrain.data import features as F
from tfpretrain.data.tokenizer import special_token_ids
from tfpretrain.errors import UserError
from tfpretrain.models import families

log = logging.getLogger(__name__)
_BUCKET = 16


@dataclasses.dataclass
class LanguageModel:
    family: str  # a models/families.py name: "bert" | "gpt2"
    model: Any  # BertPretrainer | GPT2CausalLM
    tokenizer: Any  # tokenizers.Tokenizer
    special: dict[str, int]  # bert: pad, unk, cls, sep, mask; gpt2: end
    max_length: int
    source: str

    @property
    def objective(self) -> str:
        """"masked" (score a token with it masked: masked_log_probs) or "causal" (left to right: causal_log_probs)."""
        return families.get(self.family).objective

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.tokenizer.id_to_token(int(i)) for i in ids]


# What a caller scores with: token log-probabilities (masked_log_probs / causal_log_probs), or whether a sentence
# follows another (BERT: next_sentence_log_probs; a causal LM scores the continuation's tokens). Each family's
# registry record names the checkpoint head each use reads.
TOKENS, NEXT_SENTENCE = "tokens", "next_sentence"


def load_language_model(path: str, needs: dict[str, str] | None = None) -> LanguageModel:
    """A `tfpretrain pretrain` run directory (RUN/final + RUN/tokenizer.json) or an HF BERT / GPT-2 directory.

    needs: {TOKENS or NEXT_SENTENCE: what needs it, e.g. "CrowS-Pairs"} (default: both, for "LM scoring"). A
    checkpoint without the head a use reads (a plain encoder has no MLM head) is refused with MissingHeadError
    naming the head, the use and the path, never scored with a freshly initialised head.
    """
    checkpoint = runs.find_checkpoint(path)
    family = families.by_model_type(checkpoint.model_type, f"{checkpoint.directory}/config.json")
    needs = {TOKENS: "LM scoring", NEXT_SENTENCE: "LM scoring"} if needs is None else needs
    require = tuple((family.scoring_heads[use], purpose) for use, purpose in needs.items())
    loaded = runs.load(checkpoint, family.pretraining_task_class, require_heads=require, dropout=0.0)
    special = special_token_ids(loaded.tokenizer, family.corpus_format, source=checkpoint.tokenizer_path)
    return LanguageModel(family.name, loaded.model, loaded.tokenizer, special,
                         loaded.model.backbone.max_sequence_length, path)


def _require(lm, objective, what):
    if lm.objective != objective:
        names = "/".join(f.name for f in families.FAMILIES.values() if f.objective == objective)
        raise UserError(f"{what} needs a {names} model ({objective} LM); {lm.source} is {lm.family}")


def _check_length(length, limit, source):
    if length > limit:
        raise UserError(f"{source}: a sequence of {length} tokens (with special tokens) exceeds the model's "
                         f"max_sequence_length {limit}")


def _padded_length(rows, limit):
    longest = max(len(r) for r in rows)
    return min(-(-longest // _BUCKET) * _BUCKET, limit)


def _pad(rows, length, pad_id):
    ids = np.full((len(rows), length), pad_id, np.int32)
    mask = np.zeros((len(rows), length), np.int32)
    for i, row in enumerate(rows):
        ids[i, : len(row)], mask[i, : len(row)] = row, 1
    return ids, mask


def _log_softmax(logits):  # float64 for exact sums over many tokens
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def _bert_rows(lm, sequences, positions):
    """-> rows [CLS] seq [SEP] with one [MASK] each, the masked index in the row, the original token, owner."""
    cls, sep, mask = lm.special["cls"], lm.special["sep"], lm.special["mask"]
    rows, at, target, owner = [], [], [], []
    for i, (seq, wanted) in enumerate(zip(sequences, positions)):
        _check_length(len(seq) + 2, lm.max_length, lm.source)
        for p in wanted:
            if not 0 <= p < len(seq):
                raise ValueError(f"position {p} is outside sequence {i} of {len(seq)} tokens")
            row = [cls, *seq, sep]
            row[p + 1] = mask
            rows.append(row)
            at.append(p + 1)
            target.append(int(seq[p]))
            owner.append(i)
    return rows, at, target, owner


def masked_log_probs(lm, sequences, positions, batch_size=64):
    """BERT: for each sequence and each p in its positions, log P(original token p | sequence with p masked)."""
    _require(lm, families.MASKED, "masked_log_probs")
    if len(sequences) != len(positions):
        raise ValueError(f"{len(sequences)} sequences but {len(positions)} position lists")
    rows, at, target, owner = _bert_rows(lm, sequences, positions)
    scores = np.zeros(len(rows), np.float64)
    for start in range(0, len(rows), batch_size):
        chunk = slice(start, start + batch_size)
        ids, pad = _pad(rows[chunk], _padded_length(rows[chunk], lm.max_length), lm.special["pad"])
        outputs = lm.model(
            {F.TOKEN_IDS: ids, F.SEGMENT_IDS: np.zeros_like(ids), F.PADDING_MASK: pad,
             F.MASKED_LM_POSITIONS: np.asarray(at[chunk], np.int32)[:, None]},
            training=False,
        )
        log_probs = _log_softmax(outputs["mlm_logits"].numpy()[:, 0])  # [b, V]
        scores[chunk] = log_probs[np.arange(len(ids)), target[chunk]]
    result = [np.zeros(len(p), np.float64) for p in positions]
    filled = [0] * len(sequences)
    for score, i in zip(scores, owner):
        result[i][filled[i]] = score
        filled[i] += 1
    return result


def pseudo_log_likelihood(lm, sequence, positions=None):
    """Sum of masked log-probabilities over `positions` (default: every token) of one sequence."""
    positions = range(len(sequence)) if positions is None else positions
    return float(masked_log_probs(lm, [sequence], [list(positions)])[0].sum())


def causal_log_probs(lm, sequences, batch_size=32):
    """GPT-2: log P(t_i | <|endoftext|>, t_0 .. t_{i-1}) for every token of each sequence."""
    _require(lm, families.CAUSAL, "causal_log_probs")
    end = lm.special["end"]
    rows = [[end, *map(int, seq)] for seq in sequences]
    for row in rows:
        _check_length(len(row), lm.max_length, lm.source)
    result = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        ids, pad = _pad(chunk, _padded_length(chunk, lm.max_length), end)
        logits = lm.model({F.TOKEN_IDS: ids, F.PADDING_MASK: pad}, training=False).numpy()  # [b, S, V]
        for i, row in enumerate(chunk):
            n = len(row) - 1
            log_probs = _log_softmax(logits[i, :n])  # position t predicts token t + 1
            result.append(log_probs[np.arange(n), row[1:]])
    return result


def next_sentence_log_probs(lm, pairs, batch_size=64):
    """BERT NSP head: log P(second follows first) for [CLS] a [SEP] b [SEP]; label 0 is "is next"."""
    _require(lm, families.MASKED, "next_sentence_log_probs")
    cls, sep = lm.special["cls"], lm.special["sep"]
    rows, segments = [], []
    for first, second in pairs:
        rows.append([cls, *first, sep, *second, sep])
        segments.append([0] * (len(first) + 2) + [1] * (len(second) + 1))
        _check_length(len(rows[-1]), lm.max_length, lm.source)
    scores = np.zeros(len(rows), np.float64)
    for start in range(0, len(rows), batch_size):
        chunk = slice(start, start + batch_size)
        length = _padded_length(rows[chunk], lm.max_length)
        ids, pad = _pad(rows[chunk], length, lm.special["pad"])
        segment_ids, _ = _pad(segments[chunk], length, 0)
        outputs = lm.model(
            {F.TOKEN_IDS: ids, F.SEGMENT_IDS: segment_ids, F.PADDING_MASK: pad,
             F.MASKED_LM_POSITIONS: np.zeros((len(ids), 1), np.int32)},
            training=False,
        )
        scores[chunk] = _log_softmax(outputs["nsp_logits"].numpy())[:, 0]
    return scores
