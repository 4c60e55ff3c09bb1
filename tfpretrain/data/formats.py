"""The corpus format of each model family: what `prepare` writes for it and what the reader needs to read it back.

    fmt = get_format("bert")
    fmt.record_spec(128)      # {token_ids: [128], segment_ids: [128], padding_mask: [128], next_sentence_labels: [1]}
    fmt.special_tokens        # {"pad": "[PAD]", "unk": "[UNK]", ...}: role -> token, in a trained tokenizer's id order
    fmt.build_examples(texts, canaries, encode, sequence_length=128, special_ids=..., rng=..., short_seq_prob=0.1)

This module is the data side's one place that knows what the family names mean; every family difference in data/
(tokenizer, special tokens, record schema, example building, canary room, read-time masking, minimum length) is a
field here. The model side's registry (models/families.py) refers to these formats by family name.
"""

import dataclasses
from collections.abc import Callable, Mapping

from tfpretrain.data import features as F
from tfpretrain.data.examples import canary_nsp_examples, nsp_examples, pack_with_canaries, pad_example, split_sentences
from tfpretrain.errors import UserError


class UnknownFamilyError(UserError):
    """A family name no corpus format is registered for."""


@dataclasses.dataclass(frozen=True)
class CorpusFormat:
    """How a family's corpus is tokenized, stored and read. Instances: BERT, GPT2 (FORMATS by name)."""

    family: str
    description: str
    tokenizer_kind: str  # "wordpiece" | "byte_level_bpe" (tfpretrain.data.tokenizer.train_tokenizer)
    special_tokens: Mapping[str, str]  # role -> token text; a trained tokenizer gives them ids 0, 1, ... in order
    lowercase: bool  # the tokenizer has a lowercase option (WordPiece); otherwise tokenizer.lowercase is ignored
    byte_level: bool  # every byte has a token, so no text is ever unknown (canaries need no alphabet seeding)
    continuation_prefix: str | None  # "##": pieces that continue a word (whole-word masking); None: no such pieces
    masked: bool  # records are stored unmasked and masked at read time (dynamic masking)
    padded: bool  # records are right-padded and carry padding_mask; else packed windows with no padding
    canary_room: int  # special tokens around a canary inside one example
    min_sequence_length: int
    input_keys: tuple[str, ...]  # the model's input features
    _record_keys: tuple[tuple[str, bool], ...]  # (feature key, True: [sequence_length] / False: [1])
    _build: Callable = dataclasses.field(repr=False)

    def record_spec(self, sequence_length):
        """The tf.Example schema of a prepared shard: feature key -> shape (stored as int64)."""
        return {key: [sequence_length] if per_token else [1] for key, per_token in self._record_keys}

    @property
    def default_special_ids(self):
        """Special-token ids of a tokenizer this project trains ({"pad": 0, ...}): for shards without a manifest."""
        return {role: index for index, role in enumerate(self.special_tokens)}

    def build_examples(self, texts, canaries, encode, *, sequence_length, special_ids, rng, short_seq_prob):
        """Document texts (+ canary token ids, each placed whole in one example) -> (example dicts, tokens).

        encode: list of strings -> list of token-id lists (no special tokens). Examples hold int32 arrays of the
        record spec's keys; tokens counts the real (non-padding) tokens written.
        """
        return self._build(texts, canaries, encode, sequence_length=sequence_length, special_ids=special_ids,
                           rng=rng, short_seq_prob=short_seq_prob)


class _Others:
    """Every document of a bucket but one, without copying the list (NSP's random-next-segment candidates)."""

    def __init__(self, documents, skip):
        self.documents, self.skip = documents, skip

    def __len__(self):
        return len(self.documents) - 1

    def __getitem__(self, i):
        return self.documents[i + (i >= self.skip)]


def _nsp_pairs(texts, canaries, encode, *, sequence_length, special_ids, rng, short_seq_prob):
    """NSP pairs of sentences (padded; masking happens at read time); each canary is segment A of one pair."""
    documents = []
    for text in texts:
        sentences = [ids for ids in encode(split_sentences(text)) if ids]
        if sentences:
            documents.append(sentences)
    ids = {"cls_id": special_ids["cls"], "sep_id": special_ids["sep"]}
    examples = []
    for i, document in enumerate(documents):
        examples += nsp_examples(document, _Others(documents, i), max_sequence_length=sequence_length, rng=rng,
                                 short_seq_prob=short_seq_prob, **ids)
    examples += canary_nsp_examples(canaries, documents, max_sequence_length=sequence_length, rng=rng,
                                    short_seq_prob=short_seq_prob, **ids)
    examples = [pad_example(example, sequence_length) for example in examples]
    return examples, sum(int(example[F.PADDING_MASK].sum()) for example in examples)


def _packed_windows(texts, canaries, encode, *, sequence_length, special_ids, rng, short_seq_prob):
    """Documents joined by the end token and cut into full windows; each canary starts a window of its own."""
    del rng, short_seq_prob  # packing is deterministic and has no short windows
    windows, _ = pack_with_canaries(encode(list(texts)), canaries, window=sequence_length,
                                    end_token_id=special_ids["end"])
    return [{F.TOKEN_IDS: window} for window in windows], int(windows.size)


BERT = CorpusFormat(
    family="bert",
    description="NSP sentence pairs, WordPiece, right-padded, masked at read time",
    tokenizer_kind="wordpiece",
    special_tokens={"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"},
    lowercase=True,
    byte_level=False,
    continuation_prefix="##",
    masked=True,
    padded=True,
    canary_room=4,  # [CLS] canary [SEP] B [SEP], B at least one token
    min_sequence_length=8,  # [CLS] A [SEP] B [SEP] with room for real segments
    input_keys=F.BERT_INPUTS,
    _record_keys=((F.TOKEN_IDS, True), (F.SEGMENT_IDS, True), (F.PADDING_MASK, True),
                  (F.NEXT_SENTENCE_LABELS, False)),
    _build=_nsp_pairs,
)
GPT2 = CorpusFormat(
    family="gpt2",
    description="packed causal-LM windows, byte-level BPE, documents joined by <|endoftext|>",
    tokenizer_kind="byte_level_bpe",
    special_tokens={"end": "<|endoftext|>"},
    lowercase=False,
    byte_level=True,
    continuation_prefix=None,
    masked=False,
    padded=False,
    canary_room=2,  # <|endoftext|> canary <|endoftext|>
    min_sequence_length=2,  # one next-token prediction
    input_keys=F.GPT2_INPUTS,
    _record_keys=((F.TOKEN_IDS, True),),
    _build=_packed_windows,
)
FORMATS = {fmt.family: fmt for fmt in (BERT, GPT2)}
FAMILIES = tuple(FORMATS)


def get_format(family):
    """The CorpusFormat of a family name; one clear error listing the known ones."""
    if isinstance(family, CorpusFormat):
        return family
    try:
        return FORMATS[family]
    except (KeyError, TypeError):
        raise UnknownFamilyError(f"unknown model family {family!r}; corpus formats exist for {FAMILIES}") from None
