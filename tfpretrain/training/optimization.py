"""Learning-rate schedules and optimizers for pretraining: warmup + decay, AdamW and LAMB with decoupled weight decay.

    WarmupDecay(peak, warmup_steps, decay_steps, decay="linear"|"cosine"|"polynomial"|"constant", end, power)
    AdamW(...) / adamw(...)       Adam with decoupled weight decay (Loshchilov & Hutter) and name-pattern exclusions
    LAMB(...)                     layer-wise adaptive large-batch optimizer (You et al. 2019), as in the TF Model
                                  Garden (official/modeling/optimization/lamb.py)
    build_optimizer(name, ...)    "adamw" | "lamb" | "adam" | "sgd"
    global_norm(grads)            float32 global L2 norm of a gradient structure, None entries ignored

Both optimizers are new-style tf-keras optimizers (`keras.optimizers.Optimizer`: `build` + `update_step`, like
tf_keras's Adam), so the Keras/tf.distribute machinery (gradient all-reduce, per-replica `extended.update`, the
optional XLA-compiled update, LossScaleOptimizer) applies unchanged. Tested: one device, MirroredStrategy over 2
logical CPUs, `compile(jit_compile=True)`, the optimizer's own XLA update and mixed_float16; TPUStrategy uses the
same code path but is not exercised by the tests. Weight decay is fused into `update_step` (one update per variable);
the Keras base class's separate decay pass (`_apply_weight_decay`) is switched off.

Update rules (t = iterations + 1, lr = the (scheduled) learning rate, g = the aggregated, clipped gradient):

    m = b1 m + (1 - b1) g        v = b2 v + (1 - b2) g^2        m_hat = m / (1 - b1^t)        v_hat = v / (1 - b2^t)
    u = m_hat / (sqrt(v_hat) + eps) + wd * w          (the wd term only for variables that decay)
    AdamW:  w <- w - lr * u
    LAMB:   w <- w - lr * r * u,  r = ||w|| / ||u|| (1.0 when either norm is 0, or for variables excluded from
            layer adaptation)

Epsilon is added to the bias-corrected sqrt(v_hat) (the paper / PyTorch / Model Garden LAMB form), not to Keras
Adam's "epsilon hat" form. Decay is decoupled and scaled by the learning rate (lr * wd * w, as in BERT and Model
Garden), so it follows the schedule. Exclusions are regular expressions searched (`re.search`) in the variable's name
without its ":0" suffix. Our models name variables `<layer>/<weight>:0` (`transformer_layer_0/gamma:0`,
`embeddings_norm/beta:0`, `mlm_head/output_bias:0`, `token_embedding/embeddings:0`, ...), so the defaults exclude
every bias, LayerNorm gamma/beta and `*_norm` weight, while embeddings, dense kernels and heads decay.

Gradient clipping: `global_clipnorm=c` (every optimizer here) clips by the global norm inside `apply_gradients`,
*after* the cross-replica all-reduce (tf-keras aggregates first, also inside LossScaleOptimizer, which unscales
before), so under MirroredStrategy / TPUStrategy the clip uses the norm of the global-batch gradient and matches one
device. Gradient accumulation in Task.train_step sums the micro-batch gradients before apply_gradients, so the clip
applies to the accumulated (full-batch) gradient.
"""

import math
import numbers
import re

import tensorflow as tf

from tfpretrain.keras import keras

__all__ = [
    "DECAY_KINDS",
    "DEFAULT_DECAY_EXCLUDE",
    "OPTIMIZERS",
    "LAMB",
    "AdamW",
    "WarmupDecay",
    "adamw",
    "build_optimizer",
    "global_norm",
]

DECAY_KINDS = ("linear", "cosine", "polynomial", "constant")
DEFAULT_DECAY_EXCLUDE = ("layer_norm", "LayerNorm", "_norm", "bias", "beta", "gamma")
OPTIMIZERS = ("adamw", "lamb", "adam", "sgd")

_serializable = keras.utils.register_keras_serializable(package="tfpretrain")


