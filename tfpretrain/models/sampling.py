"""Static-shape, XLA-compilable autoregressive sampling for GPT-2 with a key/value cache.

Prompts of different lengths share one batch: the buffer [B, T] is right-padded, decoding starts at the shortest
prompt, and rows whose prompt is longer keep their own tokens until their prompt ends.
"""

import tensorflow as tf

SAMPLERS = ("greedy", "random")


def next_token(logits, sampler, seed, temperature=1.0, top_k=0, top_p=1.0):
    """logits [B, V] float32 -> token ids [B] int32. `seed` is a stateless seed [2]."""
    if sampler == "greedy":
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    logits = logits / tf.cast(temperature, logits.dtype)
    candidates = None  # [B, K] vocabulary ids of the kept logits, when filtered
    if top_k:
        logits, candidates = tf.math.top_k(logits, k=top_k)  # sorted descending
    if top_p < 1.0:
        if candidates is None:
            logits, candidates = tf.math.top_k(logits, k=tf.shape(logits)[-1])
        probs = tf.nn.softmax(logits)
        # Keep the smallest prefix whose mass reaches top_p (the first token is always kept).
        mass_before = tf.cumsum(probs, axis=-1, exclusive=True)
        logits = tf.where(mass_before < top_p, logits, tf.constant(-1e9, logits.dtype))
    choice = tf.random.stateless_categorical(logits, 1, seed=seed, dtype=tf.int32)[:, 0]  # [B]
    if candidates is None:
        return choice
    return tf.gather(candidates, choice, batch_dims=1)


def generate_tokens(
    backbone, project, token_ids, prompt_mask, sampler, seed, end_token_id=None, pad_token_id=0, **sampling
):
    """token_ids/prompt_mask [B, T] (right-padded prompts, T = total length) -> (token_ids, padding_mask) [B, T].

    `project` maps hidden [B, H] to float32 logits [B, V]. Every shape is static given B and T.
    """
    batch, total = tf.shape(token_ids)[0], token_ids.shape[1]
    prompt_mask = tf.cast(prompt_mask, tf.bool)
    prompt_lengths = tf.reduce_sum(tf.cast(prompt_mask, tf.int32), axis=1)
    start = tf.maximum(tf.reduce_min(prompt_lengths), 1)

    # Prefill: one pass over the whole buffer writes keys/values for every position.
    hidden, cache = backbone.call_with_cache(token_ids, backbone.empty_cache(batch, total), 0)
    last_hidden = tf.gather(hidden, start - 1, axis=1)  # [B, H]
    done = tf.zeros([batch], tf.bool)
    output_mask = tf.cast(prompt_mask, tf.int32)
    seed = tf.cast(seed, tf.int32)

    def cond(index, token_ids, output_mask, cache, last_hidden, done):
        return tf.logical_and(index < total, tf.logical_not(tf.reduce_all(done)))

    def body(index, token_ids, output_mask, cache, last_hidden, done):
        sampled = next_token(project(last_hidden), sampler, tf.stack([seed, index]), **sampling)
        in_prompt = prompt_mask[:, index]
        token = tf.where(in_prompt, token_ids[:, index], sampled)
        token = tf.where(done, tf.constant(pad_token_id, tf.int32), token)
        column = tf.one_hot(index, total, dtype=tf.int32)[tf.newaxis]  # [1, T]
        token_ids = token_ids * (1 - column) + token[:, tf.newaxis] * column
        keep = tf.cast(tf.logical_or(in_prompt, tf.logical_not(done)), tf.int32)
        output_mask = output_mask * (1 - column) + keep[:, tf.newaxis] * column
        if end_token_id is not None:
            done = tf.logical_or(done, tf.logical_and(tf.logical_not(in_prompt), tf.equal(token, end_token_id)))
        hidden, cache = backbone.call_with_cache(token[:, tf.newaxis], cache, index)
        return index + 1, token_ids, output_mask, cache, hidden[:, 0], done

    _, token_ids, output_mask, *_ = tf.while_loop(
        cond, body, (start, token_ids, output_mask, cache, last_hidden, done), maximum_iterations=total
    )
    return token_ids, output_mask
