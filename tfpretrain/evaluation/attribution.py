"""Integrated gradients (Sundararajan et al. 2017) over the input token embeddings of a BertClassifier.

attribution_i = (x_i - x'_i) . mean_k grad F(x' + a_k (x - x')) over the path from a baseline x' to the input x,
summed over the hidden dimension per token. Completeness: the attributions sum to F(x) - F(x'), up to the
quadrature error of the `steps`-point trapezoid rule (the test checks it). F is the score the fairness evaluation
slices: the sigmoid probability (1 logit) or the probability of `target_class`.

Baselines replace every token that is not [CLS], [SEP] or padding with [PAD] (id 0) or [MASK]; segment and
position embeddings are unchanged, so only the tokens' own contribution is attributed.
"""

import numpy as np
import tensorflow as tf

from tfpretrain.data import features as F


def _forward_from_token_embeddings(model, tokens, segment_ids, padding_mask):
    """BertClassifier's forward pass (inference) from token embeddings [B, S, H] -> float32 logits [B, C]."""
    from tfpretrain.layers.attention_masks import padding_attention_mask

    backbone = model.backbone
    x = tokens + backbone.get_layer("segment_embedding")(segment_ids) + backbone.get_layer("position_embedding")(
        tokens
    )
    x = backbone.get_layer("embeddings_norm")(x)
    mask = padding_attention_mask(padding_mask)  # [B, 1, S]
    for layer in backbone.transformer_layers:
        x = layer(x, attention_mask=mask, training=False)
    pooled = backbone.get_layer("pooler")(x[:, 0, :])  # [B, H]
    return tf.cast(model.get_layer("classifier_head")(pooled), tf.float32)


def _score(logits, target_class):
    if logits.shape[-1] == 1:
        return tf.sigmoid(logits[:, 0])  # [B]
    return tf.nn.softmax(logits, axis=-1)[:, target_class]


def baseline_ids(token_ids, padding_mask, special_ids, fill_id=0):
    """Every real, non-special token -> `fill_id` ([PAD] = 0 or [MASK]); [CLS], [SEP] and padding stay."""
    token_ids = np.asarray(token_ids)
    keep = np.isin(token_ids, list(special_ids)) | (np.asarray(padding_mask) == 0)
    return np.where(keep, token_ids, fill_id).astype(np.int32)


def integrated_gradients(model, features, *, special_ids=(2, 3), baseline="pad", mask_id=4, target_class=1,
                         steps=64):
    """features: token_ids / segment_ids / padding_mask int [B, S] -> dict with

    attributions float32 [B, S] (0 on padding), score [B], baseline_score [B], and delta [B]: the completeness
    gap sum(attributions) - (score - baseline_score), which shrinks as `steps` grows.
    """
    if baseline not in ("pad", "mask"):
        raise ValueError(f"baseline must be 'pad' or 'mask', got {baseline!r}")
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    token_ids = np.asarray(features[F.TOKEN_IDS], np.int32)
    padding_mask = np.asarray(features[F.PADDING_MASK], np.int32)
    segment_ids = np.asarray(features.get(F.SEGMENT_IDS, np.zeros_like(token_ids)), np.int32)
    reference = baseline_ids(token_ids, padding_mask, special_ids, 0 if baseline == "pad" else mask_id)
    embed = model.backbone.token_embedding
    x = tf.cast(embed(token_ids), tf.float32)  # [B, S, H]
    x0 = tf.cast(embed(reference), tf.float32)
    alphas = tf.linspace(0.0, 1.0, steps)  # trapezoid nodes
    weights = tf.concat([[0.5], tf.ones([steps - 2]), [0.5]], 0) / (steps - 1)

    def score_at(point):
        logits = _forward_from_token_embeddings(model, tf.cast(point, model.compute_dtype), segment_ids,
                                                padding_mask)
        return _score(logits, target_class)

    total = tf.zeros_like(x)
    for alpha, weight in zip(alphas, weights):  # one batched forward + backward per node
        point = x0 + alpha * (x - x0)
        with tf.GradientTape() as tape:
            tape.watch(point)
            value = score_at(point)
        total += weight * tape.gradient(value, point)  # [B, S, H]
    attributions = tf.reduce_sum((x - x0) * total, axis=-1) * tf.cast(padding_mask, tf.float32)  # [B, S]
    score, base = score_at(x).numpy(), score_at(x0).numpy()
    attributions = attributions.numpy()
    return {
        "attributions": attributions,
        "score": score,
        "baseline_score": base,
        "delta": attributions.sum(-1) - (score - base),
    }


def top_tokens(attributions, tokens, k=5):
    """(token, attribution) pairs with the largest |attribution| for one example, strongest first."""
    order = np.argsort(-np.abs(np.asarray(attributions)))[:k]
    return [(tokens[i], float(attributions[i])) for i in order if i < len(tokens)]