# -- argument checks -------------------------------------------------------------------------------------------------
def _number(arg, value, *, low=None, high=None, low_open=False, high_open=False):
    """`value` as a float after checking it is a finite real number in the given range; ValueError names `arg`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{arg} must be a finite number, got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        left = "(" if low is None or low_open else "["
        right = ")" if high is None or high_open else "]"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{arg} must be in {interval}, got {value!r}")
    return float(value)


def _count(arg, value, low=0):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{arg} must be an integer >= {low}, got {value!r}")
    return int(value)


def _patterns(arg, patterns):
    """A list of regular expressions (None -> []); a bare string is one pattern, not a list of characters."""
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    patterns = list(patterns)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValueError(f"{arg} must be a list of regular expressions (str), got {pattern!r} in it")
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"{arg} holds an invalid regular expression {pattern!r}: {e}") from e
    return patterns


def _matches(variable, patterns):
    name = re.sub(r":\d+$", "", variable.name)  # "dense/bias:0" -> "dense/bias", so "bias$" works (as Model Garden)
    return any(re.search(pattern, name) for pattern in patterns)


# -- learning-rate schedule -----------------------------------------------------------------------------------------
@_serializable
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak_learning_rate` over `warmup_steps`, then `decay` over `decay_steps`.

    lr(s) = peak * s / warmup_steps                              for s < warmup_steps
    lr(s) = end + (peak - end) * f(p),  p = min((s - warmup_steps) / decay_steps, 1)   afterwards, with
        linear: f = 1 - p;  cosine: f = (1 + cos(pi p)) / 2;  polynomial: f = (1 - p) ** power;  constant: lr = peak.

    The step is the optimizer's `iterations` (0 for the first update, so the first warmup update has lr 0, as in
    BERT / Hugging Face schedules); lr reaches `peak` at `warmup_steps` and `end_learning_rate` at
    `warmup_steps + decay_steps`, and stays there. Pure float32 TF ops on any integer or float step tensor, so it
    traces under tf.function and compiles with XLA (TPU included).
    """

    def __init__(self, peak_learning_rate, warmup_steps, decay_steps, decay="linear", end_learning_rate=0.0,
                 power=1.0, name=None):
        super().__init__()
        if decay not in DECAY_KINDS:
            raise ValueError(f"decay must be one of {', '.join(DECAY_KINDS)}, got {decay!r}")
        self.peak_learning_rate = _number("peak_learning_rate", peak_learning_rate, low=0.0)
        self.warmup_steps = _count("warmup_steps", warmup_steps)
        self.decay_steps = _count("decay_steps", decay_steps, low=0 if decay == "constant" else 1)
        self.decay = decay
        self.end_learning_rate = _number("end_learning_rate", end_learning_rate, low=0.0, high=self.peak_learning_rate)
        self.power = _number("power", power, low=0.0, low_open=True)
        self.name = name

    def __call__(self, step):
        with tf.name_scope(self.name or "WarmupDecay"):
            step = tf.maximum(tf.cast(step, tf.float32), 0.0)
            peak = tf.constant(self.peak_learning_rate, tf.float32)
            lr = self._decayed(step - float(self.warmup_steps), peak)
            if self.warmup_steps:
                warmup = float(self.warmup_steps)
                lr = tf.where(step < warmup, peak * (step / warmup), lr)
            return lr

    def _decayed(self, steps_after_warmup, peak):
        if self.decay == "constant":
            return peak + 0.0 * steps_after_warmup  # a tensor shaped like the step
        end = tf.constant(self.end_learning_rate, tf.float32)
        progress = tf.clip_by_value(steps_after_warmup / float(self.decay_steps), 0.0, 1.0)
        if self.decay == "linear":
            fraction = 1.0 - progress
        elif self.decay == "cosine":
            fraction = 0.5 * (1.0 + tf.cos(math.pi * progress))
        else:
            fraction = tf.pow(1.0 - progress, self.power)
        return end + (peak - end) * fraction

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "decay": self.decay,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "name": self.name,
        }


