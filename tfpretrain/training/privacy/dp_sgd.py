"""DP-SGD (Abadi et al. 2016) inside Task.train_step: per-example clipping + Gaussian noise.

    enable_dp(task, l2_norm_clip, noise_multiplier, seed, clipping="ghost")   # before compile / fit, in the scope

sets a DPSGD object as the task's gradient strategy (models/task.py asks it for the gradients; models never
import training).

One step, over a global batch of n examples split across replicas and micro-batches:

    g = ( sum_i clip(grad loss_i, C)  +  N(0, (sigma * C)^2 I) ) / n,      clip(v, C) = v * min(1, C / |v|_2)

(n the fixed batch size; under Poisson sampling the expected batch q * N, whatever the step drew: a normaliser
that does not depend on the data; padding rows have sample_weight 0 and add exactly zero), where loss_i is example
i's OWN loss (its weighted-token mean: `Task.example_losses`, its own denominator, no
all-reduce), so adding or removing one example moves the clipped sum by at most C. The clipped sums add up over
micro-batches and replicas; each replica adds noise with stddev sigma * C / sqrt(replicas) (independent streams), so
the noise in the all-reduced sum has stddev sigma * C and is added exactly once per step. Everything after that
(division by n, the optimizer's global_clipnorm, weight decay) is post-processing and costs no privacy.

The clipped sum comes from one of two functions with the same contract (`clipping`): "ghost"
(training/privacy/ghost_clipping.py: per-example norms without per-example gradients, then one weighted backward
pass; normal training's memory) or "per_example" (`clipped_gradient_sum` below, the exact reference it is tested
against), described next.

Per-example gradients come from `tf.vectorized_map` over the local (micro-)batch, each example run as a batch of 1,
with `fallback_to_while_loop=False`: every op is vectorised, under XLA too. TensorFlow's pfor lacks vectorisers for
two ops of these models, both trivial with a loop-invariant operand, so this module registers them (bottom): the
embedding lookup straight from a variable (ResourceGather) and XLA's gradient of tf.slice (XlaDynamicUpdateSlice);
the per-example norm avoids L2Loss (no vectoriser either). What truly cannot be vectorised is a random draw seeded
per example (stateless RNG ops with a per-example seed have no vectoriser, and the stateful seed draw of a Dropout
layer's generator may not run inside the loop at all). So while per-example gradients are traced,
each Dropout layer draws ONE seed from its own generator outside the loop (its checkpointed stream advances as in
normal training), draws the keep-uniforms of the whole local batch at once [B, ...] inside the loop from that
loop-invariant seed (computed once, not per example) and takes row i for example i: independent masks per example
at the cost of one batch-sized draw, the same as without DP.

Memory (honest numbers): the per-example gradients exist at once, dense: about B x P float32 for a local
(micro-)batch of B examples and P trainable parameters, transiently up to twice that (unclipped and clipped). The
embedding table contributes B x V x H floats of it: the tied output projection makes every example's embedding
gradient dense anyway (BERT-base: V x H = 23.4M floats = 94 MB per example, 3 GB at B = 32; the whole model ~14 GB at
B = 32). `gradient_accumulation_steps` bounds B to the micro-batch size; compute is about that of normal training.

Refused (they would break the guarantee): mixed_float16 loss scaling (a loss scale shared by the batch and skipped
steps on overflow), models with regularisation losses (activity regularisers are not per-example clipped).
"""


import tensorflow as tf
from tensorflow.compiler.tf2xla.ops import gen_xla_ops
from tensorflow.python.ops import gen_resource_variable_ops
from tensorflow.python.ops.parallel_for import pfor

from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.layers import dropout as dropout_lib
from tfpretrain.models.task import replica_sum
from tfpretrain.training.privacy import ghost_clipping
from tfpretrain.training.privacy.seeded_dropout import rng_alg, seeded_dropout


def enable_dp(task, l2_norm_clip, noise_multiplier, seed=0, clipping="ghost", expected_batch_size=None):
    """Train `task` with DP-SGD from now on (call in the strategy scope, before `fit`; a checkpoint then holds the
    noise generator too). Logs `dp_clipped_fraction`: the share of each step's examples that were clipped.
    `clipping`: "ghost" or "per_example" (CLIPPING), how the clipped per-example gradient sum is computed.
    `expected_batch_size` (Poisson sampling): divide the noisy sum by it, q * N, instead of the batch's rows."""
    check_supported(task)
    strategy = DPSGD(l2_norm_clip, noise_multiplier, seed, clipping, expected_batch_size)
    if clipping == "ghost":
        ghost_clipping.check_supported(task)  # every trainable variable has a ghost norm, or one clear error now
    task.set_gradient_strategy(strategy)


