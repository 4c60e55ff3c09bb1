"""Train or load tokenizers with Hugging Face `tokenizers`: WordPiece (BERT) and byte-level BPE (GPT-2)."""

import hashlib

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
GPT2_END_TOKEN = "<|endoftext|>"


def train_wordpiece(texts, vocabulary_size, lowercase=True, min_frequency=2):
    """Iterable of strings -> a BertWordPiece `tokenizers.Tokenizer` with [PAD]=0 and the BERT special tokens."""
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(lowercase=lowercase)
    tokenizer.train_from_iterator(
        texts, vocab_size=vocabulary_size, special_tokens=list(BERT_SPECIAL_TOKENS), min_frequency=min_frequency
    )
    return tokenizer


def train_byte_level_bpe(texts, vocabulary_size, min_frequency=2):
    """Iterable of strings -> a GPT-2 style byte-level BPE tokenizer with <|endoftext|> as id 0."""
    from tokenizers import ByteLevelBPETokenizer

    tokenizer = ByteLevelBPETokenizer(add_prefix_space=False)
    tokenizer.train_from_iterator(
        texts, vocab_size=vocabulary_size, special_tokens=[GPT2_END_TOKEN], min_frequency=min_frequency
    )
    return tokenizer


def save_tokenizer(tokenizer, path):
    """Write tokenizer.json atomically (local or gs://); returns its sha256 (recorded in manifests and model cards)."""
    from tfpretrain.atomic import write_text

    return file_sha256(write_text(str(path), tokenizer.to_str()))


def file_sha256(path):
    import tensorflow as tf

    with tf.io.gfile.GFile(str(path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def continuation_table(tokenizer):
    """bool list [V]: True for WordPiece '##' continuation pieces (for whole-word masking)."""
    vocab = tokenizer.get_vocab()
    table = [False] * len(vocab)
    for token, index in vocab.items():
        table[index] = token.startswith("##")
    return table


def load_tokenizer(path, lowercase=True):
    """An existing vocab.txt (WordPiece, e.g. a BERT checkpoint's) or tokenizer.json -> `tokenizers` tokenizer."""
    import tensorflow as tf

    path = str(path)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"tokenizer file {path} does not exist")
    if path.endswith(".txt"):
        from tokenizers import BertWordPieceTokenizer

        with tf.io.gfile.GFile(path) as f:
            vocab = {token.rstrip("\n"): i for i, token in enumerate(f)}
        missing = [token for token in BERT_SPECIAL_TOKENS if token not in vocab]
        if missing:
            raise ValueError(f"{path}: the vocabulary lacks the bert special tokens {missing}")
        return BertWordPieceTokenizer(vocab, lowercase=lowercase)
    from tokenizers import Tokenizer

    with tf.io.gfile.GFile(path) as f:
        try:
            return Tokenizer.from_str(f.read())
        except Exception as e:  # tokenizers raises a bare Exception on a malformed file
            raise ValueError(f"{path}: not a tokenizers JSON file ({e})") from None


SPECIAL_TOKENS = {
    "bert": {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"},
    "gpt2": {"end": GPT2_END_TOKEN},
}


def special_token_ids(tokenizer, task, source="tokenizer"):
    """{'pad': 0, 'cls': 2, ...} for the task's special tokens; one error naming every token the vocabulary lacks."""
    vocab = tokenizer.get_vocab()
    wanted = SPECIAL_TOKENS[task]
    missing = [token for token in wanted.values() if token not in vocab]
    if missing:
        raise ValueError(f"{source}: the vocabulary lacks the {task} special tokens {missing}")
    return {name: vocab[token] for name, token in wanted.items()}