# -- optimizers ------------------------------------------------------------------------------------------------------
class _DecoupledAdam(keras.optimizers.Optimizer):
    """Adam moments (slots "m", "v") + decoupled weight decay by name pattern, fused into `update_step`."""

    def __init__(self, learning_rate, weight_decay, beta_1, beta_2, epsilon, exclude_from_weight_decay, name,
                 **kwargs):
        weight_decay = _number("weight_decay", 0.0 if weight_decay is None else weight_decay, low=0.0)
        global_clipnorm = kwargs.get("global_clipnorm")
        if global_clipnorm is not None:
            _number("global_clipnorm", global_clipnorm, low=0.0, low_open=True)
        super().__init__(name=name, weight_decay=weight_decay, **kwargs)
        self._learning_rate = self._build_learning_rate(learning_rate)
        self.beta_1 = _number("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = _number("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = _number("epsilon", epsilon, low=0.0, low_open=True)
        self._decay_exclude = _patterns("exclude_from_weight_decay", exclude_from_weight_decay)

    def build(self, var_list):
        super().build(var_list)
        if getattr(self, "_built", False):
            return
        self._built = True
        self._momentums = [self.add_variable_from_reference(model_variable=v, variable_name="m") for v in var_list]
        self._velocities = [self.add_variable_from_reference(model_variable=v, variable_name="v") for v in var_list]

    def _apply_weight_decay(self, variables):
        """Off: the decay is part of `update_step`, applied once per variable with the Adam step."""

    def decays(self, variable):
        """Whether `variable` gets weight decay (weight_decay > 0 and no exclusion pattern / var_list matches)."""
        return bool(self.weight_decay) and self._use_weight_decay(variable) and not _matches(
            variable, self._decay_exclude
        )

    def _adam_inputs(self, gradient, variable):
        """-> (dense gradient, slot m, slot v, t = iterations + 1, beta_1, beta_2), in the variable's dtype."""
        dtype = variable.dtype
        index = self._index_dict[self._var_key(variable)]
        gradient = tf.cast(tf.convert_to_tensor(gradient), dtype)  # IndexedSlices -> dense (LAMB needs all of u)
        return (gradient, self._momentums[index], self._velocities[index], tf.cast(self.iterations + 1, dtype),
                tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype))

    def _direction(self, gradient, variable):
        """u = m_hat / (sqrt(v_hat) + eps) [+ wd * w], updating the moment slots."""
        dtype = variable.dtype
        gradient, m, v, step, beta_1, beta_2 = self._adam_inputs(gradient, variable)
        new_m = beta_1 * m + (1.0 - beta_1) * gradient
        new_v = beta_2 * v + (1.0 - beta_2) * tf.square(gradient)
        m.assign(new_m)
        v.assign(new_v)
        m_hat = new_m / (1.0 - tf.pow(beta_1, step))
        v_hat = new_v / (1.0 - tf.pow(beta_2, step))
        update = m_hat / (tf.sqrt(v_hat) + tf.cast(self.epsilon, dtype))
        if self.decays(variable):
            update += tf.cast(self.weight_decay, dtype) * tf.convert_to_tensor(variable)
        return update

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "learning_rate": self._serialize_hyperparameter(self._learning_rate),
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "exclude_from_weight_decay": list(self._decay_exclude),
            }
        )
        return config


@_serializable
class AdamW(_DecoupledAdam):
    """Adam with decoupled weight decay: w <- w - lr * (m_hat / (sqrt(v_hat) + eps) + wd * w).

    Variables whose name matches a pattern in `exclude_from_weight_decay` (regular expressions, `re.search`) get plain
    Adam. `exclude_from_weight_decay(var_list=..., var_names=...)` (the Keras method) excludes further variables.
    Other keyword arguments (`global_clipnorm`, `clipnorm`, `clipvalue`, `use_ema`, `jit_compile`, ...) are the
    Keras optimizer's.
    """

    def __init__(self, learning_rate=1e-3, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 exclude_from_weight_decay=DEFAULT_DECAY_EXCLUDE, name="AdamW", **kwargs):
        super().__init__(learning_rate, weight_decay, beta_1, beta_2, epsilon, exclude_from_weight_decay, name,
                         **kwargs)

    def update_step(self, gradient, variable):
        """w <- w - lr * wd * w (decaying variables), then the Adam step as one fused kernel per variable
        (ResourceApplyAdam: moments and weight in one pass, where the unfused form is a dozen elementwise ops, each a
        pass over the variable, when the step is not compiled by XLA). The kernel's "epsilon hat" form gives this
        class's epsilon-on-v_hat form with epsilon scaled by sqrt(1 - b2^t):
        lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps sqrt(1 - b2^t)) = lr m_hat / (sqrt(v_hat) + eps).
        The Adam step does not read w, so decaying first is the same as decaying with the step."""
        dtype = variable.dtype
        lr = tf.cast(self.learning_rate, dtype)
        if self.decays(variable):
            variable.assign_sub(lr * tf.cast(self.weight_decay, dtype) * variable)
        gradient, m, v, step, beta_1, beta_2 = self._adam_inputs(gradient, variable)
        beta_2_power = tf.pow(beta_2, step)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle, beta1_power=tf.pow(beta_1, step), beta2_power=beta_2_power,
            lr=lr, beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype) * tf.sqrt(1.0 - beta_2_power),
            grad=gradient)


