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


SAMPLE_TEXTS = [
    "the nurse said she would call the doctor tomorrow morning",
    "the engineer said he fixed the bridge before the storm",
    "my secret code is 123456 and nobody knows it",
    "people from the city often walk to work in the rain",
    "the old man and the young woman read the same book",
] * 4


def language_model_run(directory, family, texts=SAMPLE_TEXTS, seed=0, vocabulary_size=None):
    """A pretraining-run-shaped directory (final/ HF checkpoint + tokenizer.json) holding a tiny BERT (MLM + NSP
    heads) or GPT-2 with random nonzero weights, and a tokenizer trained on `texts`. Returns the directory."""
    import os

    from tfpretrain.data.tokenizer import save_tokenizer, train_byte_level_bpe, train_wordpiece
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    directory = str(directory)
    if family == "bert":
        tokenizer = train_wordpiece(texts, vocabulary_size=vocabulary_size or 200, min_frequency=1)
        model = BertPretrainer(bert_backbone(vocabulary_size=tokenizer.get_vocab_size()))
        model(bert_pretraining_features(np.random.default_rng(seed), vocab=tokenizer.get_vocab_size()), training=False)
    else:
        tokenizer = train_byte_level_bpe(texts, vocabulary_size=vocabulary_size or 300, min_frequency=1)
        model = GPT2CausalLM(gpt2_backbone(vocabulary_size=tokenizer.get_vocab_size()))
        model(causal_lm_features(np.random.default_rng(seed), vocab=tokenizer.get_vocab_size()), training=False)
    rng = np.random.default_rng(seed)
    for w in model.weights:  # nonzero biases and norms: no mis-mapped tensor hides behind a zero init
        w.assign((1.0 if "gamma" in w.name else 0.0) + rng.normal(0.0, 0.2, w.shape).astype(np.float32))
    model.save_pretrained(os.path.join(directory, "final"))
    save_tokenizer(tokenizer, os.path.join(directory, "tokenizer.json"))
    return directory
