"""Hugging Face transformers checkpoints <-> tfpretrain weights, through one explicit name map per family.

Checkpoint side: PyTorch names and layouts (what model.safetensors holds), without the base-model prefix
("bert." / "transformer."), e.g. "encoder.layer.0.attention.self.query.weight". A tf_model.h5 (transformers' TF
save_pretrained) is renamed to the same keys and layouts on reading, so one map serves both formats.

Our side: attribute paths from the backbone or task, e.g. "transformer_layer_0.attention.qkv_dense.kernel"
(Keras variable names repeat inside a block: "transformer_layer_0/kernel:0" appears four times).

Conversions: SAME (identical layout), T (PyTorch Linear [out, in] <-> our Dense kernel [in, out]), ROWS (vocabulary
rows: the checkpoint may have fewer rows than ours, the extra rows keep their fresh initialisation). An entry with
three checkpoint keys is concatenated on the last axis (BERT's q | k | v -> our fused qkv) and split when saving.
"""

import inspect
import json
import logging
import os
import shutil
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

logger = logging.getLogger(__name__)

SAME, T, ROWS = "same", "transpose", "rows"
_REQUIRED = object()

# -- config.json <-> kwargs: (our kwarg, HF config key, default when the key is absent) ----------------------------
CONFIG_MAPS = {
    "bert": (
        ("vocabulary_size", "vocab_size", _REQUIRED),
        ("num_layers", "num_hidden_layers", _REQUIRED),
        ("num_heads", "num_attention_heads", _REQUIRED),
        ("hidden_dim", "hidden_size", _REQUIRED),
        ("intermediate_dim", "intermediate_size", _REQUIRED),
        ("max_sequence_length", "max_position_embeddings", 512),
        ("num_segments", "type_vocab_size", 2),
        ("dropout", "hidden_dropout_prob", 0.1),
        ("activation", "hidden_act", "gelu"),
        ("layer_norm_epsilon", "layer_norm_eps", 1e-12),
        ("initializer_range", "initializer_range", 0.02),
    ),
    "gpt2": (
        ("vocabulary_size", "vocab_size", _REQUIRED),
        ("num_layers", "n_layer", _REQUIRED),
        ("num_heads", "n_head", _REQUIRED),
        ("hidden_dim", "n_embd", _REQUIRED),
        ("intermediate_dim", "n_inner", None),  # None means 4 * n_embd
        ("max_sequence_length", "n_positions", 1024),
        ("dropout", "resid_pdrop", 0.1),
        ("activation", "activation_function", "gelu_new"),
        ("layer_norm_epsilon", "layer_norm_epsilon", 1e-5),
        ("initializer_range", "initializer_range", 0.02),
    ),
}
# Options our blocks do not implement: (HF key, the only value we can load).
_UNSUPPORTED = {
    "bert": (("position_embedding_type", "absolute"), ("is_decoder", False), ("add_cross_attention", False)),
    "gpt2": (("scale_attn_by_inverse_layer_idx", False), ("scale_attn_weights", True), ("add_cross_attention", False)),
}
_BASE_PREFIXES = {"bert": "bert.", "gpt2": "transformer."}
_BACKBONE_ARCHITECTURES = {"bert": "BertModel", "gpt2": "GPT2Model"}


def config_to_kwargs(hf_config, source="config.json"):
    """HF config dict -> (family, backbone kwargs). Errors name the key and `source`."""
    from tfpretrain.layers.activations import ACTIVATIONS

    family = hf_config.get("model_type")
    if family not in CONFIG_MAPS:
        raise ValueError(f"{source}: model_type {family!r} is not supported; expected one of {sorted(CONFIG_MAPS)}")
    kwargs = {}
    for ours, theirs, default in CONFIG_MAPS[family]:
        if default is _REQUIRED and theirs not in hf_config:
            raise ValueError(f"{source}: missing {theirs!r} (needed for {ours})")
        kwargs[ours] = hf_config.get(theirs, default)
    if kwargs["intermediate_dim"] is None:
        kwargs["intermediate_dim"] = 4 * kwargs["hidden_dim"]
    if kwargs["activation"] not in ACTIVATIONS:
        raise ValueError(f"{source}: activation {kwargs['activation']!r} is not one of {sorted(ACTIVATIONS)}")
    for key, supported in _UNSUPPORTED[family]:
        if hf_config.get(key, supported) != supported:
            raise ValueError(f"{source}: {key}={hf_config[key]!r} is not supported (only {supported!r})")
    return family, kwargs


