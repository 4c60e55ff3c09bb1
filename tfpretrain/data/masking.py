"""In-graph dynamic masked-LM masking (BERT's 80/10/10), whole-word aware, with static output shapes.

Runs inside tf.data (or a TPU step): no Python control flow on values, no boolean_mask, every output shape is
fixed by `max_predictions`. Randomness is stateless from an explicit seed, so a data position replays exactly.
"""

import tensorflow as tf

from tfpretrain.data import features as F


def mask_tokens(
    token_ids,
    padding_mask,
    seed,
    *,
    vocabulary_size,
    mask_token_id,
    special_token_ids,
    max_predictions,
    mask_rate=0.15,
    continuation_table=None,
):
    """token_ids/padding_mask int32 [B, S], seed int [2] -> dict of masked features.

    Returns token_ids (masked) [B, S], masked_lm_positions [B, P], masked_lm_ids [B, P] (original tokens) and
    masked_lm_weights [B, P] float32 (1 for real predictions, 0 for the padding slots), P = max_predictions.
    Each row masks round(mask_rate * candidates) tokens (at least 1, at most P); candidates are non-padding,
    non-special tokens. With `continuation_table` (bool [V], True for WordPiece "##" pieces) whole words are
    selected together: every piece of a word shares its first piece's random score (a word that would
    overflow the row's budget is skipped whole, so a row may predict fewer tokens).
    """
    token_ids = tf.cast(token_ids, tf.int32)
    batch, length = tf.shape(token_ids)[0], token_ids.shape[1]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3)

    special = tf.reduce_any(token_ids[..., None] == tf.constant(list(special_token_ids), tf.int32), axis=-1)
    candidates = tf.logical_and(tf.cast(padding_mask, tf.bool), tf.logical_not(special))  # [B, S]

    if not 0 < max_predictions <= length:
        raise ValueError(f"max_predictions={max_predictions} must be in 1..sequence length {length}")
    positions = tf.broadcast_to(tf.range(length), [batch, length])
    word_start = positions  # [B, S] position of the first piece of each token's word
    scores = tf.random.stateless_uniform([batch, length], seeds[0])
    if continuation_table is not None:
        continuation = tf.gather(tf.constant(continuation_table, tf.bool), token_ids)
        # Running max of word-start positions along the sequence (scan over [S, B]).
        word_start = tf.transpose(tf.scan(tf.maximum, tf.transpose(tf.where(continuation, 0, positions))))
        scores = tf.gather(scores, word_start, batch_dims=1)  # every piece shares its word's score
    scores = tf.where(candidates, scores, -1.0)  # non-candidates sort last

    num_candidates = tf.reduce_sum(tf.cast(candidates, tf.float32), axis=1)
    num_to_mask = tf.clip_by_value(tf.round(num_candidates * mask_rate), 1.0, float(max_predictions))
    num_to_mask = tf.cast(tf.minimum(num_to_mask, num_candidates), tf.int32)  # [B]; 0 when nothing to mask
    # Rank P + 1 slots (a sentinel column keeps k <= S + 1): slot P shows whether the last word runs on.
    padded = tf.concat([scores, -2.0 * tf.ones([batch, 1])], axis=1)
    ranked_scores, ranked = tf.math.top_k(padded, k=max_predictions + 1)  # [B, P + 1], best first
    ranked_words = tf.gather(tf.concat([word_start, -tf.ones([batch, 1], tf.int32)], 1), ranked, batch_dims=1)
    # A word whose pieces straddle slot num_to_mask is dropped whole rather than cut.
    boundary = tf.gather(ranked_words, num_to_mask[:, None], batch_dims=1)  # [B, 1]
    boundary_live = tf.gather(ranked_scores, num_to_mask[:, None], batch_dims=1) >= 0
    cut = tf.logical_and(tf.equal(ranked_words, boundary), boundary_live)
    slot = tf.range(max_predictions + 1)[None, :]
    keep = tf.logical_and(slot < num_to_mask[:, None], tf.logical_not(cut))[:, :max_predictions]
    weights = tf.cast(keep, tf.float32)  # [B, P]
    picked = tf.where(keep, ranked[:, :max_predictions], 0)
    original = tf.gather(token_ids, picked, batch_dims=1)  # [B, P]

    # 80% [MASK], 10% a random token, 10% unchanged.
    decision = tf.random.stateless_uniform([batch, max_predictions], seeds[1])
    random_tokens = tf.random.stateless_uniform(
        [batch, max_predictions], seeds[2], maxval=vocabulary_size, dtype=tf.int32
    )
    replacement = tf.where(decision < 0.8, mask_token_id, tf.where(decision < 0.9, random_tokens, original))
    # Write replacements only where weight > 0: a one-hot [B, P, S] sum keeps this a dense, XLA-friendly op.
    hits = tf.one_hot(picked, length, dtype=tf.int32) * tf.cast(weights, tf.int32)[..., None]  # [B, P, S]
    is_masked = tf.reduce_sum(hits, axis=1) > 0  # [B, S]
    new_values = tf.reduce_sum(hits * replacement[..., None], axis=1)
    return {
        F.TOKEN_IDS: tf.where(is_masked, new_values, token_ids),
        F.MASKED_LM_POSITIONS: picked,
        F.MASKED_LM_IDS: tf.where(weights > 0, original, 0),
        F.MASKED_LM_WEIGHTS: weights,
    }
