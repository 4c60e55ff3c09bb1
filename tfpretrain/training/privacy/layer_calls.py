"""Recording copies of the trainable layers' `call` for ghost clipping (training/privacy/ghost_clipping.py).

Each copy computes what the layer computes (the same ops) and registers the tensor it writes with the Recorder,
plus a function that turns that tensor's gradient into layer_norms terms, one per variable:

  Dense                 kernel: Outer(input, grad of the pre-activation)   bias: Direct(sum over rows of that grad)
  LayerNormalization    gamma: Direct(sum_t x_hat * grad)                  beta: Direct(sum_t grad)
  Embedding             embeddings: Outer(ids, grad)
  TokenEmbedding        lookup: Outer(ids, grad); tied projection logits = x E^T: Outer(grad of logits [V], x)
  PositionEmbedding     embeddings: Outer(positions, grad); the output is broadcast to [B, S, H] (was [1, S, H]) so
                        that its gradient is per example
  MaskedLMHead          output_bias: Direct(sum over masked positions of the logit gradient); its dense, norm and
                        tied projection record themselves
A layer type not listed here has no copy: ghost_clipping refuses models whose trainable variables it owns.
"""

import typing

import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.layers.masked_lm_head import MaskedLMHead
from tfpretrain.layers.position_embedding import PositionEmbedding
from tfpretrain.layers.token_embedding import TokenEmbedding
from tfpretrain.training.privacy.layer_norms import direct, outer


class Record(typing.NamedTuple):
    output: tf.Tensor  # what the layer wrote, [B, ...]
    terms: typing.Callable  # gradient of `output` -> [(variable, layer_norms term), ...]


class Recorder:
    """The calls of one forward pass. Each output is computed from a trainable variable, so the tape that watches
    the variables records it without `tape.watch`."""

    def __init__(self):
        self.records = []

    def add(self, output, terms):
        self.records.append(Record(output, terms))


def _rows_sum(grad):
    """[B, ..., W] -> [B, W]: summed over every axis but the batch and the last."""
    return tf.reduce_sum(tf.reshape(grad, [tf.shape(grad)[0], -1, grad.shape[-1]]), axis=1)


def dense(layer, recorder):
    @tf.autograph.experimental.do_not_convert
    def call(inputs):  # [B, ..., d_in] -> [B, ..., d_out], as keras' Dense.call for dense inputs
        if inputs.dtype.base_dtype != layer._compute_dtype_object.base_dtype:
            inputs = tf.cast(inputs, layer._compute_dtype_object)
        rank = inputs.shape.rank
        if rank == 2:
            outputs = tf.matmul(inputs, layer.kernel)
        else:
            outputs = tf.tensordot(inputs, layer.kernel, [[rank - 1], [0]])
            outputs.set_shape(inputs.shape[:-1].concatenate([layer.kernel.shape[-1]]))
        if layer.use_bias:
            outputs = tf.nn.bias_add(outputs, layer.bias)

        def terms(grad):  # grad [B, ..., d_out]
            kernel = [(layer.kernel, outer(inputs, grad))]
            return kernel + ([(layer.bias, direct(_rows_sum(grad)))] if layer.use_bias else [])

        recorder.add(outputs, terms)
        return outputs if layer.activation is None else layer.activation(outputs)

    return call


def layer_norm(layer, recorder):
    @tf.autograph.experimental.do_not_convert
    def call(inputs):  # [B, ..., d], normalised over the last axis in float32 at least
        if list(layer.axis) != [inputs.shape.rank - 1]:
            raise ValueError(f"ghost clipping supports LayerNormalization over the last axis only ({layer.name})")
        inputs = tf.cast(inputs, layer.compute_dtype)
        x = tf.cast(inputs, tf.float32) if inputs.dtype in (tf.float16, tf.bfloat16) else inputs
        mean, variance = tf.nn.moments(x, [-1], keepdims=True)
        x_hat = (x - mean) * tf.math.rsqrt(variance + layer.epsilon)
        outputs = x_hat * tf.cast(layer.gamma, x.dtype) if layer.scale else x_hat
        outputs = outputs + tf.cast(layer.beta, x.dtype) if layer.center else outputs
        outputs = tf.cast(outputs, inputs.dtype)

        def terms(grad):
            grad = tf.cast(grad, tf.float32)
            found = [(layer.gamma, direct(_rows_sum(tf.cast(x_hat, tf.float32) * grad)))] if layer.scale else []
            return found + ([(layer.beta, direct(_rows_sum(grad)))] if layer.center else [])

        recorder.add(outputs, terms)
        return outputs

    return call


