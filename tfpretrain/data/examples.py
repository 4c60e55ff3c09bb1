"""Documents of token ids -> training examples: BERT NSP pairs and packed GPT-2 windows. Pure Python + numpy.

These functions are the per-document bodies of the corpus pipeline; they take an explicit `random.Random` so a
shard's content is a function of its seed alone.
"""

import re

import numpy as np

from tfpretrain.config import ConfigError
from tfpretrain.data import features as F

# A sentence ends at . ! or ? (optionally closed by a quote or bracket) before whitespace and an upper-case letter,
# digit or opening quote; line breaks always end one. Good enough for NSP pairs, which need order, not linguistics.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[A-Z0-9])|\n+")


def split_sentences(text):
    """Document text -> list of non-empty sentence strings, in order."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def nsp_examples(document, other_documents, *, max_sequence_length, cls_id, sep_id, rng, short_seq_prob=0.1):
    """One document (a list of sentences, each a list of token ids) -> list of unpadded NSP examples.

    Follows google-research/bert's create_instances_from_document: segments fill the target length (shorter with
    probability short_seq_prob), B is the true continuation or, half the time, a span of a random other
    document. Examples are dicts with int lists token_ids / segment_ids and next_sentence_labels (1 = random).
    """
    max_tokens = max_sequence_length - 3  # [CLS] A [SEP] B [SEP]
    target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
    examples, chunk, chunk_length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if i == len(document) - 1 or chunk_length >= target:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            tokens_a = [t for sentence in chunk[:a_end] for t in sentence]
            is_random = (len(chunk) == 1 or rng.random() < 0.5) and bool(other_documents)
            if is_random:
                other = other_documents[rng.randrange(len(other_documents))]
                start = rng.randrange(len(other))
                tokens_b = [t for sentence in other[start:] for t in sentence][: max(1, target - len(tokens_a))]
                i -= len(chunk) - a_end  # the unused continuation is not wasted
            else:
                tokens_b = [t for sentence in chunk[a_end:] for t in sentence]
            tokens_a, tokens_b = _truncate_pair(tokens_a, tokens_b, max_tokens, rng)
            if tokens_a and tokens_b:
                examples.append(
                    {
                        F.TOKEN_IDS: [cls_id, *tokens_a, sep_id, *tokens_b, sep_id],
                        F.SEGMENT_IDS: [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1),
                        F.NEXT_SENTENCE_LABELS: int(is_random),
                    }
                )
            chunk, chunk_length = [], 0
        i += 1
    return examples


def _truncate_pair(a, b, max_tokens, rng):
    """Trim the longer side, from the front or back at random, until the pair fits."""
    a, b = list(a), list(b)
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        del longer[0 if rng.random() < 0.5 else -1]
    return a, b


def pad_example(example, max_sequence_length):
    """Unpadded int lists -> fixed-length int32 arrays with padding_mask (right padding with 0)."""
    length = len(example[F.TOKEN_IDS])
    if length > max_sequence_length:
        raise ValueError(f"example has {length} tokens, more than max_sequence_length={max_sequence_length}")
    out = {}
    for key in (F.TOKEN_IDS, F.SEGMENT_IDS):
        if key in example:
            out[key] = np.zeros(max_sequence_length, np.int32)
            out[key][:length] = example[key]
    out[F.PADDING_MASK] = (np.arange(max_sequence_length) < length).astype(np.int32)
    for key, value in example.items():
        if key not in out:
            out[key] = np.asarray(value, np.int32)
    return out


def pack_windows(documents, *, window, end_token_id):
    """Token-id documents -> int32 [N, window]: joined with the end token and cut with no padding waste.

    The tail shorter than one window is dropped (it would need padding); returns (windows, dropped_tokens).
    """
    stream = [t for doc in documents for t in (*doc, end_token_id)]
    count = len(stream) // window
    windows = np.asarray(stream[: count * window], np.int32).reshape(count, window)
    return windows, len(stream) - count * window


def pack_with_canaries(documents, canaries, *, window, end_token_id):
    """pack_windows where each canary (data/canaries.py) starts a window of its own, whole.

    documents / canaries: lists of token ids. A canary window is `<end> canary <end>` then the corpus stream's
    next tokens (end tokens once the stream is used up); canary windows are spread evenly among the corpus windows.
    Returns (int32 [N, window], tokens dropped from the stream's tail).
    """
    if not canaries:
        return pack_windows(documents, window=window, end_token_id=end_token_id)
    stream = [t for doc in documents for t in (*doc, end_token_id)]
    every = max(1, (len(stream) // window + len(canaries)) // len(canaries))
    rows, pos, queue = [], 0, list(canaries)
    while queue or len(stream) - pos >= window:
        if queue and (len(rows) % every == 0 or len(stream) - pos < window):
            head = [end_token_id, *queue.pop(0), end_token_id]
            fill_tokens = stream[pos : pos + window - len(head)]
            pos += len(fill_tokens)
            rows.append(head + fill_tokens + [end_token_id] * (window - len(head) - len(fill_tokens)))
        else:
            rows.append(stream[pos : pos + window])
            pos += window
    return np.asarray(rows, np.int32).reshape(len(rows), window), len(stream) - pos


def canary_nsp_examples(canaries, documents, *, max_sequence_length, cls_id, sep_id, rng, short_seq_prob):
    """One NSP pair per canary copy: the whole canary as segment A, B from a random corpus document (label 1)."""
    if canaries and not documents:
        raise ConfigError("<config>", "canaries.count", "a bucket holds canaries but no corpus document to pair "
                          "them with: the corpus is too small; lower canaries.count or raise documents_per_bucket")
    examples = []
    for ids in canaries:
        examples += nsp_examples([ids], documents, max_sequence_length=max_sequence_length, cls_id=cls_id,
                                 sep_id=sep_id, rng=rng, short_seq_prob=short_seq_prob)
    return examples