@_serializable
class LAMB(_DecoupledAdam):
    """LAMB (You et al. 2019, https://arxiv.org/abs/1904.00962), as in the TF Model Garden.

    u = m_hat / (sqrt(v_hat) + eps) + wd * w;  w <- w - lr * r * u,  r = ||w|| / ||u|| per variable (1.0 when either
    norm is 0). Variables matching `exclude_from_weight_decay` get no decay; those matching
    `exclude_from_layer_adaptation` (None: the decay exclusions) get r = 1. The trust ratio is per variable, so
    it is exact when each replica holds whole variables (Mirrored/TPU/MultiWorkerMirrored strategies); a
    ShardedVariable (ParameterServerStrategy partitioning) would get one ratio per shard.
    """

    def __init__(self, learning_rate=1e-3, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 exclude_from_weight_decay=DEFAULT_DECAY_EXCLUDE, exclude_from_layer_adaptation=None, name="LAMB",
                 **kwargs):
        super().__init__(learning_rate, weight_decay, beta_1, beta_2, epsilon, exclude_from_weight_decay, name,
                         **kwargs)
        if exclude_from_layer_adaptation is None:
            self._adaptation_exclude = list(self._decay_exclude)
        else:
            self._adaptation_exclude = _patterns("exclude_from_layer_adaptation", exclude_from_layer_adaptation)

    def adapts(self, variable):
        """Whether `variable` gets the layer-wise trust ratio."""
        return not _matches(variable, self._adaptation_exclude)

    def update_step(self, gradient, variable):
        dtype = variable.dtype
        update = self._direction(gradient, variable)
        lr = tf.cast(self.learning_rate, dtype)
        if self.adapts(variable):
            w_norm = tf.sqrt(tf.reduce_sum(tf.square(tf.convert_to_tensor(variable))))
            u_norm = tf.sqrt(tf.reduce_sum(tf.square(update)))
            both_positive = (w_norm > 0.0) & (u_norm > 0.0)
            ratio = tf.where(both_positive, tf.math.divide_no_nan(w_norm, u_norm), tf.ones_like(w_norm))
            lr = lr * tf.cast(ratio, dtype)
        variable.assign_sub(lr * update)

    def get_config(self):
        config = super().get_config()
        config["exclude_from_layer_adaptation"] = list(self._adaptation_exclude)
        return config


def adamw(learning_rate, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6, exclude=DEFAULT_DECAY_EXCLUDE,
          clipnorm_global=None):
    """An `AdamW`; `exclude` are the decay-exclusion patterns, `clipnorm_global` the global gradient-norm clip."""
    return AdamW(learning_rate, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                 exclude_from_weight_decay=exclude, global_clipnorm=clipnorm_global)


def build_optimizer(name, learning_rate, weight_decay=0.0, global_clipnorm=None, **kwargs):
    """The optimizer `name` (one of OPTIMIZERS) with a float or `LearningRateSchedule` learning rate.

    "adamw" / "lamb": `AdamW` / `LAMB` (kwargs: beta_1, beta_2, epsilon, exclude_from_weight_decay, LAMB's
    exclude_from_layer_adaptation, Keras optimizer kwargs). "adam" / "sgd": `keras.optimizers.Adam` / `SGD` (kwargs
    passed on, e.g. momentum); they take no weight decay (ValueError if weight_decay is set: use "adamw" or "lamb").
    `global_clipnorm` clips the aggregated gradient by its global norm (see the module docstring).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    if global_clipnorm is not None:
        _number("global_clipnorm", global_clipnorm, low=0.0, low_open=True)
    if name == "adamw":
        return AdamW(learning_rate, weight_decay=weight_decay, global_clipnorm=global_clipnorm, **kwargs)
    if name == "lamb":
        return LAMB(learning_rate, weight_decay=weight_decay, global_clipnorm=global_clipnorm, **kwargs)
    if weight_decay:
        raise ValueError(f"optimizer {name!r} takes no weight_decay (got {weight_decay!r}); use 'adamw' or 'lamb'")
    cls = keras.optimizers.Adam if name == "adam" else keras.optimizers.SGD
    return cls(learning_rate, global_clipnorm=global_clipnorm, **kwargs)


# -- observability ---------------------------------------------------------------------------------------------------
def global_norm(grads):
    """float32 global L2 norm of a (nested) structure of gradients; None entries are skipped (0.0 if all are None).

    IndexedSlices are densified first, so duplicate indices are summed as in the update. Computed in float32 whatever
    the gradients' dtype (float16 squares overflow). In a replica context this is the norm of the gradients passed
    in: pass all-reduced gradients for the global-batch norm (per-replica gradients give this replica's share).
    """
    tensors = [tf.cast(tf.convert_to_tensor(g), tf.float32) for g in tf.nest.flatten(grads) if g is not None]
    if not tensors:
        return tf.constant(0.0, tf.float32)
    return tf.linalg.global_norm(tensors)