def kwargs_to_config(family, kwargs):
    """Backbone kwargs -> HF config dict (model_type, architectures and every mapped key)."""
    config = {"model_type": family, "architectures": [_BACKBONE_ARCHITECTURES[family]]}
    config.update({theirs: kwargs[ours] for ours, theirs, _ in CONFIG_MAPS[family]})
    if family == "bert":
        config["attention_probs_dropout_prob"] = kwargs["dropout"]
    else:
        config.update(attn_pdrop=kwargs["dropout"], embd_pdrop=kwargs["dropout"])
    return config


# -- weight name maps: [(our attribute path, checkpoint key or (q, k, v) keys, conversion)] -------------------------
def _dense(ours, theirs, kernel=T):  # kernel=T: PyTorch Linear [out, in]; SAME: GPT-2 Conv1D, already [in, out]
    return [(f"{ours}.kernel", f"{theirs}.weight", kernel), (f"{ours}.bias", f"{theirs}.bias", SAME)]


def _norm(ours, theirs):  # LayerNorm [H]
    return [(f"{ours}.gamma", f"{theirs}.weight", SAME), (f"{ours}.beta", f"{theirs}.bias", SAME)]


def bert_backbone_map(num_layers):
    entries = [
        ("token_embedding.embeddings", "embeddings.word_embeddings.weight", ROWS),  # [V, H]
        ("segment_embedding.embeddings", "embeddings.token_type_embeddings.weight", SAME),  # [segments, H]
        ("position_embedding.position_embeddings", "embeddings.position_embeddings.weight", SAME),  # [P, H]
        *_norm("embeddings_norm", "embeddings.LayerNorm"),
    ]
    for i in range(num_layers):
        ours, hf = f"transformer_layer_{i}", f"encoder.layer.{i}"
        qkv = [f"{hf}.attention.self.{name}" for name in ("query", "key", "value")]
        entries += [
            (f"{ours}.attention.qkv_dense.kernel", tuple(k + ".weight" for k in qkv), T),  # 3 x [H, H] -> [H, 3H]
            (f"{ours}.attention.qkv_dense.bias", tuple(k + ".bias" for k in qkv), SAME),  # 3 x [H] -> [3H]
            *_dense(f"{ours}.attention.output_dense", f"{hf}.attention.output.dense"),  # [H, H]
            *_norm(f"{ours}.attention_norm", f"{hf}.attention.output.LayerNorm"),
            *_dense(f"{ours}.intermediate_dense", f"{hf}.intermediate.dense"),  # [H, I]
            *_dense(f"{ours}.output_dense", f"{hf}.output.dense"),  # [I, H]
            *_norm(f"{ours}.ffn_norm", f"{hf}.output.LayerNorm"),
        ]
    return entries + _dense("pooler", "pooler.dense")  # [H, H]


def gpt2_backbone_map(num_layers):
    entries = [
        ("token_embedding.embeddings", "wte.weight", ROWS),  # [V, H]
        ("position_embedding.position_embeddings", "wpe.weight", SAME),  # [P, H]
    ]
    for i in range(num_layers):
        ours, hf = f"transformer_layer_{i}", f"h.{i}"
        entries += [
            *_norm(f"{ours}.attention_norm", f"{hf}.ln_1"),
            *_dense(f"{ours}.attention.qkv_dense", f"{hf}.attn.c_attn", kernel=SAME),  # [H, 3H], q | k | v
            *_dense(f"{ours}.attention.output_dense", f"{hf}.attn.c_proj", kernel=SAME),  # [H, H]
            *_norm(f"{ours}.ffn_norm", f"{hf}.ln_2"),
            *_dense(f"{ours}.intermediate_dense", f"{hf}.mlp.c_fc", kernel=SAME),  # [H, I]
            *_dense(f"{ours}.output_dense", f"{hf}.mlp.c_proj", kernel=SAME),  # [I, H]
        ]
    return entries + _norm("final_norm", "ln_f")


BACKBONE_MAPS = {"bert": bert_backbone_map, "gpt2": gpt2_backbone_map}

# Task heads, keyed by class name: (family, HF architecture, {head: entries}). Keys keep their full HF names.
# Each head loads when the checkpoint has it and keeps its fresh initialisation otherwise.
TASKS = {
    "BertPretrainer": (
        "bert",
        "BertForPreTraining",
        {
            "mlm": [
                *_dense("mlm_head.dense", "cls.predictions.transform.dense"),  # [H, H]
                *_norm("mlm_head.layer_norm", "cls.predictions.transform.LayerNorm"),
                ("mlm_head.bias", "cls.predictions.bias", ROWS),  # [V]; the projection is tied to the embedding
            ],
            "nsp": _dense("nsp_head", "cls.seq_relationship"),  # [H, 2]
        },
    ),
    "BertClassifier": (
        "bert",
        "BertForSequenceClassification",
        {
            "classifier": _dense("classifier_head", "classifier"),  # [H, num_classes]
        },
    ),
    "GPT2CausalLM": ("gpt2", "GPT2LMHeadModel", {}),  # lm_head is tied to wte: nothing extra
}


