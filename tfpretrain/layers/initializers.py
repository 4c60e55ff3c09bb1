"""Weight initializers. A fresh instance per weight: an unseeded instance reused by Keras repeats its values."""

from tfpretrain.keras import keras


def truncated_normal(stddev=0.02):
    return keras.initializers.TruncatedNormal(stddev=stddev)
