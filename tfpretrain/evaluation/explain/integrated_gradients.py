"""Integrated gradients (Sundararajan et al. 2017) over input token embeddings: the shared path integral, and the
explanation of a BertClassifier's score (GPT-2's next token: next_token.py). Both run the backbone's own
embed() / encode() from the token embeddings, so they explain exactly the model's forward pass.

attribution_i = (x_i - x'_i) . mean_k grad F(x' + a_k (x - x')) over the path from a baseline x' to the input x,
summed over the hidden dimension per token. Completeness: the attributions sum to F(x) - F(x'), up to the
quadrature error of the `steps`-point trapezoid rule (the tests check it).

BertClassifier: F is the score the fairness evaluation slices, the sigmoid probability (1 logit) or the probability
of `target_class`. Baselines replace every token that is not [CLS], [SEP] or padding with [PAD] (id 0) or [MASK];
segment and position embeddings are unchanged, so only the tokens' own contribution is attributed.
"""

import numpy as np
import tensorflow as tf

from tfpretrain.data import features as F

# Rows x columns per forward + backward pass: bounds the activation memory of one pass.
DEFAULT_BATCH_TOKENS = 4096


def trapezoid(steps):
    """`steps` equally spaced nodes a_k in [0, 1] and their trapezoid-rule weights (summing to 1)."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    weights = np.full(steps, 1.0 / (steps - 1), np.float32)
    weights[[0, -1]] /= 2
    return np.linspace(0.0, 1.0, steps, dtype=np.float32), weights


def path_integral(score_fn, x, x0, steps, lengths=None, max_batch_tokens=DEFAULT_BATCH_TOKENS):
    """Integrated gradients of `score_fn` along the straight path from x0 to x (float32 [B, S, H] each).

    lengths int [B] (default S): row b's score depends on its first lengths[b] columns only (later ones are padding,
    or after a causal model's position); they get zero attribution. Every (example, node) pair is stacked into the
    batch, rows sorted by length, as many per forward + backward pass as fit max_batch_tokens, each pass cut to its
    longest row. score_fn(points [N, W, H], rows int32 [N]) -> [N] scores: rows[n] is the example of point n, for
    per-example inputs (tf.gather them by rows, then cut them to W = tf.shape(points)[1] columns: it runs in a
    tf.function whose shapes are relaxed after the first pass). The first and last nodes are x0 and x, so their
    scores come free. Returns numpy (attributions [B, S], score(x) [B], score(x0) [B]).
    """
    batch, width = int(x.shape[0]), int(x.shape[1])
    lengths = np.full(batch, width) if lengths is None else np.minimum(np.asarray(lengths), width)
    alphas, weights = trapezoid(steps)
    order = np.argsort(lengths, kind="stable")
    rows = np.repeat(order, steps).astype(np.int32)  # [B*K], example-major: pair p = example order[p // K]
    alpha, weight = np.tile(alphas, batch), np.tile(weights, batch)  # [B*K] each
    total = tf.zeros_like(x)  # [B, S, H]: the weighted gradient sums

    @tf.function(reduce_retracing=True)  # one graph for all passes: ~2.5x faster than eager on CPU
    def step(point, index):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(point)
            value = score_fn(point, index)  # [N]
        return value, tape.gradient(value, point)

    values = np.empty(len(rows), np.float32)
    start = 0
    while start < len(rows):
        stop = start + 1  # grow the pass while it fits (lengths only grow along the sorted pairs)
        while stop < len(rows) and (stop + 1 - start) * lengths[rows[stop]] <= max_batch_tokens:
            stop += 1
        cut = int(lengths[rows[stop - 1]])
        index = tf.constant(rows[start:stop])
        begin = tf.gather(x0[:, :cut], index)  # [N, W, H]
        point = begin + tf.constant(alpha[start:stop])[:, None, None] * (tf.gather(x[:, :cut], index) - begin)
        value, grad = step(point, index)
        grad = grad * tf.constant(weight[start:stop])[:, None, None]  # [N, W, H]
        total += tf.pad(tf.math.unsorted_segment_sum(grad, index, batch), [[0, 0], [0, width - cut], [0, 0]])
        values[start:stop] = value.numpy()
        start = stop
    attributions = tf.reduce_sum((x - x0) * total, axis=-1).numpy()  # [B, S]
    ends = np.empty((batch, steps), np.float32)
    ends[order] = values.reshape(batch, steps)  # [B, K] in example order
    return attributions, ends[:, -1], ends[:, 0]


def real_lengths(padding_mask):
    """int [B]: 1 + each row's last real column (any padding after it changes no real position's output)."""
    padding_mask = np.asarray(padding_mask) != 0
    if not padding_mask.any(-1).all():
        raise ValueError(f"rows {np.flatnonzero(~padding_mask.any(-1)).tolist()} of padding_mask have no real token")
    return padding_mask.shape[1] - np.argmax(padding_mask[:, ::-1], axis=-1)


def completeness(attributions, score, base, **extra):
    """The result dict both models return: attributions, scores and delta = sum(attributions) - (score - base)."""
    return {"attributions": attributions, "score": score, "baseline_score": base,
            "delta": attributions.sum(-1) - (score - base), **extra}


def logits_from_token_embeddings(model, tokens, segment_ids, padding_mask):
    """BertClassifier's logits (inference) from token embeddings [B, S, H]: float32 [B, C]. The backbone's own
    embed / encode, with the token lookup replaced."""
    backbone = model.backbone
    x = backbone.embed({F.SEGMENT_IDS: segment_ids}, token_embeddings=tokens, training=False)  # [B, S, H]
    pooled = backbone.encode(x, padding_mask, training=False)["pooled_output"]  # [B, H]
    return tf.cast(model.classifier_head(pooled), tf.float32)


def _score(logits, target_class):
    """logits [B, C], target_class int [B] -> [B]: sigmoid of the one logit, else softmax of the target class."""
    if logits.shape[-1] == 1:
        return tf.sigmoid(logits[:, 0])
    return tf.gather(tf.nn.softmax(logits, axis=-1), target_class, batch_dims=1)


def baseline_ids(token_ids, padding_mask, special_ids, fill_id=0):
    """Every real, non-special token -> `fill_id` ([PAD] or [MASK]); [CLS], [SEP] and padding stay."""
    token_ids = np.asarray(token_ids)
    keep = np.isin(token_ids, list(special_ids)) | (np.asarray(padding_mask) == 0)
    return np.where(keep, token_ids, fill_id).astype(np.int32)


def integrated_gradients(model, features, *, special_ids=(2, 3), baseline="pad", pad_id=0, mask_id=4, target_class=1,
                         steps=64, max_batch_tokens=DEFAULT_BATCH_TOKENS):
    """features: token_ids / segment_ids / padding_mask int [B, S] -> dict with

    attributions float32 [B, S] (0 on padding), score [B], baseline_score [B], and delta [B]: the completeness
    gap sum(attributions) - (score - baseline_score), which shrinks as `steps` grows. target_class: an int or
    int [B] (multi-class heads; a 1-logit head always explains its sigmoid).
    """
    if baseline not in ("pad", "mask"):
        raise ValueError(f"baseline must be 'pad' or 'mask', got {baseline!r}")
    token_ids = np.asarray(features[F.TOKEN_IDS], np.int32)  # [B, S]
    padding_mask = np.asarray(features[F.PADDING_MASK], np.int32)
    segment_ids = np.asarray(features.get(F.SEGMENT_IDS, np.zeros_like(token_ids)), np.int32)
    targets = np.broadcast_to(np.asarray(target_class, np.int32), token_ids.shape[:1])  # [B]
    reference = baseline_ids(token_ids, padding_mask, special_ids, pad_id if baseline == "pad" else mask_id)
    embed = model.backbone.token_embedding
    x = tf.cast(embed(token_ids), tf.float32)  # [B, S, H]
    x0 = tf.cast(embed(reference), tf.float32)

    segments, mask = tf.constant(segment_ids), tf.constant(padding_mask)

    def score_fn(points, rows):  # points [N, W, H]
        cut = tf.shape(points)[1]
        logits = logits_from_token_embeddings(model, tf.cast(points, model.compute_dtype),
                                                tf.gather(segments[:, :cut], rows), tf.gather(mask[:, :cut], rows))
        return _score(logits, tf.gather(targets, rows))

    attributions, score, base = path_integral(score_fn, x, x0, steps, real_lengths(padding_mask), max_batch_tokens)
    return completeness(attributions * padding_mask, score, base)


def top_tokens(attributions, tokens, k=5):
    """(token, attribution) pairs with the largest |attribution| for one example, strongest first."""
    order = np.argsort(-np.abs(np.asarray(attributions)))[:k]
    return [(tokens[i], float(attributions[i])) for i in order if i < len(tokens)]