# -- reading ----------------------------------------------------------------------------------------------------------
def read_checkpoint(path):
    """-> (config dict, {PyTorch key without base prefix: array in PyTorch layout}, weights file)."""
    path = os.fspath(path)
    config_file = os.path.join(path, "config.json")
    if not os.path.isfile(config_file):
        raise ValueError(f"{path}: no config.json (expected a Hugging Face checkpoint directory)")
    with open(config_file) as f:
        config = json.load(f)
    readers = (
        ("model.safetensors", load_file),
        ("model.safetensors.index.json", _read_sharded),
        ("tf_model.h5", _read_h5),
    )
    for name, reader in readers:
        file = os.path.join(path, name)
        if os.path.isfile(file):
            prefix = _BASE_PREFIXES.get(config.get("model_type"), "")
            return config, {_canonical(key, prefix): array for key, array in reader(file).items()}, file
    raise ValueError(f"{path}: no weights file (looked for {', '.join(name for name, _ in readers)})")


def _canonical(key, prefix):
    key = key.removeprefix(prefix)
    # Older PyTorch BERT checkpoints still name LayerNorm parameters gamma/beta.
    if key.endswith(".gamma"):
        return key.removesuffix(".gamma") + ".weight"
    return key.removesuffix(".beta") + ".bias" if key.endswith(".beta") else key


def _read_sharded(file):
    with open(file) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    return {k: v for shard in shards for k, v in load_file(os.path.join(os.path.dirname(file), shard)).items()}


def _read_h5(file):
    """transformers' TF weights -> PyTorch keys and layouts, renamed as transformers itself does, e.g.
    "tf_bert_model/bert/encoder/layer_._0/attention/self/query/kernel:0" [in, out]
    -> "bert.encoder.layer.0.attention.self.query.weight" [out, in]."""
    import h5py

    text = lambda s: s.decode() if isinstance(s, bytes) else s
    leaves = {"kernel": "weight", "gamma": "weight", "embeddings": "weight", "beta": "bias"}
    tensors = {}
    with h5py.File(file, "r") as h5:
        for layer in h5.attrs["layer_names"]:
            group = h5[text(layer)]
            for name in map(text, group.attrs["weight_names"]):
                array = np.asarray(group[name])
                parts = name.removesuffix(":0").replace("_._", "/").split("/")[1:]  # drop the model's own scope
                parts = [part.split("___")[-1] for part in parts]  # "mlm___cls" -> "cls"
                if parts[-1] == "kernel":
                    array = array.T  # Dense [in, out] -> Linear [out, in]
                if parts[-1] == "bias" and array.ndim == 2:
                    array = array.reshape(-1)  # GPT-2 Conv1D bias [1, N] -> [N]
                parts[-1] = leaves.get(parts[-1], parts[-1])
                tensors.setdefault(".".join(parts), array)  # head groups repeat the tied embedding
    return tensors


# -- assigning ------------------------------------------------------------------------------------------------------
def _keys(keys):
    return keys if isinstance(keys, tuple) else (keys,)


def _variable(root, path):
    first, *rest = path.split(".")
    obj = root.get_layer(first)
    for name in rest:
        obj = getattr(obj, name)
    return obj


def _to_checkpoint(value, conversion, parts):
    """Our array -> the checkpoint array(s) of an entry."""
    arrays = np.split(value, parts, axis=-1) if parts > 1 else [value]
    return [a.T if conversion == T else a for a in arrays]


def _from_checkpoint(arrays, conversion):
    arrays = [a.T if conversion == T else a for a in arrays]
    return np.concatenate(arrays, axis=-1) if len(arrays) > 1 else arrays[0]


def _load_entries(root, entries, tensors, file):
    for ours, keys, conversion in entries:
        variable = _variable(root, ours)
        expected = _to_checkpoint(np.empty(variable.shape, np.float32), conversion, len(_keys(keys)))
        arrays = []
        for key, want in zip(_keys(keys), expected):
            if key not in tensors:
                raise ValueError(f"{file}: missing tensor {key!r} (expected shape {want.shape}, for {ours})")
            got = tensors[key]
            grows = conversion == ROWS and got.shape[1:] == want.shape[1:]
            if grows and got.shape[0] > want.shape[0]:
                raise ValueError(
                    f"vocabulary_size={want.shape[0]} is smaller than the {got.shape[0]} rows of {key!r} in {file}; "
                    "it must be at least the checkpoint's vocabulary size"
                )
            if got.shape != want.shape and not grows:
                raise ValueError(f"{file}: tensor {key!r} has shape {got.shape}, expected {want.shape} (for {ours})")
            arrays.append(got)
        value = _from_checkpoint(arrays, conversion)
        if conversion == ROWS and value.shape[0] < variable.shape[0]:  # new vocabulary rows keep their init
            value = np.concatenate([value, variable.numpy()[value.shape[0] :]])
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))


