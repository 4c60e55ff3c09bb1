"""BERT <-> transformers' BertModel / BertForPreTraining / BertForSequenceClassification checkpoints."""

from tfpretrain.checkpoints.hf.convert import REQUIRED, Converter
from tfpretrain.checkpoints.hf.name_map import ROWS, SAME, Head, T, TaskSpec, dense, norm
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.models.bert.bert_pretrainer import BertPretrainer

CONFIG_MAP = (
    ("vocabulary_size", "vocab_size", REQUIRED),
    ("num_layers", "num_hidden_layers", REQUIRED),
    ("num_heads", "num_attention_heads", REQUIRED),
    ("hidden_dim", "hidden_size", REQUIRED),
    ("intermediate_dim", "intermediate_size", REQUIRED),
    ("max_sequence_length", "max_position_embeddings", 512),
    ("num_segments", "type_vocab_size", 2),
    ("dropout", "hidden_dropout_prob", 0.1),
    ("activation", "hidden_act", "gelu"),
    ("layer_norm_epsilon", "layer_norm_eps", 1e-12),
    ("initializer_range", "initializer_range", 0.02),
)


def backbone_map(num_layers):
    entries = [
        ("token_embedding.embeddings", "embeddings.word_embeddings.weight", ROWS),  # [V, H]
        ("segment_embedding.embeddings", "embeddings.token_type_embeddings.weight", SAME),  # [segments, H]
        ("position_embedding.position_embeddings", "embeddings.position_embeddings.weight", SAME),  # [P, H]
        *norm("embeddings_norm", "embeddings.LayerNorm"),
    ]
    for i in range(num_layers):
        ours, hf = f"transformer_layer_{i}", f"encoder.layer.{i}"
        qkv = [f"{hf}.attention.self.{name}" for name in ("query", "key", "value")]
        entries += [
            (f"{ours}.attention.qkv_dense.kernel", tuple(k + ".weight" for k in qkv), T),  # 3 x [H, H] -> [H, 3H]
            (f"{ours}.attention.qkv_dense.bias", tuple(k + ".bias" for k in qkv), SAME),  # 3 x [H] -> [3H]
            *dense(f"{ours}.attention.output_dense", f"{hf}.attention.output.dense"),  # [H, H]
            *norm(f"{ours}.attention_norm", f"{hf}.attention.output.LayerNorm"),
            *dense(f"{ours}.intermediate_dense", f"{hf}.intermediate.dense"),  # [H, I]
            *dense(f"{ours}.output_dense", f"{hf}.output.dense"),  # [I, H]
            *norm(f"{ours}.ffn_norm", f"{hf}.output.LayerNorm"),
        ]
    return entries + dense("pooler", "pooler.dense")  # [H, H]


# Task heads keep their full HF names (no "bert." prefix in the checkpoint either).
MLM = Head(
    "mlm", "MLM head", "cls.predictions.*", "a masked-LM head", "a BertForPreTraining / BertForMaskedLM checkpoint",
    entries=(
        *dense("mlm_head.dense", "cls.predictions.transform.dense"),  # [H, H]
        *norm("mlm_head.layer_norm", "cls.predictions.transform.LayerNorm"),
        ("mlm_head.bias", "cls.predictions.bias", ROWS),  # [V]; the projection is tied to the token embedding
    ),
)
NSP = Head(
    "nsp", "NSP head", "cls.seq_relationship.*", "a next-sentence-prediction head",
    "a BertForPreTraining / BertForNextSentencePrediction checkpoint",
    entries=tuple(dense("nsp_head", "cls.seq_relationship")),  # [H, 2]
)
CLASSIFIER = Head(
    "classifier", "classifier head", "classifier.*", "a sequence-classification head",
    "a BertForSequenceClassification checkpoint",
    entries=tuple(dense("classifier_head", "classifier")),  # [H, num_classes]
)


def _labels(task):
    return {"id2label": {str(i): f"LABEL_{i}" for i in range(task.num_classes)},
            "label2id": {f"LABEL_{i}": i for i in range(task.num_classes)}}


CONVERTER = Converter(
    family="bert",
    base_prefix="bert.",
    backbone_architecture="BertModel",
    config_map=CONFIG_MAP,
    unsupported=(("position_embedding_type", "absolute"), ("is_decoder", False), ("add_cross_attention", False)),
    backbone_map=backbone_map,
    tasks={
        BertPretrainer: TaskSpec("BertForPreTraining", (MLM, NSP)),
        BertClassifier: TaskSpec("BertForSequenceClassification", (CLASSIFIER,), extra_config=_labels),
    },
    tied_config=lambda kwargs: {"attention_probs_dropout_prob": kwargs["dropout"]},
)