def embedding(layer, recorder):
    @tf.autograph.experimental.do_not_convert
    def call(inputs):  # int [B, ...] -> [B, ..., H], as keras' Embedding.call for dense ids
        if inputs.dtype not in (tf.int32, tf.int64):
            inputs = tf.cast(inputs, tf.int32)
        outputs = tf.nn.embedding_lookup(layer.embeddings, inputs)
        if layer._dtype_policy.compute_dtype != layer._dtype_policy.variable_dtype:
            outputs = tf.cast(outputs, layer._dtype_policy.compute_dtype)
        recorder.add(outputs, lambda grad: [(layer.embeddings, outer(inputs, grad, vocabulary=layer.input_dim))])
        return outputs

    return call


def token_embedding(layer, recorder):
    @tf.autograph.experimental.do_not_convert
    def call(inputs, reverse=False):  # as TokenEmbedding.call
        table = layer.embeddings
        if reverse:  # [B, ..., H] -> [B, ..., V] logits = x E^T; example b's table gradient: sum_r g_r (x) x_r
            flat = tf.reshape(inputs, [-1, layer.hidden_dim])
            logits = tf.matmul(flat, tf.cast(table, inputs.dtype), transpose_b=True)
            logits = tf.reshape(logits, tf.concat([tf.shape(inputs)[:-1], [layer.vocabulary_size]], 0))
            logits.set_shape(inputs.shape[:-1].concatenate([layer.vocabulary_size]))
            recorder.add(logits, lambda grad: [(table, outer(grad, inputs))])
            return logits
        outputs = tf.gather(tf.cast(table, layer.compute_dtype), inputs)  # [B, S, H]
        recorder.add(outputs, lambda grad: [(table, outer(inputs, grad, vocabulary=layer.vocabulary_size))])
        return outputs

    return call


def position_embedding(layer, recorder):
    @tf.autograph.experimental.do_not_convert
    def call(inputs, start_index=0):  # [B, S, H] -> [B, S, H] (PositionEmbedding returns [1, S, H])
        length = inputs.shape[1] if inputs.shape[1] is not None else tf.shape(inputs)[1]
        table = tf.cast(layer.position_embeddings, layer.compute_dtype)
        rows = tf.slice(table, [start_index, 0], [length, table.shape[-1]])  # [S, H]
        outputs = tf.broadcast_to(rows[tf.newaxis], tf.concat([tf.shape(inputs)[:1], tf.shape(rows)], 0))
        outputs.set_shape(inputs.shape[:1].concatenate(rows.shape))
        positions = tf.broadcast_to(start_index + tf.range(length)[tf.newaxis], tf.shape(outputs)[:2])  # [B, S]
        recorder.add(outputs, lambda grad: [
            (layer.position_embeddings, outer(positions, grad, vocabulary=layer.max_sequence_length))])
        return outputs

    return call


def masked_lm_head(layer, recorder):
    @tf.autograph.experimental.do_not_convert
    def call(inputs):  # as MaskedLMHead.call: -> float32 logits [B, P, V]
        sequence_output, positions = inputs
        gathered = tf.gather(sequence_output, positions, batch_dims=1)  # [B, P, H]
        x = layer.layer_norm(layer.dense(gathered))
        logits = layer.token_embedding(x, reverse=True)  # [B, P, V]
        outputs = tf.cast(logits, tf.float32) + tf.cast(layer.bias, tf.float32)
        recorder.add(outputs, lambda grad: [(layer.bias, direct(_rows_sum(grad)))])
        return outputs

    return call


RECORDERS = {
    keras.layers.Dense: dense,
    keras.layers.LayerNormalization: layer_norm,
    keras.layers.Embedding: embedding,
    TokenEmbedding: token_embedding,
    PositionEmbedding: position_embedding,
    MaskedLMHead: masked_lm_head,
}
