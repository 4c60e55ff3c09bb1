"""Activations by the names checkpoints use ("gelu" is BERT's exact erf form, "gelu_new" GPT-2's tanh form)."""

import tensorflow as tf


def gelu(x):
    return tf.nn.gelu(x, approximate=False)


def gelu_approximate(x):
    return tf.nn.gelu(x, approximate=True)


ACTIVATIONS = {
    "gelu": gelu,
    "gelu_new": gelu_approximate,
    "gelu_pytorch_tanh": gelu_approximate,
    "gelu_approximate": gelu_approximate,
    "relu": tf.nn.relu,
}


def get_activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
