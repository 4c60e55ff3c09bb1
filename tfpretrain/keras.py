"""The one Keras this project uses: tf-keras (Keras 2). Import Keras from here, never `keras` (Keras 3)."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tf_keras as keras  # noqa: E402

__all__ = ["keras"]
