"""The DP-SGD oracle the privacy tests share: per-example gradients from separate tapes, clipped in numpy."""

import numpy as np
import tensorflow as tf

# A 1-layer BERT / GPT-2 small enough for per-example tapes, big enough to have every layer type.
SMALL = dict(num_layers=1, hidden_dim=8, intermediate_dim=16, max_sequence_length=16, vocabulary_size=50)


def flat(tensors):
    return np.concatenate([np.asarray(t).ravel() for t in tensors])


def per_example_reference(model, features):
    """[B, P] per-example gradients of each example's own loss, from separate tapes (float64)."""
    rows = []
    batch = len(next(iter(features.values())))
    for i in range(batch):
        example = {k: v[i : i + 1] for k, v in features.items()}
        with tf.GradientTape() as tape:
            outputs = model({k: example[k] for k in model.input_keys}, training=True)
            numerators, denominators = model.loss_numerators(example, outputs), model.loss_denominators(example)
            loss = tf.add_n([numerators[k] / denominators[k] for k in numerators])
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                 for g, v in zip(grads, model.trainable_variables)]
        rows.append(flat(grads).astype(np.float64))
    return np.stack(rows)


def clip_rows(grads, l2_norm_clip):
    """[B, P] rows each clipped to L2 norm `l2_norm_clip` -> (clipped rows, the rows' norms before clipping)."""
    norms = np.linalg.norm(grads, axis=1)
    return grads * np.minimum(1.0, l2_norm_clip / norms)[:, None], norms
