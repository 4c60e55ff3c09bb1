"""GPT-2 <-> transformers' GPT2Model / GPT2LMHeadModel checkpoints (Conv1D weights are already [in, out])."""

import numpy as np

from tfpretrain.checkpoints.hf.convert import REQUIRED, Converter
from tfpretrain.checkpoints.hf.name_map import ROWS, SAME, Head, TaskSpec, dense, norm
from tfpretrain.errors import UserError
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

CONFIG_MAP = (
    ("vocabulary_size", "vocab_size", REQUIRED),
    ("num_layers", "n_layer", REQUIRED),
    ("num_heads", "n_head", REQUIRED),
    ("hidden_dim", "n_embd", REQUIRED),
    ("intermediate_dim", "n_inner", lambda kwargs: 4 * kwargs["hidden_dim"]),  # null in GPT-2's own configs
    ("max_sequence_length", "n_positions", 1024),
    ("dropout", "resid_pdrop", 0.1),
    ("activation", "activation_function", "gelu_new"),
    ("layer_norm_epsilon", "layer_norm_epsilon", 1e-5),
    ("initializer_range", "initializer_range", 0.02),
)


def backbone_map(num_layers):
    entries = [
        ("token_embedding.embeddings", "wte.weight", ROWS),  # [V, H]
        ("position_embedding.position_embeddings", "wpe.weight", SAME),  # [P, H]
    ]
    for i in range(num_layers):
        ours, hf = f"transformer_layer_{i}", f"h.{i}"
        entries += [
            *norm(f"{ours}.attention_norm", f"{hf}.ln_1"),
            *dense(f"{ours}.attention.qkv_dense", f"{hf}.attn.c_attn", kernel=SAME),  # [H, 3H], q | k | v
            *dense(f"{ours}.attention.output_dense", f"{hf}.attn.c_proj", kernel=SAME),  # [H, H]
            *norm(f"{ours}.ffn_norm", f"{hf}.ln_2"),
            *dense(f"{ours}.intermediate_dense", f"{hf}.mlp.c_fc", kernel=SAME),  # [H, I]
            *dense(f"{ours}.output_dense", f"{hf}.mlp.c_proj", kernel=SAME),  # [I, H]
        ]
    return entries + norm("final_norm", "ln_f")


def _lm_head_present(config, tensors, file):
    """Our output projection is the token embedding (tied), as in GPT-2's own checkpoints: the head is there
    unless config.json unties it. An untied lm_head.weight loads only when it equals wte (tied after all)."""
    if config.get("tie_word_embeddings", True):
        return True
    if "lm_head.weight" not in tensors:
        return False
    if not np.array_equal(tensors["lm_head.weight"], tensors.get("wte.weight")):
        raise UserError(f"{file}: lm_head.weight differs from wte.weight (tie_word_embeddings=false); GPT2CausalLM "
                        "ties its output projection to the token embedding and cannot load an untied head")
    return True


LM = Head("lm", "LM head", "lm_head.weight, untied from wte by tie_word_embeddings=false", "a language-model head",
          "a GPT2LMHeadModel checkpoint", present=_lm_head_present)

CONVERTER = Converter(
    family="gpt2",
    base_prefix="transformer.",
    backbone_architecture="GPT2Model",
    config_map=CONFIG_MAP,
    unsupported=(("scale_attn_by_inverse_layer_idx", False), ("scale_attn_weights", True),
                 ("add_cross_attention", False)),
    backbone_map=backbone_map,
    tasks={GPT2CausalLM: TaskSpec("GPT2LMHeadModel", (LM,))},
    tied_config=lambda kwargs: {"attn_pdrop": kwargs["dropout"], "embd_pdrop": kwargs["dropout"]},
)