class DPSGD(tf.Module):
    """A Task's gradient strategy: the mechanism's settings, its noise generator (tracked: a checkpoint restores the
    noise stream) and the clipped fraction it logs."""

    def __init__(self, l2_norm_clip, noise_multiplier, seed=0, clipping="ghost", expected_batch_size=None):
        super().__init__(name="dp_sgd")
        if clipping not in CLIPPING:
            raise ValueError(f"clipping must be one of {sorted(CLIPPING)}, got {clipping!r}")
        self.clipping = clipping
        if expected_batch_size is not None and not float(expected_batch_size) > 0:
            raise ValueError(f"expected_batch_size must be positive, got {expected_batch_size}")
        self.expected_batch_size = None if expected_batch_size is None else float(expected_batch_size)
        if not float(l2_norm_clip) > 0:
            raise ValueError(f"l2_norm_clip must be positive, got {l2_norm_clip}")
        if not float(noise_multiplier) >= 0:
            raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
        self.l2_norm_clip = float(l2_norm_clip)
        self.noise_multiplier = float(noise_multiplier)
        self.seed = int(seed)
        with tf.init_scope():  # a strategy-scope generator gives each replica its own stream
            self.generator = tf.random.Generator.from_seed(self.seed)
        self.clipped_fraction = keras.metrics.Mean(name="dp_clipped_fraction")

    @property
    def metrics(self):
        return [self.clipped_fraction]

    def gradients(self, task, features, denominators):
        """(sum of clipped per-example gradients over micro-batches and replicas + noise once) / global batch (the
        expected batch q * N under Poisson sampling, as in Opacus: a normaliser that does not depend on the data).
        Rows with sample_weight 0 (Poisson padding) add exactly zero (their loss is 0 * loss).
        The returned loss is the usual share of the global-batch loss, for logging only."""
        check_supported(task)
        variables = task.trainable_variables

        def clipped_sum(micro):
            outputs, grads, clipped = CLIPPING[self.clipping](task, micro, variables, self.l2_norm_clip)
            task.update_task_metrics(micro, outputs)
            return task.loss_share(micro, outputs, denominators), grads, clipped

        zeros = (tf.constant(0.0), [tf.zeros_like(v) for v in variables], tf.constant(0.0))
        loss, grads, clipped = task.accumulate(features, clipped_sum, zeros)
        grads = replica_sum([g + noise for g, noise in zip(grads, self.noise(variables))])
        rows = replica_sum(tf.cast(tf.shape(tf.nest.flatten(features)[0])[0], tf.float32))
        if self.expected_batch_size is None:  # fixed-size batches: the (public) batch size
            self.clipped_fraction.update_state(replica_sum(clipped) / rows)
            return loss, [g / rows for g in grads]
        # Poisson: a data-independent normaliser; the logged fraction counts the sampled rows only
        sampled = replica_sum(_sampled(features))
        self.clipped_fraction.update_state(tf.math.divide_no_nan(replica_sum(clipped), sampled))
        return loss, [g / self.expected_batch_size for g in grads]

    def noise(self, variables):
        """This replica's share of the step's noise: one float32 tensor per variable, stddev sigma*C/sqrt(R)."""
        context = tf.distribute.get_replica_context()
        stddev = self.noise_multiplier * self.l2_norm_clip / float(context.num_replicas_in_sync) ** 0.5
        alg = rng_alg()
        seed = self.generator.make_seeds(1)[:, 0]  # int64 [2], fresh every step
        seed = tf.random.experimental.stateless_fold_in(seed, context.replica_id_in_sync_group, alg=alg)
        # One draw for all variables, split: a seed and an RNG op per variable made the traced step ~30 ms of graph
        # building per variable (tiny BERT: 1.7 s of a 6.5 s DP trace) for the same i.i.d. normals.
        sizes = [v.shape.num_elements() for v in variables]
        flat = tf.random.stateless_normal([sum(sizes)], seed, dtype=tf.float32, alg=alg)  # [P]
        return [stddev * tf.reshape(part, v.shape) for part, v in zip(tf.split(flat, sizes), variables)]


def check_supported(task):
    """One clear error for settings that would silently void the DP guarantee."""
    if isinstance(getattr(task, "optimizer", None), keras.mixed_precision.LossScaleOptimizer):
        raise ValueError(
            "DP-SGD does not support mixed_float16 loss scaling (a shared loss scale and skipped overflow steps "
            "break the per-example bound); use float32 or mixed_bfloat16"
        )
    if task.losses:
        raise ValueError(
            f"DP-SGD does not support models with regularisation losses ({len(task.losses)} found): they are not "
            "clipped per example; remove the regularisers (AdamW's decoupled weight decay is fine)"
        )


