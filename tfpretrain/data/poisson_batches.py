"""Poisson-sampled batches for DP-SGD (trainer.dp.sampling: poisson) with static shapes for XLA / TPUs.

    sampler = PoissonBatches(dataset_size=N, sampling_rate=q, steps=T, seed=0, multiple=accumulation * replicas)
    dataset = sampler.dataset(arrays)      # {key: [B_max, ...], ..., "sample_weight": float32 [B_max]} per step

Step t draws k_t ~ Binomial(N, q), then a uniformly random k_t-subset of the N records: together exactly "each record
joins independently with probability q" (given its size, a Poisson sample is a uniform subset of that size). The
batch is always B_max rows (the physical batch): the k_t sampled records with sample_weight 1, then other records
with sample_weight 0 (padding: weight 0 removes them from loss, metrics and the clipped gradient sum exactly).
Draws are stateless in (seed, t): a resumed run starts at its step and sees the same batches.

B_max is the smallest multiple of `multiple` with T * P(Binomial(N, q) > B_max) <= overflow_probability. If a step
does draw more (k_t > B_max) it is truncated to B_max random records of the sample and counted: `report(steps)`
replays the draws and says how many steps were truncated, next to the a-priori bound.
"""

import math

import numpy as np
import tensorflow as tf

from tfpretrain.data import features as F

OVERFLOW_PROBABILITY = 1e-9  # default bound on P(any step of the run overflows B_max)


def binomial_tail(n, p, m):
    """P(X > m) for X ~ Binomial(n, p), summed in log space from m + 1 up (terms past the mode only fall)."""
    n, m = int(n), int(m)
    if m >= n:
        return 0.0
    if p >= 1.0:
        return 1.0
    if p <= 0.0 or m < 0:
        return 0.0 if p <= 0.0 else 1.0
    log_p, log_q = math.log(p), math.log1p(-p)

    def log_pmf(k):
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q

    if m + 1 <= n * p:  # below the mean: the complement is the short sum
        return max(0.0, 1.0 - sum(math.exp(log_pmf(k)) for k in range(0, m + 1)))
    total, k = 0.0, m + 1
    while k <= n:
        term = math.exp(log_pmf(k))
        total += term
        if term < total * 1e-17 or term == 0.0:
            break
        k += 1
    return min(total, 1.0)


def max_physical_batch(dataset_size, sampling_rate, steps, overflow_probability=OVERFLOW_PROBABILITY, multiple=1):
    """The smallest multiple of `multiple` B with steps * P(Binomial(N, q) > B) <= overflow_probability."""
    n, multiple = int(dataset_size), int(multiple)
    mean, sd = n * sampling_rate, math.sqrt(n * sampling_rate * (1 - sampling_rate))
    batch = max(multiple, int(math.floor(mean)) // multiple * multiple)
    step = max(multiple, int(sd // 4) // multiple * multiple)
    while max(steps, 1) * binomial_tail(n, sampling_rate, batch) > overflow_probability:  # coarse, then fine
        batch += step
    while batch - multiple >= multiple and max(steps, 1) * binomial_tail(n, sampling_rate, batch - multiple) \
            <= overflow_probability:
        batch -= multiple
    return batch


class PoissonBatches:
    """Poisson subsampling of N in-memory records at rate q into fixed [B_max] batches (see the module docstring)."""

    def __init__(self, dataset_size, sampling_rate, steps, seed=0, multiple=1,
                 overflow_probability=OVERFLOW_PROBABILITY):
        if not 0.0 < sampling_rate <= 1.0:
            raise ValueError(f"sampling_rate must be in (0, 1], got {sampling_rate}")
        self.dataset_size, self.sampling_rate, self.steps = int(dataset_size), float(sampling_rate), int(steps)
        self.seed, self.overflow_probability = int(seed), float(overflow_probability)
        self.physical_batch = max_physical_batch(dataset_size, sampling_rate, steps, overflow_probability, multiple)

    def _size(self, step):
        """k_t ~ Binomial(N, q) for step t (int64 scalar), stateless in (seed, 2t)."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), 2 * step])
        return tf.cast(tf.random.stateless_binomial([], seed, float(self.dataset_size), self.sampling_rate,
                                                    output_dtype=tf.float32), tf.int64)

    def _rows(self, step):
        """(record indices [B_max] int64, sample weights [B_max] float32, k_t) of step t."""
        size = self._size(step)
        uniform = tf.random.stateless_uniform([self.dataset_size], tf.stack([tf.constant(self.seed, tf.int64),
                                                                            2 * step + 1]))  # [N]
        count = min(self.physical_batch, self.dataset_size)
        order = tf.cast(tf.math.top_k(uniform, k=count, sorted=True).indices, tf.int64)  # [min(B_max, N)] random
        order = tf.pad(order, [[0, self.physical_batch - count]])  # [B_max]: rows past N (q ~ 1) are padding anyway
        weights = tf.cast(tf.range(self.physical_batch, dtype=tf.int64) < size, tf.float32)  # [B_max]
        return order, weights, size

    def dataset(self, arrays, start_step=0):
        """Per step from `start_step` on: {key: array[indices]} for each [N, ...] array plus "sample_weight"."""
        lengths = {k: len(v) for k, v in arrays.items()}
        if set(lengths.values()) != {self.dataset_size}:
            raise ValueError(f"every array must have {self.dataset_size} rows, got {lengths}")
        tables = {k: tf.constant(v) for k, v in arrays.items()}

        def batch(step):
            indices, weights, _ = self._rows(step)
            return {**{k: tf.gather(t, indices) for k, t in tables.items()}, F.SAMPLE_WEIGHT: weights}

        steps = tf.data.Dataset.range(int(start_step), np.iinfo(np.int64).max)
        return steps.map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)

    def sizes(self, steps):
        """The drawn batch sizes k_t of steps 0 .. steps - 1 (before truncation), int64 [steps]."""
        if int(steps) <= 0:
            return np.zeros([0], np.int64)
        drawn = tf.data.Dataset.range(int(steps)).map(self._size).batch(int(steps))
        return next(iter(drawn)).numpy()

    def report(self, steps):
        """The sampler's facts for RUN/privacy.json after `steps` steps."""
        sizes = self.sizes(steps)
        over = np.maximum(sizes - self.physical_batch, 0)
        return {
            "expected batch size": self.sampling_rate * self.dataset_size,
            "max physical batch": self.physical_batch,
            "overflow probability bound": self.steps * binomial_tail(self.dataset_size, self.sampling_rate,
                                                                     self.physical_batch),
            "truncated steps": int(np.count_nonzero(over)),
            "records truncated": int(over.sum()),
            "mean drawn batch": float(sizes.mean()) if len(sizes) else 0.0,
        }
