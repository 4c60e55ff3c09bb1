"""Base class for functional backbones: the forward pass as embed() then encode() (one code path for `call`, the
KV cache and attributions), config from the constructor's arguments, input validation, and Hugging
Face checkpoints through the family's converter (found in the registry by dotted name: models never import
checkpoints/)."""

import inspect
import types

import tensorflow as tf

from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models import families
from tfpretrain.models.input_validation import validate_token_inputs


class Backbone(keras.Model):
    """A functional model built from plain kwargs. Subclasses set `input_keys` and `family`, and end `__init__` with
    `self._set_config(locals())`: the constructor's parameters are the config (the family's config dataclass lists
    the same fields; a test checks they agree)."""

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

    # -- the forward pass, in two halves shared by `call`, the KV cache and attributions ------------------------
    def embed(self, inputs, token_embeddings=None, start_index=0, training=None):
        """inputs: dict of int [B, S] (token_ids, and segment_ids where the family has them) -> [B, S, H], what the
        transformer stack reads, for positions start_index .. start_index + S - 1 (a KV cache's offset).
        token_embeddings [B, S, H] replaces the token lookup (attributions differentiate with respect to it); token_ids
        may then be absent."""
        raise NotImplementedError(f"{type(self).__name__} must define embed()")

    def encode(self, embeddings, padding_mask, training=None):
        """embeddings [B, S, H] and padding_mask int [B, S] -> the backbone's outputs (the transformer stack and what
        follows it: final norm or pooler)."""
        raise NotImplementedError(f"{type(self).__name__} must define encode()")

    def _build_graph(self, layers, inputs, **kwargs):
        """Initialise the functional model as encode(embed(inputs)) over `layers` (attribute name -> layer).

        tf_keras refuses layer attributes before keras.Model.__init__, which needs the graph: so this class's own
        embed / encode trace it with the layers on a stand-in object, and the layers become attributes after."""
        stand_in, cls = types.SimpleNamespace(**layers), type(self)
        outputs = cls.encode(stand_in, cls.embed(stand_in, inputs), inputs[F.PADDING_MASK])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        for name, layer in layers.items():
            setattr(self, name, layer)

    @classmethod
    def config_names(cls):
        """The constructor's parameters minus dtype / name / **kwargs: what get_config holds, in order."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return tuple(p.name for p in parameters
                     if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in ("self", "dtype", "name"))

    def _set_config(self, arguments):
        """Keep the constructor's arguments (its `locals()`) as attributes; get_config reads them back."""
        for name in self.config_names():
            setattr(self, name, arguments[name])

    def dummy_inputs(self, batch_size=2, sequence_length=8):
        """All-ones int32 inputs (valid token, segment 1, no padding), e.g. to build or trace the model."""
        return {k: tf.ones((batch_size, sequence_length), tf.int32) for k in self.input_keys}

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **{k: getattr(self, k) for k in self.config_names()}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    @classmethod
    def from_pretrained(cls, path, **overrides):
        """Build from a Hugging Face checkpoint directory (config.json + weights) with an explicit name map."""
        return families.get(cls.family).converter.load_backbone(cls, path, **overrides)

    def save_pretrained(self, path):
        """Write a Hugging Face checkpoint directory (config.json + model.safetensors) that transformers loads."""
        families.get(self.family).converter.save_backbone(self, path)
