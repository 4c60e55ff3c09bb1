"""Train or load tokenizers with Hugging Face `tokenizers`: WordPiece (BERT) and byte-level BPE (GPT-2)."""

import hashlib
import os
from pathlib import Path

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
GPT2_END_TOKEN = "<|endoftext|>"


def train_wordpiece(texts, vocabulary_size, lowercase=True):
    """Iterable of strings -> a BertWordPiece `tokenizers.Tokenizer` with [PAD]=0 and the BERT special tokens."""
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(lowercase=lowercase)
    tokenizer.train_from_iterator(
        texts, vocab_size=vocabulary_size, special_tokens=list(BERT_SPECIAL_TOKENS), min_frequency=2
    )
    return tokenizer


def train_byte_level_bpe(texts, vocabulary_size):
    """Iterable of strings -> a GPT-2 style byte-level BPE tokenizer with <|endoftext|> as id 0."""
    from tokenizers import ByteLevelBPETokenizer

    tokenizer = ByteLevelBPETokenizer(add_prefix_space=False)
    tokenizer.train_from_iterator(texts, vocab_size=vocabulary_size, special_tokens=[GPT2_END_TOKEN], min_frequency=2)
    return tokenizer


def save_tokenizer(tokenizer, path):
    """Write tokenizer.json atomically; returns its sha256 (recorded in manifests and model cards)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tokenizer.save(str(tmp))
    os.replace(tmp, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def continuation_table(tokenizer):
    """bool list [V]: True for WordPiece '##' continuation pieces (for whole-word masking)."""
    vocab = tokenizer.get_vocab()
    table = [False] * len(vocab)
    for token, index in vocab.items():
        table[index] = token.startswith("##")
    return table
