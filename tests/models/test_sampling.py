"""generate(): cache correctness, mixed prompt lengths, end token, sampling filters, XLA and determinism."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from tests.support import factories
from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models import sampling as gpt2_sampler
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM


@functools.cache
def lm():
    return GPT2CausalLM(factories.gpt2_backbone())


# generate compiles with XLA by default: one compile (seconds) per sampler setting and shape. Tests whose claim is not
# about XLA run the same graph without it; test_xla_and_eager_graphs_agree holds XLA to that graph, and the seeded
# sampling and end-token tests run under XLA.
GRAPH = dict(jit_compile=False)


def _greedy_by_full_forward(prompt, max_length):
    ids = list(prompt)
    while len(ids) < max_length:
        logits = lm()({F.TOKEN_IDS: np.array([ids], np.int32), F.PADDING_MASK: np.ones((1, len(ids)), np.int32)})
        ids.append(int(np.argmax(logits[0, -1])))
    return ids


def test_greedy_with_cache_equals_recomputing_the_full_sequence():
    out = lm().generate([[5, 6, 7]], max_length=10, **GRAPH)  # the shape the tests below generate, one trace
    assert out[F.TOKEN_IDS][0].tolist() == _greedy_by_full_forward([5, 6, 7], 10)
    assert out[F.PADDING_MASK].tolist() == [[1] * 10]


def test_prompts_of_different_lengths_in_one_batch_match_single_prompts():
    prompts = [[5], [8, 9, 10, 11], [12, 13]]
    batch = lm().generate(prompts, max_length=10, **GRAPH)[F.TOKEN_IDS]
    for row, prompt in zip(batch, prompts):
        assert row.tolist() == lm().generate([prompt], max_length=10, **GRAPH)[F.TOKEN_IDS][0].tolist()


def test_xla_and_eager_graphs_agree():
    a = lm().generate([[3, 4], [5]], max_length=9, jit_compile=True)
    b = lm().generate([[3, 4], [5]], max_length=9, jit_compile=False)
    np.testing.assert_array_equal(a[F.TOKEN_IDS], b[F.TOKEN_IDS])


def test_generation_stops_at_the_end_token_and_pads_after_it():
    greedy = _greedy_by_full_forward([5, 6], 12)
    end = greedy[4]  # a token greedy decoding emits at position 4
    out = lm().generate([[5, 6]], max_length=12, end_token_id=end, pad_token_id=0)  # under XLA: the TPU path
    first = 2 + greedy[2:].index(end)
    row, mask = out[F.TOKEN_IDS][0], out[F.PADDING_MASK][0]
    assert row[: first + 1].tolist() == greedy[: first + 1]
    assert (row[first + 1 :] == 0).all() and mask.tolist() == [1] * (first + 1) + [0] * (11 - first)


def test_sampling_is_seeded_and_top_k_1_is_greedy():
    kwargs = dict(max_length=10, sampler="random", temperature=0.8, top_p=0.9)
    a = lm().generate([[5, 6]], seed=3, **kwargs)[F.TOKEN_IDS]
    b = lm().generate([[5, 6]], seed=3, **kwargs)[F.TOKEN_IDS]
    np.testing.assert_array_equal(a, b)
    top1 = lm().generate([[5, 6]], max_length=10, sampler="random", top_k=1, seed=4, **GRAPH)[F.TOKEN_IDS]
    np.testing.assert_array_equal(top1, lm().generate([[5, 6]], max_length=10, **GRAPH)[F.TOKEN_IDS])


def test_top_p_keeps_the_smallest_prefix_reaching_p():
    logits = tf.math.log(tf.constant([[0.5, 0.3, 0.15, 0.05]]))
    seen = {int(gpt2_sampler.next_token(logits, "random", tf.constant([s, 0]), top_p=0.75)[0]) for s in range(200)}
    assert seen == {0, 1}


def test_top_k_samples_only_from_the_k_best():
    logits = tf.constant([[0.0, 3.0, 1.0, 2.9, -1.0]])
    seen = {int(gpt2_sampler.next_token(logits, "random", tf.constant([s, 1]), top_k=2)[0]) for s in range(200)}
    assert seen == {1, 3}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(prompts=[[]], max_length=5), "prompt 0 has 0 tokens"),
        (dict(prompts=[[1] * 6], max_length=5), "prompt 0 has 6 tokens"),
        (dict(prompts=[[1]], max_length=64), "max_sequence_length"),
        (dict(prompts=[[1]], max_length=5, sampler="beam"), "sampler must be one of"),
    ],
)
def test_bad_generate_arguments_raise_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lm().generate(**kwargs)


def test_generate_after_training_continues_the_pattern(rng):
    model = GPT2CausalLM(factories.gpt2_backbone())
    pattern = np.tile(np.arange(16) % 5 + 10, (8, 1)).astype(np.int32)
    data = tf.data.Dataset.from_tensors({F.TOKEN_IDS: pattern, F.PADDING_MASK: np.ones_like(pattern)}).repeat()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(data, steps_per_epoch=60, verbose=0)
    out = model.generate([[10, 11, 12]], max_length=13, **GRAPH)[F.TOKEN_IDS][0]
    assert out.tolist() == (np.arange(13) % 5 + 10).tolist()