def _backbone_class(family):
    if family == "bert":
        from tfpretrain.models.bert.bert_backbone import BertBackbone as backbone_class
    else:
        from tfpretrain.models.gpt2.gpt2_backbone import GPT2Backbone as backbone_class
    return backbone_class


def _build_backbone(cls, config, path, overrides, owner=None):
    family = config.get("model_type")
    if family != cls.family:
        owner = owner or cls.__name__
        raise ValueError(f"{path}: config.json has model_type {family!r}; {owner} needs a {cls.family!r} checkpoint")
    _, kwargs = config_to_kwargs(config, source=os.path.join(os.fspath(path), "config.json"))
    return cls(**{**kwargs, **overrides})


def load_backbone(cls, path, **overrides):
    """`cls.from_pretrained(path, **overrides)`: config.json + weights -> a backbone; overrides win (dropout=0.0)."""
    config, tensors, file = read_checkpoint(path)
    backbone = _build_backbone(cls, config, path, overrides)
    _load_entries(backbone, BACKBONE_MAPS[cls.family](backbone.num_layers), tensors, file)
    return backbone


def _task_spec(cls):
    for klass in cls.__mro__:
        if klass.__name__ in TASKS:
            return TASKS[klass.__name__]
    raise ValueError(f"{cls.__name__} has no Hugging Face name map; supported: {sorted(TASKS)}")


def load_task(cls, path, backbone_kwargs=None, **kwargs):
    """`Task.from_pretrained`: backbone + the heads the checkpoint has. kwargs the task's __init__ does not name
    but the backbone does (dropout for BertPretrainer) go to the backbone; `backbone_kwargs` forces that."""
    family, _, heads = _task_spec(cls)
    backbone_cls = _backbone_class(family)
    task_params = inspect.signature(cls.__init__).parameters
    backbone_keys = {ours for ours, _, _ in CONFIG_MAPS[family]} | {"dtype"}
    overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in backbone_keys and k not in task_params}
    overrides.update(backbone_kwargs or {})
    config, tensors, file = read_checkpoint(path)
    backbone = _build_backbone(backbone_cls, config, path, overrides, owner=cls.__name__)
    task = cls(backbone, **kwargs)
    _load_entries(backbone, BACKBONE_MAPS[family](backbone.num_layers), tensors, file)
    for head, entries in heads.items():
        if any(key in tensors for _, keys, _ in entries for key in _keys(keys)):
            _load_entries(task, entries, tensors, file)
        else:
            logger.info("%s has no %s head; %s keeps its fresh initialisation", file, head, cls.__name__)
    return task


# -- writing --------------------------------------------------------------------------------------------------------
def _collect(root, entries, prefix=""):
    tensors = {}
    for ours, keys, conversion in entries:
        arrays = _to_checkpoint(_variable(root, ours).numpy(), conversion, len(_keys(keys)))
        tensors.update({prefix + key: np.ascontiguousarray(a) for key, a in zip(_keys(keys), arrays)})
    return tensors


def _write_checkpoint(path, config, tensors):
    """config.json + model.safetensors, written in a temp dir beside `path`, then renamed into place."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=os.path.dirname(path))
    try:
        save_file(tensors, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        if not os.path.exists(path):
            os.rename(tmp, path)
        else:  # an existing directory: replace our two files, each atomically
            for name in os.listdir(tmp):
                os.replace(os.path.join(tmp, name), os.path.join(path, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_backbone(backbone, path):
    """Backbone -> a BertModel / GPT2Model checkpoint directory (PyTorch names, no base prefix)."""
    entries = BACKBONE_MAPS[backbone.family](backbone.num_layers)
    _write_checkpoint(path, kwargs_to_config(backbone.family, backbone._kwargs), _collect(backbone, entries))


def save_task(task, path):
    """Task -> a BertForPreTraining / BertForSequenceClassification / GPT2LMHeadModel checkpoint directory."""
    family, architecture, heads = _task_spec(type(task))
    backbone = task.backbone
    tensors = _collect(backbone, BACKBONE_MAPS[family](backbone.num_layers), _BASE_PREFIXES[family])
    for entries in heads.values():
        tensors.update(_collect(task, entries))
    config = {**kwargs_to_config(family, backbone._kwargs), "architectures": [architecture]}
    if hasattr(task, "num_classes"):
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(task.num_classes)}
        config["label2id"] = {f"LABEL_{i}": i for i in range(task.num_classes)}
    _write_checkpoint(path, config, tensors)
