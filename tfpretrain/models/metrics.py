"""Task metrics that Keras lacks."""

import tensorflow as tf

from tfpretrain.keras import keras


def add_to_mean(metric, total, count):
    """Add a weighted sum and its weight to a Keras Mean metric (what update_state(values, weights) would add)."""
    metric.total.assign_add(tf.cast(total, metric.total.dtype))
    metric.count.assign_add(tf.cast(count, metric.count.dtype))


class Perplexity(keras.metrics.Mean):
    """exp(weighted mean token cross-entropy); update with per-token losses and their weights."""

    def __init__(self, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return tf.exp(super().result())


class TopOneAccuracy(keras.metrics.Mean):
    """Sparse top-1 accuracy of logits [..., V] against int labels [...], without an ArgMax over V.

    A prediction counts as right when the label's logit equals the row maximum: a plain max reduction, where Keras'
    SparseCategoricalAccuracy takes an ArgMax, a (value, index) reduction over all B x P x V logits. XLA does not
    share the max with the cross-entropy's own, but it is still far cheaper (benchmarks/step_parts.py, CPU: 9.9 ->
    0.5 ms per BERT step, 170 -> 22 ms per GPT-2 step). Ties differ: argmax credits only the first of several equal
    maxima, this credits each; float logits from a trained model almost never tie.
    """

    def update_state(self, labels, logits, sample_weight=None):
        logits = tf.cast(logits, tf.float32)
        labels = tf.cast(labels, tf.int32)[..., tf.newaxis]  # [..., 1]
        label_logit = tf.gather(logits, labels, batch_dims=labels.shape.rank - 1)[..., 0]  # [...]
        right = tf.cast(label_logit >= tf.reduce_max(logits, axis=-1), tf.float32)
        return super().update_state(right, sample_weight=sample_weight)
