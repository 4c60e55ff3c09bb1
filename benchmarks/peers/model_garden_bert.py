"""TF Model Garden's BERT pretraining step, timed for benchmarks/train_step.py --peer model-garden.

Runs in the peer environment (`make bench-peers`: tensorflow 2.20, tf-keras 2.20, tensorflow-text 2.20,
tf-models-official 2.20, which cannot share our TF 2.21 environment), as a subprocess that train_step.py drives
over stdin/stdout so that its timed rounds alternate with ours:

    python model_garden_bert.py CONFIG_JSON        then, one per line on stdin:
        warmup N | time N | profile N DIR | quit   each answered by one JSON line on stdout
                                                   (profile: the N steps under tf.profiler, written to DIR)

CONFIG_JSON: {"batch": PATH.npz (tfpretrain's feature names), "vocabulary_size", "hidden_dim", "num_layers",
"num_heads", "intermediate_dim", "max_sequence_length", "dropout", "jit_compile"}. The model: official.nlp's
BertEncoder (type vocabulary 2, exact GELU like ours) + BertPretrainerV2 with an NSP ClassificationHead
("next_sentence"), its MLM head evaluated at the masked positions; the loss as Model Garden's MaskedLMTask builds
it (MLM cross-entropy weighted by masked_lm_weights, + NSP cross-entropy); Adam(1e-4); `model.fit` over the
repeated in-memory batch, one wall and process-CPU time per step from a callback, like our variants.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

FEATURES = {  # tfpretrain feature -> Model Garden input
    "token_ids": "input_word_ids",
    "padding_mask": "input_mask",
    "segment_ids": "input_type_ids",
    "masked_lm_positions": "masked_lm_positions",
    "masked_lm_ids": "masked_lm_ids",
    "masked_lm_weights": "masked_lm_weights",
    "next_sentence_labels": "next_sentence_labels",
}
MODEL_INPUTS = ("input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions")


class Pretraining(keras.Model):
    """BertPretrainerV2 + the MaskedLMTask loss in a train_step, so `fit` runs it like our models."""

    def __init__(self, pretrainer):
        super().__init__()
        self.pretrainer = pretrainer

    def train_step(self, data):
        with tf.GradientTape() as tape:
            outputs = self.pretrainer({k: data[k] for k in MODEL_INPUTS}, training=True)
            mlm = keras.losses.sparse_categorical_crossentropy(data["masked_lm_ids"], outputs["mlm_logits"],
                                                               from_logits=True)  # [B, P]
            weights = tf.cast(data["masked_lm_weights"], tf.float32)
            loss = tf.reduce_sum(mlm * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
            nsp = keras.losses.sparse_categorical_crossentropy(data["next_sentence_labels"],
                                                               outputs["next_sentence"], from_logits=True)
            loss = loss + tf.reduce_mean(nsp)
        variables = self.pretrainer.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return {"loss": loss}


def build(cfg):
    from official.nlp.modeling import layers, models, networks

    gelu = lambda x: keras.activations.gelu(x, approximate=False)  # noqa: E731  BERT's exact GELU, as ours
    encoder = networks.BertEncoder(
        vocab_size=cfg["vocabulary_size"], hidden_size=cfg["hidden_dim"], num_layers=cfg["num_layers"],
        num_attention_heads=cfg["num_heads"], max_sequence_length=cfg["max_sequence_length"], type_vocab_size=2,
        inner_dim=cfg["intermediate_dim"], inner_activation=gelu, output_dropout=cfg["dropout"],
        attention_dropout=cfg["dropout"], initializer=keras.initializers.TruncatedNormal(stddev=0.02))
    head = layers.ClassificationHead(inner_dim=cfg["hidden_dim"], num_classes=2, dropout_rate=cfg["dropout"],
                                     name="next_sentence")
    model = Pretraining(models.BertPretrainerV2(encoder, mlm_activation=gelu, classification_heads=[head]))
    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=cfg["jit_compile"])
    return model


class StepTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.wall, self.cpu, self.losses = [], [], []

    def on_train_batch_begin(self, batch, logs=None):
        self._start, self._start_cpu = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        self.wall.append(time.perf_counter() - self._start)
        self.cpu.append(time.process_time() - self._start_cpu)
        self.losses.append(float((logs or {}).get("loss", float("nan"))))


def reply(record):
    print(json.dumps(record), flush=True)


def main(argv):
    cfg = json.loads(argv[1])
    keras.utils.set_random_seed(0)
    with np.load(cfg["batch"]) as arrays:
        batch = {FEATURES[k]: arrays[k] for k in FEATURES}
    model = build(cfg)
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    model.pretrainer({k: batch[k] for k in MODEL_INPUTS})  # build the variables before counting them
    reply({"ready": True, "tensorflow": tf.__version__, "parameters": int(model.pretrainer.count_params())})
    for line in sys.stdin:
        command, *args = line.split()
        if command == "quit":
            break
        timer = StepTimer()
        if command == "profile":
            tf.profiler.experimental.start(args[1])
        model.fit(dataset, steps_per_epoch=int(args[0]), epochs=1, verbose=0, callbacks=[timer])
        if command == "profile":
            tf.profiler.experimental.stop()
        reply({"wall": timer.wall, "cpu": timer.cpu, "losses": timer.losses})


if __name__ == "__main__":
    try:
        main(sys.argv)
    except Exception as exc:  # one line the driver can report
        reply({"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"})
        raise
