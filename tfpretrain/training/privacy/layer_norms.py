"""Per-example squared L2 norms of one variable's gradient from its pieces, without per-example gradients.

Ghost clipping (Li et al. 2022, "Large Language Models Can Be Strong Differentially Private Learners"): a layer's
per-example weight gradient is a sum of outer products of what it read and the gradient of what it wrote, so its norm
follows from inner products of those. training/privacy/ghost_clipping.py records, for every call of a layer, one
term per variable; a variable used several times (a tied embedding: lookup and output projection) has several, and
its per-example gradient is their SUM, so its squared norm is sum_{k,l} <T_k, T_l>, cross terms included.

    Outer(rows, values)   example b's gradient is sum_r u_br (x) v_br, [U, W]:
                          rows   float [B, R, U]: u dense (a Dense layer's input; the logit gradient of a projection)
                                 or int [B, R] ids: u = one-hot e_id in R^U (an embedding lookup), U = `vocabulary`
                          values float [B, R, W]: v (the output gradient; the projection's input)
    Direct(gradient)      the per-example gradient itself, float [B, ...] (LayerNorm's gamma/beta, biases: small)

Two ways to the squared norm of an Outer sum, the same number (tests check both against numpy):
    gram    sum_{r,s} <u_r, u'_s> <v_r, v'_s>        memory B x R x R' per pair of terms, no [U, W] per example
    direct  materialise sum_r u_r (x) v_r per example memory B x U x W
`auto` picks direct when U x W <= (sum of R)^2 (e.g. a 2-row segment embedding, or short sequences), gram otherwise
(a 30k-row vocabulary, or a T x T Gram smaller than a d_in x d_out kernel). Everything is float32.
"""

import dataclasses

import tensorflow as tf

MODES = ("auto", "gram", "direct")


@dataclasses.dataclass(frozen=True)
class Outer:
    rows: tf.Tensor  # float [B, R, U], or int ids [B, R]
    values: tf.Tensor  # float [B, R, W]
    vocabulary: int | None = None  # U when rows are ids

    @property
    def is_ids(self):
        return self.rows.dtype.is_integer

    @property
    def num_rows(self):
        return self.values.shape[1]

    def size(self):
        """U x W, the per-example gradient's size (None when not static)."""
        u = self.vocabulary if self.is_ids else self.rows.shape[-1]
        w = self.values.shape[-1]
        return None if u is None or w is None else u * w


@dataclasses.dataclass(frozen=True)
class Direct:
    gradient: tf.Tensor  # float [B, ...]: the per-example gradient


def outer(rows, values, vocabulary=None):
    """Outer term from [B, ..., U] rows (or [B, ...] ids) and [B, ..., W] values: the middle axes become R."""
    values = _flatten_rows(tf.cast(values, tf.float32), keep_last=True)
    if rows.dtype.is_integer:
        if vocabulary is None:
            raise ValueError("an ids term needs its vocabulary size")
        rows = _flatten_rows(tf.cast(rows, tf.int32), keep_last=False)
    else:
        rows = _flatten_rows(tf.cast(rows, tf.float32), keep_last=True)
    return Outer(rows, values, vocabulary)


def _flatten_rows(tensor, keep_last):
    """[B, ..., W] -> [B, R, W] (keep_last) or [B, ...] -> [B, R], with R static when the shape is."""
    middle = tensor.shape[1:-1] if keep_last else tensor.shape[1:]
    last = [tensor.shape[-1]] if keep_last else []
    if middle.is_fully_defined():
        return tf.reshape(tensor, [-1, middle.num_elements(), *last])
    return tf.reshape(tensor, [tf.shape(tensor)[0], -1, *last])


def direct(gradient):
    return Direct(tf.cast(gradient, tf.float32))


def squared_norms(terms, mode="auto"):
    """[B] float32: the squared L2 norm of each example's gradient sum_k terms[k] (one variable's terms)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "auto":
        mode = _auto_mode(terms)
    if mode == "direct" or any(isinstance(t, Direct) for t in terms):
        total = tf.add_n([_materialise(t) for t in terms])  # [B, U*W]
        return tf.reduce_sum(tf.square(total), axis=1)
    total = 0.0
    for k, a in enumerate(terms):
        for b in terms[k:]:  # <T_a, T_b> once per unordered pair, off-diagonal pairs twice
            inner = _gram_inner(a, b)
            total += inner if b is a else 2.0 * inner
    return total


def _auto_mode(terms):
    if any(isinstance(t, Direct) for t in terms):
        return "direct"
    sizes = [t.size() for t in terms]
    rows = [t.num_rows for t in terms]
    if None in sizes or None in rows:
        return "gram"  # dynamic shapes: the gram form never needs the per-example [U, W]
    return "direct" if sizes[0] <= sum(rows) ** 2 else "gram"


def _gram_inner(a, b):
    """[B]: sum over examples' rows of <u_r, u'_s> <v_r, v'_s> (Frobenius inner product of two Outer terms)."""
    v_gram = tf.einsum("brw,bsw->brs", a.values, b.values)  # [B, R, S]
    if a.is_ids and b.is_ids:
        u_gram = tf.cast(tf.equal(a.rows[:, :, None], b.rows[:, None, :]), tf.float32)  # [B, R, S]
    elif a.is_ids:  # <e_id_r, u'_s> = u'_s[id_r]
        u_gram = tf.transpose(tf.gather(b.rows, a.rows, axis=2, batch_dims=1), [0, 2, 1])  # [B, S, R] -> [B, R, S]
    elif b.is_ids:
        u_gram = tf.gather(a.rows, b.rows, axis=2, batch_dims=1)  # [B, R, S]
    else:
        u_gram = tf.einsum("bru,bsu->brs", a.rows, b.rows)  # [B, R, S]
    return tf.reduce_sum(u_gram * v_gram, axis=[1, 2])


def _materialise(term):
    """[B, U*W] (or [B, size]): the per-example gradient of one term, flattened."""
    if isinstance(term, Direct):
        return tf.reshape(term.gradient, [tf.shape(term.gradient)[0], -1])
    batch = tf.shape(term.values)[0]
    width = term.values.shape[-1]
    if term.is_ids:  # scatter-add row r's value to row id_r of example b: segment b * U + id
        segments = term.rows + term.vocabulary * tf.range(batch)[:, None]  # [B, R]
        summed = tf.math.unsorted_segment_sum(
            tf.reshape(term.values, [-1, width]), tf.reshape(segments, [-1]), batch * term.vocabulary
        )  # [B * U, W]
        return tf.reshape(summed, [batch, -1])
    return tf.reshape(tf.einsum("bru,brw->buw", term.rows, term.values), [batch, -1])  # [B, U * W]
