"""Task metrics that Keras lacks."""

import tensorflow as tf

from tfpretrain.keras import keras


class Perplexity(keras.metrics.Mean):
    """exp(weighted mean token cross-entropy); update with per-token losses and their weights."""

    def __init__(self, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return tf.exp(super().result())
