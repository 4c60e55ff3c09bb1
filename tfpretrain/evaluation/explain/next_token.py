"""Integrated gradients for GPT-2's next-token prediction: which input tokens raise or lower the log-probability of
the token predicted after `position` (the path integral itself is integrated_gradients.path_integral).

The explained score is log P(target | tokens 0..position) by default: the quantity the LM is trained and sampled
on, in nats comparable across targets, and not moved by a shift shared by all logits (a raw logit can rise while
its token grows less likely). `score="logit"` explains the raw logit instead.

Baselines replace every real token's embedding with zeros or with <|endoftext|>'s; position embeddings are kept,
so only the tokens' own contribution is attributed. Tokens after `position` get exactly zero: causal attention
never lets them reach the prediction.
"""

import numpy as np
import tensorflow as tf

from tfpretrain.evaluation.explain.integrated_gradients import (
    DEFAULT_BATCH_TOKENS,
    completeness,
    path_integral,
    real_lengths,
)

BASELINES = ("zeros", "end_token")
SCORES = ("log_prob", "logit")


def hidden_from_token_embeddings(model, tokens, padding_mask):
    """GPT2CausalLM's decoder (inference) from token embeddings [B, S, H] -> hidden [B, S, H] after final_norm: the
    backbone's own embed / encode, with the token lookup replaced."""
    backbone = model.backbone
    x = backbone.embed({}, token_embeddings=tokens, training=False)  # + positions
    return backbone.encode(x, padding_mask, training=False)


def _logits_at(model, tokens, padding_mask, positions):
    """-> float32 [B, V]: the next-token logits at positions [B] (the tied output projection)."""
    hidden = tf.gather(hidden_from_token_embeddings(model, tokens, padding_mask), positions, batch_dims=1)  # [B, H]
    return tf.cast(model.backbone.token_embedding(hidden, reverse=True), tf.float32)


def integrated_gradients_next_token(model, token_ids, padding_mask=None, target_id=None, position=None, *,
                                    baseline="zeros", end_token_id=0, score="log_prob", steps=64,
                                    max_batch_tokens=DEFAULT_BATCH_TOKENS):
    """token_ids / padding_mask int [B, S] (mask default: all real) -> dict with

    attributions float32 [B, S] (0 on padding and after `position`), score [B], baseline_score [B], delta [B]
    (sum(attributions) - (score - baseline_score)), as integrated_gradients.integrated_gradients returns, plus the
    position [B] and target_id [B] explained. position: int or int [B], default the last real token; target_id:
    int or int [B], default the model's argmax there. end_token_id: <|endoftext|> (id 0 in tokenizers trained
    here, 50256 in OpenAI's GPT-2) for baseline="end_token".
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    token_ids = np.atleast_2d(np.asarray(token_ids, np.int32))  # [B, S]
    padding_mask = np.ones_like(token_ids) if padding_mask is None else np.atleast_2d(np.asarray(padding_mask))
    padding_mask = padding_mask.astype(np.int32)
    batch, width = token_ids.shape
    if position is None:
        positions = (real_lengths(padding_mask) - 1).astype(np.int32)
    else:
        positions = np.broadcast_to(np.asarray(position, np.int32), [batch]).copy()
    if ((positions < 0) | (positions >= width)).any() or not padding_mask[np.arange(batch), positions].all():
        raise ValueError(f"position {positions.tolist()} must index a real token of each row (width {width})")
    real = padding_mask[..., None] == 1  # [B, S, 1]
    embed = model.backbone.token_embedding
    x = tf.cast(embed(token_ids), tf.float32)  # [B, S, H]
    if baseline == "zeros":
        x0 = tf.where(real, 0.0, x)
    else:
        x0 = tf.cast(embed(np.where(real[..., 0], end_token_id, token_ids)), tf.float32)

    mask = tf.constant(padding_mask)

    def logits(points, rows):  # [N, W, H] -> float32 [N, V]
        return _logits_at(model, tf.cast(points, model.compute_dtype), tf.gather(mask[:, : tf.shape(points)[1]], rows),
                          tf.gather(positions, rows))

    if target_id is None:
        target_id = tf.argmax(logits(x, tf.range(batch)), axis=-1).numpy()
    targets = np.broadcast_to(np.asarray(target_id, np.int32), [batch]).copy()

    def score_fn(points, rows):
        values = logits(points, rows)
        if score == "log_prob":
            values = tf.nn.log_softmax(values, axis=-1)
        return tf.gather(values, tf.gather(targets, rows), batch_dims=1)  # [N]

    # Columns after a row's position cannot reach its prediction (causal attention): cut from the passes.
    attributions, value, base = path_integral(score_fn, x, x0, steps, positions + 1, max_batch_tokens)
    return completeness(attributions * padding_mask, value, base, position=positions, target_id=targets)
