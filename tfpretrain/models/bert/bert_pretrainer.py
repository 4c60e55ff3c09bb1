"""BERT pretraining task: masked LM at fixed-size masked positions + next-sentence prediction."""

import tensorflow as tf

from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.layers.initializers import truncated_normal
from tfpretrain.layers.masked_lm_head import MaskedLMHead
from tfpretrain.models.metrics import Perplexity, TopOneAccuracy
from tfpretrain.models.task import Task


@keras.utils.register_keras_serializable(package="tfpretrain")
class BertPretrainer(Task):
    """Inputs: the backbone's plus `masked_lm_positions` [B, P]. Outputs float32 `mlm_logits` [B, P, V] and
    `nsp_logits` [B, 2]. Labels: `masked_lm_ids` [B, P], `masked_lm_weights` [B, P], `next_sentence_labels` [B].
    Loss = weighted-mean MLM cross-entropy + mean NSP cross-entropy."""

    family = "bert"

    def __init__(self, backbone, gradient_accumulation_steps=1, loss_chunk_rows=256, name="bert_pretrainer",
                 **kwargs):
        """`loss_chunk_rows`: the train step computes the MLM projection and its cross-entropy fused, this many masked
        positions at a time (layers/projection_cross_entropy.py), never the whole [B, P, V] logits; 0 or None: the
        logits are materialised, as `call`, evaluation and DP-SGD always do. Only under XLA (jit_compile, TPUs): without
        it the chunk loop measured slower than the materialised logits (benchmarks/loss_fusion.py --jit off)."""
        inputs = dict(backbone.input)
        positions = keras.Input((None,), dtype="int32", name=F.MASKED_LM_POSITIONS)
        inputs[F.MASKED_LM_POSITIONS] = positions
        backbone_outputs = backbone({k: inputs[k] for k in backbone.input_keys})
        mlm_head = MaskedLMHead(
            backbone.token_embedding,
            activation=backbone.activation,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            initializer_range=backbone.initializer_range,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        nsp_head = keras.layers.Dense(
            2, kernel_initializer=truncated_normal(backbone.initializer_range), dtype="float32", name="nsp_head"
        )
        outputs = {
            "mlm_logits": mlm_head((backbone_outputs["sequence_output"], positions)),
            "nsp_logits": nsp_head(backbone_outputs["pooled_output"]),
        }
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.backbone = backbone
        self.mlm_head = mlm_head
        self.nsp_head = nsp_head
        self._head_kwargs = {}
        self._init_loss_fusion(loss_chunk_rows)
        self._init_task(gradient_accumulation_steps)
        self.mlm_accuracy = TopOneAccuracy(name="mlm_accuracy")
        self.mlm_perplexity = Perplexity(name="mlm_perplexity")
        self.nsp_accuracy = keras.metrics.SparseCategoricalAccuracy(name="nsp_accuracy")
        self.task_metrics = [self.mlm_accuracy, self.mlm_perplexity, self.nsp_accuracy]

    @staticmethod
    def head_flops(config, batch_size, sequence_length, masked_positions=None):
        """Forward matmul FLOPs of the heads over a batch (training/flops.py adds the encoder's): pooler and NSP
        head on [CLS]; MLM transform and vocabulary projection only at the masked positions (default: all)."""
        h, v = config.hidden_dim, config.vocabulary_size
        predictions = batch_size * (masked_positions or sequence_length)
        return predictions * 2 * (h * h + h * v) + batch_size * 2 * (h * h + 2 * h)

    def example_loss_denominators(self, features):
        return {
            "mlm": tf.reduce_sum(tf.cast(features[F.MASKED_LM_WEIGHTS], tf.float32), axis=1),  # [B]
            "nsp": tf.ones(tf.shape(features[F.NEXT_SENTENCE_LABELS])[:1], tf.float32),  # [B]
        }

    def _mlm_token_losses(self, features, outputs):
        return tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(features[F.MASKED_LM_IDS], tf.int32), logits=outputs["mlm_logits"]
        )  # [B, P]

    def example_loss_numerators(self, features, outputs):
        weights = tf.cast(features[F.MASKED_LM_WEIGHTS], tf.float32)
        return {
            "mlm": tf.reduce_sum(self._mlm_token_losses(features, outputs) * weights, axis=1),  # [B]
            "nsp": self._nsp_losses(features, outputs["nsp_logits"]),  # [B]
        }

    def _nsp_losses(self, features, nsp_logits):
        return tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(features[F.NEXT_SENTENCE_LABELS], tf.int32), logits=nsp_logits)  # [B]

    def fused_loss_numerators(self, features):
        if not self._fuse_loss:
            return None
        backbone_outputs = self.backbone({k: features[k] for k in self.backbone.input_keys}, training=True)
        x = self.mlm_head.transform((backbone_outputs["sequence_output"], features[F.MASKED_LM_POSITIONS]))
        mlm = self._fused_vocabulary_loss(x, features[F.MASKED_LM_IDS], features[F.MASKED_LM_WEIGHTS],
                                          self.mlm_accuracy, self.mlm_perplexity, bias=self.mlm_head.bias)
        nsp_logits = self.nsp_head(backbone_outputs["pooled_output"])
        self.nsp_accuracy.update_state(features[F.NEXT_SENTENCE_LABELS], nsp_logits)
        return {"mlm": mlm, "nsp": tf.reduce_sum(self._nsp_losses(features, nsp_logits))}

    def update_task_metrics(self, features, outputs):
        weights = tf.cast(features[F.MASKED_LM_WEIGHTS], tf.float32)
        self.mlm_accuracy.update_state(features[F.MASKED_LM_IDS], outputs["mlm_logits"], sample_weight=weights)
        self.mlm_perplexity.update_state(self._mlm_token_losses(features, outputs), sample_weight=weights)
        self.nsp_accuracy.update_state(features[F.NEXT_SENTENCE_LABELS], outputs["nsp_logits"])
