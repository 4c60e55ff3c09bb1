"""Train or load tokenizers with Hugging Face `tokenizers`: WordPiece (BERT) and byte-level BPE (GPT-2)."""

import hashlib

from tfpretrain.atomic import write_text
from tfpretrain.data.formats import BERT, GPT2, get_format
from tfpretrain.errors import UserError


class TokenizerError(UserError):
    """A tokenizer file that is missing, malformed, or lacks the special tokens its family needs."""


def train_wordpiece(texts, vocabulary_size, lowercase=True, min_frequency=2, special_tokens=None):
    """Iterable of strings -> a BertWordPiece `tokenizers.Tokenizer` with [PAD]=0 and the BERT special tokens."""
    from tokenizers import BertWordPieceTokenizer

    special = list(special_tokens or BERT.special_tokens.values())
    tokenizer = BertWordPieceTokenizer(lowercase=lowercase)
    tokenizer.train_from_iterator(texts, vocab_size=vocabulary_size, special_tokens=special,
                                  min_frequency=min_frequency)
    return tokenizer


def train_byte_level_bpe(texts, vocabulary_size, min_frequency=2, special_tokens=None):
    """Iterable of strings -> a GPT-2 style byte-level BPE tokenizer with <|endoftext|> as id 0."""
    from tokenizers import ByteLevelBPETokenizer

    special = list(special_tokens or GPT2.special_tokens.values())
    tokenizer = ByteLevelBPETokenizer(add_prefix_space=False)
    tokenizer.train_from_iterator(texts, vocab_size=vocabulary_size, special_tokens=special,
                                  min_frequency=min_frequency)
    return tokenizer


def train_tokenizer(corpus_format, texts, vocabulary_size, *, min_frequency=2, lowercase=True):
    """A tokenizer of the format's kind trained on `texts`, its special tokens first (ids 0, 1, ...)."""
    special = list(corpus_format.special_tokens.values())
    if corpus_format.tokenizer_kind == "wordpiece":
        return train_wordpiece(texts, vocabulary_size, lowercase=lowercase and corpus_format.lowercase,
                               min_frequency=min_frequency, special_tokens=special)
    return train_byte_level_bpe(texts, vocabulary_size, min_frequency=min_frequency, special_tokens=special)


def save_tokenizer(tokenizer, path):
    """Write tokenizer.json atomically (local or gs://); returns its sha256 (recorded in manifests and model cards)."""
    return file_sha256(write_text(str(path), tokenizer.to_str()))


def file_sha256(path):
    import tensorflow as tf

    with tf.io.gfile.GFile(str(path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def continuation_table(tokenizer, prefix="##"):
    """bool list [V]: True for pieces that continue a word (WordPiece '##' pieces), for whole-word masking."""
    vocab = tokenizer.get_vocab()
    table = [False] * len(vocab)
    for token, index in vocab.items():
        table[index] = token.startswith(prefix)
    return table


def load_tokenizer(path, lowercase=True):
    """An existing vocab.txt (WordPiece, e.g. a BERT checkpoint's) or tokenizer.json -> `tokenizers` tokenizer."""
    import tensorflow as tf

    path = str(path)
    if not tf.io.gfile.exists(path):
        raise TokenizerError(f"tokenizer file {path} does not exist")
    if path.endswith(".txt"):
        from tokenizers import BertWordPieceTokenizer

        with tf.io.gfile.GFile(path) as f:
            vocab = {token.rstrip("\n"): i for i, token in enumerate(f)}
        missing = [token for token in BERT.special_tokens.values() if token not in vocab]
        if missing:
            raise TokenizerError(f"{path}: the vocabulary lacks the {BERT.family} special tokens {missing}")
        return BertWordPieceTokenizer(vocab, lowercase=lowercase)
    from tokenizers import Tokenizer

    with tf.io.gfile.GFile(path) as f:
        try:
            return Tokenizer.from_str(f.read())
        except Exception as e:  # tokenizers raises a bare Exception on a malformed file
            raise TokenizerError(f"{path}: not a tokenizers JSON file ({e})") from None


def special_token_ids(tokenizer, family, source="tokenizer"):
    """{'pad': 0, 'cls': 2, ...} for the family's special tokens; one error naming every token the vocabulary lacks."""
    vocab = tokenizer.get_vocab()
    wanted = get_format(family).special_tokens
    missing = [token for token in wanted.values() if token not in vocab]
    if missing:
        raise TokenizerError(f"{source}: the vocabulary lacks the {get_format(family).family} special tokens "
                             f"{missing}")
    return {name: vocab[token] for name, token in wanted.items()}
