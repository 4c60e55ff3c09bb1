"""tfpretrain: pretrain, fine-tune and responsibly evaluate BERT and GPT-2 models in tf-keras.

Importing this package selects legacy Keras (tf-keras) for TensorFlow, so transformers, TFMA and our models all see
the same Keras. Heavy optional stacks (TFMA, Beam) are never imported here.
"""

import importlib
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__version__ = "0.1.0"

# Public names, resolved lazily so `import tfpretrain` stays cheap (no TensorFlow until a model is touched).
_EXPORTS = {
    "BertBackbone": "tfpretrain.models.bert.bert_backbone",
    "BertPretrainer": "tfpretrain.models.bert.bert_pretrainer",
    "BertClassifier": "tfpretrain.models.bert.bert_classifier",
    "GPT2Backbone": "tfpretrain.models.gpt2.gpt2_backbone",
    "GPT2CausalLM": "tfpretrain.models.gpt2.gpt2_causal_lm",
    "get_strategy": "tfpretrain.training.distribute",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tfpretrain' has no attribute {name!r}")
