"""Text in, text out for a GPT-2 run directory (RUN/final + RUN/tokenizer.json) or an HF GPT-2 directory."""

import os


def load_run(run):
    """-> (GPT2CausalLM, tokenizers.Tokenizer, end token id or None)."""
    from tokenizers import Tokenizer

    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    checkpoint = os.path.join(run, "final") if os.path.exists(os.path.join(run, "final", "config.json")) else run
    for candidate in (os.path.join(run, "tokenizer.json"), os.path.join(checkpoint, "tokenizer.json")):
        if os.path.exists(candidate):
            tokenizer = Tokenizer.from_file(candidate)
            break
    else:
        raise FileNotFoundError(f"{run}: no tokenizer.json (a pretraining run keeps one at RUN/tokenizer.json)")
    return GPT2CausalLM.from_pretrained(checkpoint), tokenizer, tokenizer.token_to_id("<|endoftext|>")


def generate_text(run, prompts, *, max_length=64, sampler="random", temperature=0.8, top_k=40, top_p=0.95, seed=0):
    """Prompts (strings) -> generated texts (prompt included), stopping at <|endoftext|>."""
    model, tokenizer, end_id = load_run(run)
    encoded = [tokenizer.encode(p).ids or [end_id if end_id is not None else 0] for p in prompts]
    longest = max(len(ids) for ids in encoded)
    if longest >= max_length:
        raise ValueError(f"a prompt has {longest} tokens; max_length={max_length} leaves no room to generate")
    out = model.generate(encoded, max_length, sampler=sampler, temperature=temperature, top_k=top_k, top_p=top_p,
                         end_token_id=end_id, seed=seed)
    texts = []
    for ids, mask in zip(out["token_ids"], out["padding_mask"]):
        kept = [int(t) for t, m in zip(ids, mask) if m and t != end_id]
        texts.append(tokenizer.decode(kept))
    return texts