def clipped_gradient_sum(task, features, variables, l2_norm_clip):
    """Per-example gradients of a local (micro-)batch, each clipped to L2 norm `l2_norm_clip`, then summed.

    Returns (outputs, summed, clipped): the model outputs of the batch (training mode, for metrics and the logged
    loss), the clipped gradient sum (one float32 tensor per variable) and the number of examples clipped.
    """
    batch_size = _batch_size(features)
    dropouts = [layer for layer in task.submodules if isinstance(layer, dropout_lib.Dropout) and layer.rate > 0]
    seeds = [layer._generator.make_seeds(1)[:, 0] for layer in dropouts]  # outside the loop: stateful draws

    def one_example(example):  # every tensor here is one example's, without the batch axis
        index = example.pop("__index__")
        example = {k: v[None] for k, v in example.items()}  # [1, ...]: the example as a batch of 1
        with tf.GradientTape() as tape:
            with _per_example_dropout(dropouts, seeds, index, batch_size):
                outputs = task({k: example[k] for k in task.input_keys}, training=True)
            if task.losses:
                check_supported(task)
            loss = task.example_losses(example, outputs)[0]  # the batch of 1's only example
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]
        norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads]))  # (global_norm's L2Loss: no pfor)
        scale = tf.minimum(1.0, l2_norm_clip / tf.maximum(norm, 1e-30))
        outputs = tf.nest.map_structure(lambda t: t[0], outputs)
        return outputs, [g * scale for g in grads], tf.cast(norm > l2_norm_clip, tf.float32)

    elems = {**features, "__index__": tf.range(batch_size)}
    outputs, grads, clipped = tf.vectorized_map(one_example, elems, fallback_to_while_loop=False)
    # outputs [B, ...]; grads [B, *variable.shape] each; clipped [B]
    return outputs, [tf.reduce_sum(g, axis=0) for g in grads], tf.reduce_sum(clipped)


CLIPPING = {"ghost": ghost_clipping.clipped_gradient_sum, "per_example": clipped_gradient_sum}


# -- pfor vectorisers for the two ops in these models that TensorFlow's pfor lacks -------------------------------
def _convert_resource_gather(pfor_input):
    """ResourceGather (keras Embedding's lookup straight from the variable): the variable is loop-invariant, so one
    gather of the stacked indices [n, ...] is already the stacked result [n, ..., H]."""
    if pfor_input.inputs[0].is_stacked or pfor_input.get_attr("batch_dims") != 0:
        raise ValueError("DP-SGD vectorises ResourceGather only from a variable, with batch_dims=0")
    gathered = gen_resource_variable_ops.resource_gather(
        pfor_input.unstacked_input(0), pfor_input.stacked_input(1), dtype=pfor_input.get_attr("dtype"),
        batch_dims=0, validate_indices=pfor_input.get_attr("validate_indices"),
    )
    return pfor.wrap(gathered, True)


def _convert_xla_dynamic_update_slice(pfor_input):
    """XlaDynamicUpdateSlice (the gradient of tf.slice under XLA, e.g. PositionEmbedding's): with loop-invariant
    start indices it is one update of the stacked operand, starting at 0 on the new leading axis."""
    if pfor_input.inputs[2].is_stacked:
        raise ValueError("DP-SGD vectorises XlaDynamicUpdateSlice only with loop-invariant start indices")
    pfor_input.stack_inputs(stack_indices=[0, 1])
    indices = pfor_input.unstacked_input(2)
    indices = tf.concat([tf.zeros([1], indices.dtype), indices], 0)
    updated = gen_xla_ops.xla_dynamic_update_slice(pfor_input.stacked_input(0), pfor_input.stacked_input(1), indices)
    return pfor.wrap(updated, True)


for _op, _converter in (("ResourceGather", _convert_resource_gather),
                        ("XlaDynamicUpdateSlice", _convert_xla_dynamic_update_slice)):
    if _op not in pfor._pfor_converter_registry:  # a future TensorFlow may bring its own
        pfor.RegisterPFor(_op)(_converter)


def _sampled(features):
    """The local batch's sampled examples (float32): rows with a positive sample weight (Poisson padding has 0)."""
    weights = features.get(F.SAMPLE_WEIGHT) if isinstance(features, dict) else None
    if weights is None:
        return tf.cast(tf.shape(tf.nest.flatten(features)[0])[0], tf.float32)
    return tf.reduce_sum(tf.cast(tf.reshape(weights, [-1]) > 0, tf.float32))


def _batch_size(features):
    first = tf.nest.flatten(features)[0]
    return first.shape[0] if first.shape[0] is not None else tf.shape(first)[0]


def _per_example_dropout(layers, seeds, index, batch_size):
    """While tracing one example inside vectorized_map: each Dropout layer's mask is row `index` of keep-uniforms
    drawn for the whole batch from a loop-invariant seed (see the module docstring)."""

    def row_of_batch(inputs, seed, alg):  # inputs [1, ...]
        shape = tf.concat([[batch_size], tf.shape(inputs)[1:]], 0)  # loop-invariant: [B, ...]
        uniform = tf.random.stateless_uniform(shape, seed, dtype=tf.float32, alg=alg)
        return tf.gather(uniform, index)[None]  # [1, ...], this example's row

    return seeded_dropout(layers, seeds, row_of_batch)
