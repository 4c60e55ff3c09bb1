"""GPT-2 causal language model: tied output projection, next-token loss over padding_mask, and generate()."""

import numpy as np
import tensorflow as tf

from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.models import sampling as gpt2_sampler
from tfpretrain.models.metrics import Perplexity, TopOneAccuracy
from tfpretrain.models.task import Task


@keras.utils.register_keras_serializable(package="tfpretrain")
class GPT2CausalLM(Task):
    """{token_ids, padding_mask} [B, S] -> float32 logits [B, S, V]. Position t predicts token t + 1; the loss
    covers pairs whose target is not padding (weights padding_mask[:, 1:])."""

    family = "gpt2"

    def __init__(self, backbone, gradient_accumulation_steps=1, loss_chunk_rows=256, name="gpt2_causal_lm",
                 **kwargs):
        """`loss_chunk_rows`: the train step computes the tied projection and its cross-entropy fused, this many
        positions at a time (layers/projection_cross_entropy.py), never the whole [B, S, V] logits; 0 or None: the
        logits are materialised, as `call`, evaluation and DP-SGD always do. Only under XLA (jit_compile, TPUs): without
        it the chunk loop measured slower than the materialised logits (benchmarks/loss_fusion.py --jit off)."""
        inputs = dict(backbone.input)
        hidden = backbone(inputs)
        # The output projection is the token embedding, reused (tied); logits in float32 under any policy.
        logits = tf.cast(backbone.token_embedding(hidden, reverse=True), tf.float32)  # [B, S, V]
        super().__init__(inputs=inputs, outputs=logits, name=name, **kwargs)
        self.backbone = backbone
        self._head_kwargs = {}
        self._init_loss_fusion(loss_chunk_rows)
        self._init_task(gradient_accumulation_steps)
        self.accuracy = TopOneAccuracy(name="accuracy")
        self.perplexity = Perplexity(name="perplexity")
        self.task_metrics = [self.accuracy, self.perplexity]
        self._generate_fns = {}

    @staticmethod
    def head_flops(config, batch_size, sequence_length, masked_positions=None):
        """Forward matmul FLOPs of the tied vocabulary projection at every position (masked_positions: unused)."""
        return batch_size * sequence_length * 2 * config.hidden_dim * config.vocabulary_size

    @staticmethod
    def _targets(features):
        """Targets and weights aligned with the logits, [B, S] each: position t's target is token t + 1; the last
        position has none (target 0, weight 0). The logits are never sliced to [:, :-1]: under XLA that slice is a
        copy of the [B, S, V] logits and its gradient a second one (7% of a GPT-2 step, benchmarks/README.md)."""
        token_ids = tf.cast(features[F.TOKEN_IDS], tf.int32)
        weights = tf.cast(features[F.PADDING_MASK], tf.float32)
        targets = tf.concat([token_ids[:, 1:], tf.zeros_like(token_ids[:, :1])], axis=1)
        weights = tf.concat([weights[:, 1:], tf.zeros_like(weights[:, :1])], axis=1)
        return targets, weights

    def _token_losses(self, features, logits):
        targets, _ = self._targets(features)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)  # [B, S]

    def example_loss_denominators(self, features):
        return {"lm": tf.reduce_sum(self._targets(features)[1], axis=1)}  # [B]

    def example_loss_numerators(self, features, logits):
        return {"lm": tf.reduce_sum(self._token_losses(features, logits) * self._targets(features)[1], axis=1)}

    def fused_loss_numerators(self, features):
        if not self._fuse_loss:
            return None
        hidden = self.backbone(self._model_inputs(features), training=True)  # [B, S, H]
        targets, weights = self._targets(features)  # [B, S] each
        return {"lm": self._fused_vocabulary_loss(hidden, targets, weights, self.accuracy, self.perplexity)}

    def update_task_metrics(self, features, logits):
        targets, weights = self._targets(features)
        self.accuracy.update_state(targets, logits, sample_weight=weights)
        self.perplexity.update_state(self._token_losses(features, logits), sample_weight=weights)

    # -- generation --------------------------------------------------------------------------------------------
    def generate(
        self,
        prompts,
        max_length,
        sampler="greedy",
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        end_token_id=None,
        pad_token_id=0,
        seed=0,
        jit_compile=True,
    ):
        """Continue `prompts` to `max_length` total tokens.

        prompts: a list of token-id lists (any lengths >= 1), or a dict {token_ids, padding_mask} of right-padded
        int [B, T0] arrays. Returns {token_ids, padding_mask} as numpy int32 [B, max_length]; padding_mask marks
        prompt and generated tokens (up to and including `end_token_id`, when given).
        """
        if sampler not in gpt2_sampler.SAMPLERS:
            raise ValueError(f"sampler must be one of {gpt2_sampler.SAMPLERS}, got {sampler!r}")
        if not 0 < max_length <= self.backbone.max_sequence_length:
            raise ValueError(
                f"max_length={max_length} must be in 1..{self.backbone.max_sequence_length} "
                "(the model's max_sequence_length)"
            )
        token_ids, mask = _pad_prompts(prompts, max_length)
        key = (sampler, float(temperature), int(top_k), float(top_p), end_token_id, pad_token_id, jit_compile)
        if key not in self._generate_fns:
            sampling = {} if sampler == "greedy" else dict(temperature=temperature, top_k=top_k, top_p=top_p)

            def run(token_ids, mask, seed):
                def project(hidden):  # [B, H] -> float32 [B, V]
                    return tf.cast(self.backbone.token_embedding(hidden, reverse=True), tf.float32)

                return gpt2_sampler.generate_tokens(
                    self.backbone,
                    project,
                    token_ids,
                    mask,
                    sampler,
                    seed,
                    end_token_id=end_token_id,
                    pad_token_id=pad_token_id,
                    **sampling,
                )

            # One trace per (batch, length): every shape inside is static, as XLA needs.
            self._generate_fns[key] = tf.function(run, jit_compile=jit_compile)
        out_ids, out_mask = self._generate_fns[key](tf.constant(token_ids), tf.constant(mask), tf.constant(seed))
        return {F.TOKEN_IDS: out_ids.numpy(), F.PADDING_MASK: out_mask.numpy()}


def _pad_prompts(prompts, max_length):
    """-> right-padded int32 (token_ids, mask) [B, max_length]; one clear error for empty or too-long prompts."""
    if isinstance(prompts, dict):
        ids = np.asarray(prompts[F.TOKEN_IDS])
        mask = np.asarray(prompts.get(F.PADDING_MASK, np.ones_like(ids)))
        rows = [list(r[m.astype(bool)]) for r, m in zip(ids, mask)]
    else:
        rows = [list(r) for r in prompts]
    if not rows:
        raise ValueError("generate() needs at least one prompt")
    token_ids = np.zeros((len(rows), max_length), np.int32)
    mask = np.zeros((len(rows), max_length), np.int32)
    for i, row in enumerate(rows):
        if not 1 <= len(row) <= max_length:
            raise ValueError(f"prompt {i} has {len(row)} tokens; prompts need 1..max_length={max_length} tokens")
        token_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return token_ids, mask
