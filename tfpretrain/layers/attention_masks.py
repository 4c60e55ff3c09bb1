"""Attention masks as int/bool tensors of shape [B, Q, K] (1 = may attend). No Python control flow on values."""

import tensorflow as tf


def padding_attention_mask(padding_mask):
    """[B, S] -> [B, 1, S]: every query may attend to the non-padding keys."""
    return tf.cast(padding_mask, tf.bool)[:, tf.newaxis, :]


def causal_attention_mask(query_length, key_length, query_offset=0):
    """[1, Q, K]: query i (absolute position query_offset + i) may attend to keys 0 .. query_offset + i."""
    q = tf.range(query_length)[:, tf.newaxis] + query_offset
    k = tf.range(key_length)[tf.newaxis, :]
    return (k <= q)[tf.newaxis]


def causal_padding_attention_mask(padding_mask):
    """[B, S] -> [B, S, S]: causal and never attending to padding keys."""
    length = tf.shape(padding_mask)[1]
    return tf.logical_and(causal_attention_mask(length, length), padding_attention_mask(padding_mask))
