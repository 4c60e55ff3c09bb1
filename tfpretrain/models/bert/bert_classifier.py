"""BERT sequence classifier on the pooled [CLS] output: binary (1 logit, sigmoid) or multi-class (softmax)."""

import tensorflow as tf

from tfpretrain.data import features as F
from tfpretrain.keras import keras
from tfpretrain.layers.dropout import Dropout
from tfpretrain.layers.initializers import truncated_normal
from tfpretrain.models.task import Task


@keras.utils.register_keras_serializable(package="tfpretrain")
class BertClassifier(Task):
    """Backbone inputs -> float32 logits [B, num_classes]. Labels: int `labels` [B] (0/1 when num_classes == 1),
    optional `sample_weight` [B]. Metrics: accuracy, plus AUC of the positive class for binary tasks."""

    family = "bert"

    def __init__(
        self, backbone, num_classes=2, dropout=0.1, gradient_accumulation_steps=1, name="bert_classifier", **kwargs
    ):
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1 (1 = binary with a sigmoid), got {num_classes}")
        inputs = dict(backbone.input)
        pooled = backbone(inputs)["pooled_output"]
        pooled = Dropout(dropout, name="classifier_dropout")(pooled)
        head = keras.layers.Dense(
            num_classes,
            kernel_initializer=truncated_normal(backbone.initializer_range),
            dtype="float32",
            name="classifier_head",
        )
        super().__init__(inputs=inputs, outputs=head(pooled), name=name, **kwargs)
        self.backbone = backbone
        self.classifier_head = head  # logits from a pooled output, e.g. for attributions
        self.num_classes = int(num_classes)
        self._head_kwargs = {"num_classes": self.num_classes, "dropout": dropout}
        self._init_task(gradient_accumulation_steps)
        self.accuracy = keras.metrics.Accuracy(name="accuracy")
        self.task_metrics = [self.accuracy]
        if self.num_classes <= 2:
            self.auc = keras.metrics.AUC(name="auc")
            self.task_metrics.append(self.auc)

    def _weights(self, features):
        labels = features[self.label_key]
        weights = features.get(F.SAMPLE_WEIGHT)
        return tf.ones(tf.shape(labels)[:1], tf.float32) if weights is None else tf.cast(weights, tf.float32)

    def positive_probability(self, logits):
        """[B, C] logits -> [B] probability of class 1 (the score that fairness evaluation thresholds)."""
        if self.num_classes == 1:
            return tf.sigmoid(logits[:, 0])
        return tf.nn.softmax(logits)[:, 1]

    def example_loss_denominators(self, features):
        return {"classification": self._weights(features)}  # [B]

    def example_loss_numerators(self, features, logits):
        labels = tf.reshape(features[self.label_key], [-1])
        if self.num_classes == 1:
            losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32), logits=logits[:, 0])
        else:
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)
        return {"classification": losses * self._weights(features)}  # [B]

    def update_task_metrics(self, features, logits):
        labels = tf.cast(tf.reshape(features[self.label_key], [-1]), tf.int32)
        weights = self._weights(features)
        if self.num_classes == 1:
            predicted = tf.cast(logits[:, 0] > 0, tf.int32)
        else:
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        self.accuracy.update_state(labels, predicted, sample_weight=weights)
        if self.num_classes <= 2:
            self.auc.update_state(labels, self.positive_probability(logits), sample_weight=weights)
