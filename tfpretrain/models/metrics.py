"""Task metrics that Keras lacks."""

import tensorflow as tf

from tfpretrain.keras import keras


class Perplexity(keras.metrics.Mean):
    """exp(weighted mean token cross-entropy); update with per-token losses and their weights."""

    def __init__(self, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return tf.exp(super().result())


class TopOneAccuracy(keras.metrics.Mean):
    """Sparse top-1 accuracy of logits [..., V] against int labels [...], without an ArgMax over V.

    A prediction counts as right when the label's logit equals the row maximum. That maximum is the reduction the
    softmax cross-entropy of the same logits already takes, so under XLA it is computed once for both, where
    Keras' SparseCategoricalAccuracy adds an ArgMax, a (value, index) reduction over all B x P x V logits (24 ms of a
    2.5 s BERT step on CPU, benchmarks/README.md). Ties differ: argmax credits only the first of several equal
    maxima, this credits each; float logits from a trained model almost never tie.
    """

    def update_state(self, labels, logits, sample_weight=None):
        logits = tf.cast(logits, tf.float32)
        labels = tf.cast(labels, tf.int32)[..., tf.newaxis]  # [..., 1]
        label_logit = tf.gather(logits, labels, batch_dims=labels.shape.rank - 1)[..., 0]  # [...]
        right = tf.cast(label_logit >= tf.reduce_max(logits, axis=-1), tf.float32)
        return super().update_state(right, sample_weight=sample_weight)
