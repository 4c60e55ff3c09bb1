"""The tied vocabulary projection and its softmax cross-entropy, fused and computed in row chunks.

A causal LM's training loss needs logits x E^T for every position: [N, V] float32, 823 MB for GPT-2's 4,096
positions x 50,257 tokens. Materialised, every pass over them (bias, max, exp-sum, softmax gradient, accuracy) is
a trip through memory. Here the rows are taken `chunk_rows` at a time: each chunk's logits are made, reduced to
its losses and hits, and turned into its gradients at once (the loss is a weighted sum, so its gradient is known
in the forward pass), so no [N, V] tensor ever exists. The backward pass only scales the stored gradients.
FLOPs are the same as the materialised head (one forward and two gradient matmuls).
"""

import tensorflow as tf


def projection_cross_entropy(hidden, table, labels, weights, chunk_rows=256, bias=None):
    """Weighted sums over rows of the cross-entropy of softmax(hidden E^T + bias) against `labels`, and of the top-1
    hits.

    hidden [N, H] (the compute dtype), table E [V, H] (same dtype), labels int [N], weights float [N], bias float
    [V] or None (BERT's MLM output bias; GPT-2 has none).
    -> (loss_sum, hits_sum): float32 scalars, sum_i w_i xent_i and sum_i w_i [logit of label_i is the row max].
    Differentiable in `hidden`, `table` (and `bias`) through loss_sum (hits_sum has no gradient). Logits and their
    softmax are float32 whatever the compute dtype, as in the materialised head.
    """
    hidden = tf.convert_to_tensor(hidden)
    table = tf.convert_to_tensor(table)
    rows, width = tf.shape(hidden)[0], tf.shape(hidden)[1]
    vocabulary = tf.shape(table)[0]
    chunks = (rows + chunk_rows - 1) // chunk_rows
    padding = chunks * chunk_rows - rows  # padded rows: label 0, weight 0

    def split(t):  # [N, ...] -> [chunks, chunk_rows, ...]
        t = tf.pad(t, [[0, padding]] + [[0, 0]] * (t.shape.rank - 1))
        return tf.reshape(t, tf.concat([[chunks, chunk_rows], tf.shape(t)[1:]], 0))

    labels = split(tf.cast(labels, tf.int32))  # [C, R]
    weights = split(tf.cast(weights, tf.float32))  # [C, R]

    biased = bias is not None

    @tf.custom_gradient
    def fused(hidden, table, *bias):
        x = split(hidden)  # [C, R, H]
        bias32 = tf.cast(bias[0], tf.float32) if biased else 0.0

        def body(i, loss, hits, grad_x, grad_table, grad_bias):
            xc, lc, wc = x[i], labels[i], weights[i]
            logits = tf.cast(tf.matmul(xc, table, transpose_b=True), tf.float32) + bias32  # [R, V]
            top = tf.reduce_max(logits, axis=-1)  # [R]
            log_z = top + tf.math.log(tf.reduce_sum(tf.exp(logits - top[:, None]), axis=-1))  # [R]
            label_logit = tf.gather(logits, lc, batch_dims=1)  # [R]
            loss += tf.reduce_sum((log_z - label_logit) * wc)
            hits += tf.reduce_sum(tf.cast(label_logit >= top, tf.float32) * wc)
            # d(sum_i w_i xent_i) / d logits = w_i (softmax_i - onehot(label_i))  [R, V]
            d_logits = (tf.exp(logits - log_z[:, None]) - tf.one_hot(lc, vocabulary)) * wc[:, None]
            if biased:
                grad_bias += tf.reduce_sum(d_logits, axis=0)  # [V]
            d_logits = tf.cast(d_logits, table.dtype)
            grad_x = tf.tensor_scatter_nd_update(grad_x, [[i]], tf.matmul(d_logits, table)[None])
            grad_table += tf.cast(tf.matmul(d_logits, xc, transpose_a=True), tf.float32)  # [V, H]
            return i + 1, loss, hits, grad_x, grad_table, grad_bias

        start = (tf.constant(0), tf.constant(0.0), tf.constant(0.0), tf.zeros_like(x),
                 tf.zeros(tf.shape(table), tf.float32), tf.zeros([vocabulary], tf.float32))
        _, loss, hits, grad_x, grad_table, grad_bias = tf.while_loop(lambda i, *_: i < chunks, body, start)
        grad_x = tf.reshape(grad_x, [-1, width])[:rows]

        def gradient(d_loss, d_hits):
            del d_hits  # a count: no gradient
            grads = (grad_x * tf.cast(d_loss, grad_x.dtype), tf.cast(grad_table * d_loss, table.dtype))
            return grads + ((tf.cast(grad_bias * d_loss, bias[0].dtype),) if biased else ())

        return (loss, tf.stop_gradient(hits)), gradient

    return fused(hidden, table, *([tf.convert_to_tensor(bias)] if biased else []))
