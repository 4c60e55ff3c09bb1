"""Base class for functional backbones: kwargs config round-trip and input validation."""

import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.models.input_validation import validate_token_inputs


class Backbone(keras.Model):
    """A functional model built from plain kwargs. Subclasses set `input_keys`, `family` and store `_kwargs`."""

    input_keys = ()
    family = None

    @property
    def input_spec(self):
        # Keras' generic spec check would reject bad inputs before `call` with a less specific message.
        return None

    @input_spec.setter
    def input_spec(self, value):
        pass

    def call(self, inputs, training=None, mask=None):
        validate_token_inputs(inputs, self.input_keys, self.max_sequence_length, type(self).__name__)
        inputs = {k: tf.cast(inputs[k], tf.int32) for k in self.input_keys}
        return super().call(inputs, training=training, mask=mask)

    def _set_config(self, **kwargs):
        """Keep the constructor kwargs as attributes and as the `get_config` payload (one list, not two)."""
        self._kwargs = kwargs
        for name, value in kwargs.items():
            setattr(self, name, value)

    def dummy_inputs(self, batch_size=2, sequence_length=8):
        """All-ones int32 inputs (valid token, segment 1, no padding), e.g. to build or trace the model."""
        return {k: tf.ones((batch_size, sequence_length), tf.int32) for k in self.input_keys}

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self._kwargs}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    @classmethod
    def from_pretrained(cls, path, **overrides):
        """Build from a Hugging Face checkpoint directory (config.json + weights) with an explicit name map."""
        from tfpretrain.checkpoints.hf import convert as hf_convert

        return hf_convert.load_backbone(cls, path, **overrides)

    def save_pretrained(self, path):
        """Write a Hugging Face checkpoint directory (config.json + model.safetensors) that transformers loads."""
        from tfpretrain.checkpoints.hf import convert as hf_convert

        hf_convert.save_backbone(self, path)
