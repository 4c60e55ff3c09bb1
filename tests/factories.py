"""Tiny models and random features for tests (vocab <= 1000, hidden <= 64, 2 layers, seq <= 32)."""

import numpy as np

from tfpretrain.data import features as F

VOCAB = 97
BERT_KWARGS = dict(vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                   max_sequence_length=32, dropout=0.0)
GPT2_KWARGS = dict(vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=64,
                   max_sequence_length=32, dropout=0.0)


def bert_backbone(**overrides):
    from tfpretrain.models.bert.bert_backbone import BertBackbone

    return BertBackbone(**{**BERT_KWARGS, **overrides})


def gpt2_backbone(**overrides):
    from tfpretrain.models.gpt2.gpt2_backbone import GPT2Backbone

    return GPT2Backbone(**{**GPT2_KWARGS, **overrides})


def padding_mask(rng, batch, length, min_length=2):
    lengths = rng.integers(min_length, length + 1, size=batch)
    lengths[0] = length  # at least one full row, so the static length is used
    return (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)


def bert_pretraining_features(rng, batch=4, length=16, predictions=4, vocab=VOCAB):
    mask = padding_mask(rng, batch, length, min_length=predictions + 1)
    positions = np.stack([rng.choice(int(m.sum()), predictions, replace=False) for m in mask]).astype(np.int32)
    weights = np.ones((batch, predictions), np.float32)
    weights[1::2, -1] = 0.0  # unequal weight sums across the batch, as with short documents
    return {
        F.TOKEN_IDS: (rng.integers(5, vocab, (batch, length)) * mask).astype(np.int32),
        F.SEGMENT_IDS: ((np.arange(length) >= length // 2) * mask).astype(np.int32),
        F.PADDING_MASK: mask,
        F.MASKED_LM_POSITIONS: positions,
        F.MASKED_LM_IDS: rng.integers(5, vocab, (batch, predictions)).astype(np.int32),
        F.MASKED_LM_WEIGHTS: weights,
        F.NEXT_SENTENCE_LABELS: rng.integers(0, 2, batch).astype(np.int32),
    }


def classifier_features(rng, batch=4, length=16, num_classes=2, vocab=VOCAB):
    mask = padding_mask(rng, batch, length)
    return {
        F.TOKEN_IDS: (rng.integers(5, vocab, (batch, length)) * mask).astype(np.int32),
        F.SEGMENT_IDS: np.zeros((batch, length), np.int32),
        F.PADDING_MASK: mask,
        F.LABELS: rng.integers(0, max(num_classes, 2), batch).astype(np.int32),
    }


def causal_lm_features(rng, batch=4, length=16, vocab=VOCAB):
    mask = padding_mask(rng, batch, length)
    return {F.TOKEN_IDS: (rng.integers(1, vocab, (batch, length)) * mask).astype(np.int32), F.PADDING_MASK: mask}
