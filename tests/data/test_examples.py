"""NSP pair construction and causal-window packing properties."""

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpretrain.data import features as F
from tfpretrain.data.examples import nsp_examples, pack_windows, pad_example

CLS, SEP = 1, 2
sentences = st.lists(st.integers(10, 99), min_size=1, max_size=12)
documents = st.lists(sentences, min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(doc=documents, others=st.lists(documents, min_size=1, max_size=3), length=st.integers(8, 40),
       seed=st.integers(0, 1000))
def test_nsp_examples_are_well_formed(doc, others, length, seed):
    for ex in nsp_examples(doc, others, max_sequence_length=length, cls_id=CLS, sep_id=SEP, rng=random.Random(seed)):
        ids, segments = ex[F.TOKEN_IDS], ex[F.SEGMENT_IDS]
        assert len(ids) == len(segments) <= length
        assert ids[0] == CLS and ids[-1] == SEP and ids.count(SEP) == 2
        first_sep = ids.index(SEP)
        assert segments == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
        assert first_sep >= 2 and len(ids) - first_sep >= 3  # both segments non-empty
        assert ex[F.NEXT_SENTENCE_LABELS] in (0, 1)


def test_continuations_are_true_and_about_half_are_random():
    doc = [[10 + i] * 3 for i in range(40)]  # sentence i is three copies of 10 + i
    other = [[[90] * 3 for _ in range(10)]]
    labels = []
    for seed in range(30):
        for ex in nsp_examples(doc, other, max_sequence_length=16, cls_id=CLS, sep_id=SEP, rng=random.Random(seed)):
            ids = ex[F.TOKEN_IDS]
            a, b = ids[1 : ids.index(SEP)], ids[ids.index(SEP) + 1 : -1]
            if ex[F.NEXT_SENTENCE_LABELS] == 0:  # B continues A within the document
                assert 90 not in b and min(b) >= max(a)
            else:
                assert set(b) == {90}
            labels.append(ex[F.NEXT_SENTENCE_LABELS])
    assert 0.35 < np.mean(labels) < 0.65


def test_pad_example_masks_the_padding():
    out = pad_example({F.TOKEN_IDS: [1, 5, 2], F.SEGMENT_IDS: [0, 0, 0], F.NEXT_SENTENCE_LABELS: 1}, 6)
    assert out[F.TOKEN_IDS].tolist() == [1, 5, 2, 0, 0, 0]
    assert out[F.PADDING_MASK].tolist() == [1, 1, 1, 0, 0, 0] and out[F.NEXT_SENTENCE_LABELS] == 1


@settings(max_examples=50, deadline=None)
@given(docs=st.lists(st.lists(st.integers(1, 50), max_size=30), max_size=10), window=st.integers(1, 16))
def test_pack_windows_keeps_every_token_in_order(docs, window):
    windows, dropped = pack_windows(docs, window=window, end_token_id=0)
    stream = [t for d in docs for t in (*d, 0)]
    assert windows.shape[1] == window and dropped < window
    assert windows.ravel().tolist() == stream[: len(stream) - dropped]
