"""Multi-head self-attention with one fused QKV projection and an optional static-shape key/value cache."""

import math

import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

from tfpretrain.keras import keras
from tfpretrain.layers.dropout import Dropout
from tfpretrain.layers.initializers import truncated_normal


@keras.utils.register_keras_serializable(package="tfpretrain")
class MultiHeadAttention(keras.layers.Layer):
    """Self-attention over [B, S, H].

    The query/key/value projections are one [H, 3H] matmul (one large GEMM beats three small ones on every
    backend). Scores and softmax run in float32 even under mixed precision; the mask is applied additively.

    With `cache` ([B, 2, T, N, D], keys then values for T cached positions), the new keys/values of the S input
    positions are written at `cache_update_index` and attention runs over all T positions; the caller's mask
    must then be [B, S, T]. Returns `(output, cache)` in that mode, `output` otherwise.
    """

    def __init__(self, num_heads, dropout=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.dropout = dropout
        self.initializer_range = initializer_range

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim {hidden_dim} is not divisible by num_heads {self.num_heads}")
        self.head_dim = hidden_dim // self.num_heads
        self.qkv_dense = keras.layers.Dense(
            3 * hidden_dim,
            kernel_initializer=truncated_normal(self.initializer_range),
            dtype=self.dtype_policy,
            name="qkv",
        )
        self.qkv_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=truncated_normal(self.initializer_range),
            dtype=self.dtype_policy,
            name="output",
        )
        self.output_dense.build(input_shape)
        self.dropout_layer = Dropout(self.dropout, dtype=self.dtype_policy, name="dropout")
        super().build(input_shape)

    def call(self, inputs, attention_mask=None, cache=None, cache_update_index=0, training=None):
        batch, length = tf.shape(inputs)[0], tf.shape(inputs)[1]
        n, d = self.num_heads, self.head_dim
        qkv = tf.reshape(self.qkv_dense(inputs), [batch, length, 3, n, d])  # [B, S, 3, N, D]
        query, key, value = tf.unstack(qkv, 3, axis=2)  # each [B, S, N, D]
        if cache is not None:
            new_kv = tf.stack([key, value], axis=1)  # [B, 2, S, N, D]
            cache = tf.cast(cache, new_kv.dtype)
            # Static-shape in-place write at position cache_update_index (outside XLA, TF compiles it on demand).
            cache = dynamic_update_slice(cache, new_kv, [0, 0, cache_update_index, 0, 0])
            key, value = cache[:, 0], cache[:, 1]  # [B, T, N, D]
        query = query * tf.cast(1.0 / math.sqrt(d), query.dtype)
        scores = tf.einsum("bqnd,bknd->bnqk", query, key)  # [B, N, Q, K]
        scores = tf.cast(scores, tf.float32)
        if attention_mask is not None:
            mask = tf.cast(attention_mask, tf.bool)[:, tf.newaxis]  # [B, 1, Q, K]
            scores = tf.where(mask, scores, tf.constant(-1e9, tf.float32))
        probs = tf.nn.softmax(scores, axis=-1)
        probs = self.dropout_layer(tf.cast(probs, self.compute_dtype), training=training)
        context = tf.einsum("bnqk,bknd->bqnd", probs, value)  # [B, Q, N, D]
        output = self.output_dense(tf.reshape(context, [batch, length, n * d]))
        return output if cache is None else (output, cache)

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, dropout=self.dropout, initializer_range=self.initializer_range)
        return config
