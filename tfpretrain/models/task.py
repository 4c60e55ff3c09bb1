"""Base task model: a functional backbone + head with a custom, distribution-exact train_step / test_step.

Losses are written as sums over examples divided by a *global* denominator (the all-reduced sum of label weights
over every replica and micro-batch). Each replica's gradient is then its exact share of the global-batch mean, so
the optimizer's cross-replica sum gives the same update on 1 CPU, 8 GPUs or a TPU pod, and gradient accumulation
over N micro-batches gives the same update as one large batch.

A gradient strategy (`set_gradient_strategy`) may replace train_step's exact gradients: DP-SGD does
(training/privacy/dp_sgd.enable_dp: clipped per-example gradients plus noise). Models never import training.
"""

import tensorflow as tf

from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.layers.projection_cross_entropy import projection_cross_entropy
from tfpretrain.models import families
from tfpretrain.models.metrics import add_to_mean


def replica_sum(value):
    """The sum of `value` (a nest of tensors) over the replicas, inside a replica context."""
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, value)


class Task(keras.Model):
    """Subclasses build a functional graph and implement the three loss/metric hooks below.

    `features` is one flat dict holding model inputs, labels and weights (the tf.data reader's format). `fit`
    also accepts `(x, y)` or `(x, y, sample_weight)`, which are merged into that dict.
    """

    label_key = F.LABELS
    family = None  # the model family (models/families.py) whose checkpoints it reads and writes

    # -- hooks -------------------------------------------------------------------------------------------------
    def example_loss_denominators(self, features):
        """{term: float32 [B]}: each example's share of a term's denominator, from labels/weights only (e.g. its
        number of weighted tokens). Example i's own loss (`example_losses`, DP-SGD's clipping unit) is sum over terms of
        numerator_i / denominator_i."""
        raise TypeError(f"{type(self).__name__} must define example_loss_denominators(features)")

    def example_loss_numerators(self, features, outputs):
        """{term: float32 [B]}: each example's weighted loss sum, same keys as the denominators."""
        raise TypeError(f"{type(self).__name__} must define example_loss_numerators(features, outputs)")

    def example_losses(self, features, outputs):
        """[B]: each example's own loss, sum over terms of its numerator / its own denominator (no all-reduce)."""
        numerators = self.example_loss_numerators(features, outputs)
        denominators = self.example_loss_denominators(features)
        return tf.add_n([tf.math.divide_no_nan(v, tf.cast(denominators[k], tf.float32)) for k, v in numerators.items()])

    def loss_denominators(self, features):
        """{term: float32 scalar}: the denominators summed over the local batch."""
        return {k: tf.reduce_sum(v) for k, v in self.example_loss_denominators(features).items()}

    def loss_numerators(self, features, outputs):
        """{term: float32 scalar}: the weighted loss sums over the local batch."""
        return {k: tf.reduce_sum(v) for k, v in self.example_loss_numerators(features, outputs).items()}

    def update_task_metrics(self, features, outputs):
        """Update `self.task_metrics` (Keras metrics) from one local (micro-)batch."""

    def fused_loss_numerators(self, features):
        """Optional, for the exact-gradient train step: `loss_numerators` computed without materialising the model's
        outputs (e.g. a vocabulary projection fused with its cross-entropy), updating `task_metrics` itself.
        None (the default): the step runs the model and the hooks above. DP-SGD and evaluation always do."""
        return None

    def _init_loss_fusion(self, loss_chunk_rows):
        """For tasks with a fused loss: positions per chunk (0 or None: never fused), validated and serialised."""
        if loss_chunk_rows is not None and int(loss_chunk_rows) < 0:
            raise ValueError(f"loss_chunk_rows must be >= 0 (0: no fusion), got {loss_chunk_rows}")
        self.loss_chunk_rows = int(loss_chunk_rows or 0)
        self._head_kwargs["loss_chunk_rows"] = self.loss_chunk_rows

    @property
    def _fuse_loss(self):
        """Fuse when asked to and train_step runs under XLA (jit_compile, or a TPU, which always compiles)."""
        compiled = bool(self.jit_compile) or isinstance(self.distribute_strategy, tf.distribute.TPUStrategy)
        return bool(self.loss_chunk_rows) and compiled

    def _fused_vocabulary_loss(self, hidden, labels, weights, accuracy, perplexity, bias=None):
        """sum_i w_i xent_i of the tied projection of hidden [..., H] against labels [...] with weights [...],
        fused and chunked (layers/projection_cross_entropy.py); adds the same sums to the accuracy and perplexity
        metrics that update_task_metrics feeds from materialised logits."""
        weights = tf.cast(weights, tf.float32)
        loss_sum, hits = projection_cross_entropy(
            tf.reshape(hidden, [-1, hidden.shape[-1]]), tf.cast(self.backbone.token_embedding.embeddings, hidden.dtype),
            tf.reshape(labels, [-1]), tf.reshape(weights, [-1]), self.loss_chunk_rows, bias=bias)
        weight_sum = tf.reduce_sum(weights)
        add_to_mean(accuracy, hits, weight_sum)
        add_to_mean(perplexity, loss_sum, weight_sum)
        return loss_sum

    # -- plumbing ----------------------------------------------------------------------------------------------
    def _init_task(self, gradient_accumulation_steps=1):
        if int(gradient_accumulation_steps) < 1:
            raise ValueError(f"gradient_accumulation_steps must be >= 1, got {gradient_accumulation_steps}")
        self.gradient_accumulation_steps = int(gradient_accumulation_steps)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # A metric, not a bare log value: Keras then reads every log from the metrics themselves, which is what
        # keeps epoch logs right under MultiWorkerMirroredStrategy (it sums other returned values over workers).
        # Mean over the logging interval; training-only, so test_step does not report it.
        self.gradient_norm_tracker = keras.metrics.Mean(name="gradient_norm")
        self.task_metrics = []
        self.gradient_strategy = None

    def set_gradient_strategy(self, strategy):
        """Take train_step's gradients from `strategy` from now on (None: the exact ones). Call in the strategy scope,
        before `fit`; a tracked strategy (a tf.Module) is checkpointed with the model. The object provides
        `gradients(task, features, global_denominators) -> (loss share, gradients all-reduced over replicas)` and
        `metrics`, the Keras metrics it updates (logged with the task's)."""
        self.gradient_strategy = strategy
        self.train_function = None  # retrace train_step

    @property
    def metrics(self):
        # Keras resets exactly these at each epoch / evaluate call.
        extra = list(self.gradient_strategy.metrics) if self.gradient_strategy is not None else []
        return [self.loss_tracker, *self.task_metrics, self.gradient_norm_tracker, *extra]

    @property
    def input_keys(self):
        return tuple(self.input_names)

    def _merge_features(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(x, dict):
            raise ValueError(f"{type(self).__name__} expects dict features, got {type(x).__name__}")
        features = dict(x)
        if isinstance(y, dict):
            features.update(y)
        elif y is not None:
            features[self.label_key] = y
        if sample_weight is not None:
            features[F.SAMPLE_WEIGHT] = sample_weight
        return features

    def _model_inputs(self, features):
        return {k: features[k] for k in self.input_keys}

    def _global_denominators(self, features):
        local = {k: tf.cast(v, tf.float32) for k, v in self.loss_denominators(features).items()}
        return {k: replica_sum(v) for k, v in local.items()}

    def loss_share(self, features, outputs, denominators):
        """This replica's share of the global loss of a (micro-)batch, given the global denominators."""
        return self._share_of(self.loss_numerators(features, outputs), denominators)

    def _share_of(self, numerators, denominators):
        loss = tf.add_n([tf.math.divide_no_nan(numerators[k], denominators[k]) for k in denominators])
        if self.losses:  # layer regularizers, split evenly over replicas
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss += tf.add_n(self.losses) / (replicas * self.gradient_accumulation_steps)
        return loss  # this replica's share of the global loss

    def _gradients(self, features, denominators):
        """(share of loss, grads) for one (micro-)batch, with float16 loss scaling when the optimizer has it."""
        variables = self.trainable_variables
        outputs = None
        with tf.GradientTape() as tape:
            numerators = self.fused_loss_numerators(features)
            if numerators is None:
                outputs = self(self._model_inputs(features), training=True)
                numerators = self.loss_numerators(features, outputs)
            loss = self._share_of(numerators, denominators)
            scaled = self.optimizer.get_scaled_loss(loss) if self._loss_scaled else loss
        grads = tape.gradient(scaled, variables)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]
        if outputs is not None:
            self.update_task_metrics(features, outputs)
        return loss, grads

    @property
    def _loss_scaled(self):
        return isinstance(self.optimizer, keras.mixed_precision.LossScaleOptimizer)

    def accumulate(self, features, fn, zeros):
        """fn(micro-batch) summed over the gradient-accumulation micro-batches of `features` (a nest of tensors)."""
        steps = self.gradient_accumulation_steps
        if steps == 1:
            return fn(features)
        # [B, ...] -> [N, B/N, ...]; a while_loop keeps the graph (and XLA compile) size independent of N.
        micro = tf.nest.map_structure(lambda t: tf.reshape(t, [steps, -1, *t.shape[1:]]), features)

        def body(i, total):
            part = fn(tf.nest.map_structure(lambda t: t[i], micro))
            return i + 1, tf.nest.map_structure(tf.add, total, part)

        return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), zeros))[1]

    def make_train_function(self, force=False):
        # The optimizer's slots are made here, before the first trace: a tf.function whose first call creates
        # variables is traced twice (once to create them, once to run), which doubles the seconds to the first step
        # (tiny BERT under XLA: 2 x 3 s of tracing before a 6 s compile). build() is a no-op once built.
        if self.optimizer is not None:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        return super().make_train_function(force)

    @tf.autograph.experimental.do_not_convert
    def train_step(self, data):
        features = self._merge_features(data)
        denominators = self._global_denominators(features)
        if self.gradient_strategy is None:
            zeros = (tf.constant(0.0), [tf.zeros_like(v) for v in self.trainable_variables])
            loss, grads = self.accumulate(features, lambda f: self._gradients(f, denominators), zeros)
            if self._loss_scaled:
                grads = self.optimizer.get_unscaled_gradients(grads)
            # The all-reduce the optimizer would do, done here so the logged norm is the global gradient's.
            grads = replica_sum(grads)
        else:
            loss, grads = self.gradient_strategy.gradients(self, features, denominators)
        self.gradient_norm_tracker.update_state(tf.linalg.global_norm(grads))
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables), skip_gradients_aggregation=True)
        self.loss_tracker.update_state(replica_sum(loss))
        return {m.name: m.result() for m in self.metrics}

    @tf.autograph.experimental.do_not_convert
    def test_step(self, data):
        features = self._merge_features(data)
        outputs = self(self._model_inputs(features), training=False)
        loss = self.loss_share(features, outputs, self._global_denominators(features))
        self.update_task_metrics(features, outputs)
        self.loss_tracker.update_state(replica_sum(loss))
        # Only what evaluation measures: the training-only trackers (gradient norm, DP's clipped fraction) would be
        # logged as val_...: 0 in the progress line, metrics.jsonl and TensorBoard.
        return {m.name: m.result() for m in (self.loss_tracker, *self.task_metrics)}

    # -- serialisation -----------------------------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "backbone": keras.layers.serialize(self.backbone),
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            **self._head_kwargs,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"], custom_objects=custom_objects)
        return cls(**config)

    # -- Hugging Face checkpoints (the family's converter in checkpoints/hf/, found through the registry) ----------
    @classmethod
    def from_pretrained(cls, path, require_heads=(), **kwargs):
        """Backbone + the heads the checkpoint has; kwargs as in `cls(...)`. A head named in `require_heads`
        (e.g. ("mlm", "nsp"), or {"mlm": "CrowS-Pairs"} to say what needs it) that the checkpoint lacks raises
        MissingHeadError; other missing heads are freshly initialised (fine for fine-tuning, logged)."""
        return families.get(cls.family).converter.load_task(cls, path, require_heads=require_heads, **kwargs)

    def save_pretrained(self, path):
        """Write a transformers checkpoint directory (config.json + model.safetensors, PyTorch names)."""
        families.get(self.family).converter.save_task(self, path)
