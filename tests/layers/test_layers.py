"""Layer-level invariants: cached attention equals full attention; attention masks; position offsets; the tied
projection. (The backbones' causality and padding invariance: tests/models/bert, gpt2.)"""

import numpy as np
import tensorflow as tf

from tfpretrain.layers.attention_masks import causal_attention_mask, causal_padding_attention_mask
from tfpretrain.layers.multi_head_attention import MultiHeadAttention
from tfpretrain.layers.position_embedding import PositionEmbedding
from tfpretrain.layers.token_embedding import TokenEmbedding


def test_cached_attention_matches_full_attention(rng):
    layer = MultiHeadAttention(num_heads=2)
    x = tf.constant(rng.normal(size=(2, 6, 8)), tf.float32)
    full = layer(x, attention_mask=causal_attention_mask(6, 6))
    cache = tf.zeros([2, 2, 6, 2, 4])
    prefix, cache = layer(x[:, :4], attention_mask=causal_attention_mask(4, 6), cache=cache)
    steps = [prefix]
    for i in (4, 5):
        out, cache = layer(
            x[:, i : i + 1], attention_mask=causal_attention_mask(1, 6, i), cache=cache, cache_update_index=i
        )
        steps.append(out)
    np.testing.assert_allclose(tf.concat(steps, axis=1), full, atol=1e-5)


def test_causal_padding_mask_shape_and_values():
    mask = causal_padding_attention_mask(tf.constant([[1, 1, 0]]))
    np.testing.assert_array_equal(mask[0], [[1, 0, 0], [1, 1, 0], [1, 1, 0]])


def test_position_embedding_starts_at_the_given_index(rng):
    layer = PositionEmbedding(10)
    x = tf.constant(rng.normal(size=(2, 3, 4)), tf.float32)
    layer(x)  # build
    table = layer.position_embeddings.numpy()
    np.testing.assert_array_equal(layer(x)[0], table[:3])
    np.testing.assert_array_equal(layer(x, start_index=tf.constant(6))[0], table[6:9])


def test_token_embedding_reverse_is_the_tied_projection(rng):
    layer = TokenEmbedding(11, 4)
    ids = np.array([[1, 5, 10]])
    embedded = layer(ids).numpy()
    table = layer.embeddings.numpy()
    np.testing.assert_array_equal(embedded[0], table[[1, 5, 10]])
    hidden = rng.normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(tf.constant(hidden), reverse=True), hidden @ table.T, rtol=1e-5, atol=1e-6)
