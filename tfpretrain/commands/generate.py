"""`tfpretrain generate`: text in, text out for a GPT-2 run directory (RUN/final + RUN/tokenizer.json) or an HF
GPT-2 directory."""

from tfpretrain import runs
from tfpretrain.commands.arguments import non_negative_int, positive_float, positive_int, probability
from tfpretrain.errors import UserError
from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

END_TOKEN = "<|endoftext|>"


def load_run(run):
    """-> (GPT2CausalLM, tokenizers.Tokenizer, end token id or None); a checkpoint without an LM head is refused."""
    loaded = runs.load(run, GPT2CausalLM, require_heads={"lm": "generation"})
    return loaded.model, loaded.tokenizer, loaded.tokenizer.token_to_id(END_TOKEN)


def generate_text(run, prompts, *, max_length=64, sampler="random", temperature=0.8, top_k=40, top_p=0.95, seed=0):
    """Prompts (strings) -> generated texts (prompt included), stopping at <|endoftext|>."""
    model, tokenizer, end_id = load_run(run)
    if max_length > model.backbone.max_sequence_length:
        raise UserError(f"--max-length {max_length} exceeds the model's max_sequence_length "
                        f"{model.backbone.max_sequence_length} ({run})")
    encoded = [tokenizer.encode(p).ids or [end_id if end_id is not None else 0] for p in prompts]
    longest = max(len(ids) for ids in encoded)
    if longest >= max_length:
        raise UserError(f"a prompt has {longest} tokens; --max-length {max_length} leaves no room to generate")
    out = model.generate(encoded, max_length, sampler=sampler, temperature=temperature, top_k=top_k, top_p=top_p,
                         end_token_id=end_id, seed=seed)
    texts = []
    for ids, mask in zip(out["token_ids"], out["padding_mask"]):
        kept = [int(t) for t, m in zip(ids, mask) if m and t != end_id]
        texts.append(tokenizer.decode(kept))
    return texts


def add_arguments(parser):
    parser.add_argument("--run", required=True, help="a GPT-2 pretraining run directory (or an HF GPT-2 directory)")
    parser.add_argument("--prompt", action="append", required=True, help="prompt text (repeatable)")
    parser.add_argument("--max-length", type=positive_int, default=64, help="total tokens, prompt included")
    parser.add_argument("--sampler", choices=("greedy", "random"), default="random")
    parser.add_argument("--temperature", type=positive_float, default=0.8)
    parser.add_argument("--top-k", type=non_negative_int, default=40, help="0: no top-k cut")
    parser.add_argument("--top-p", type=probability, default=0.95)
    parser.add_argument("--seed", type=int, default=0)


def run(args):
    texts = generate_text(args.run, args.prompt, max_length=args.max_length, sampler=args.sampler,
                          temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    for prompt, text in zip(args.prompt, texts):
        print(f"--- {prompt!r}\n{text}")
    return 0
