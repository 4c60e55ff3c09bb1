"""The main job, offline on a CPU: real English text -> tokenizers -> pretrain a tiny BERT (MLM + NSP) and a tiny
GPT-2 with the real task models and `model.fit`, then generate text and save every artefact.

Corpus: the Python standard library's `pydoc_data.topics` (about 465 KB of English reference prose), so the demo
needs no network. The full pipeline (Beam shards, fine-tuning, fairness evaluation) plugs in as it lands.
"""

import json
import random
import re
import time
from pathlib import Path

import numpy as np

from tfpretrain.data import features as F
from tfpretrain.data import tokenizer as tok
from tfpretrain.data.examples import nsp_examples, pack_windows, pad_example

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def corpus_documents():
    """-> list of documents, each a list of sentence strings (blank-line paragraphs joined, code lines dropped)."""
    from pydoc_data.topics import topics

    documents = []
    for text in topics.values():
        # Keep prose lines; drop indented code, doctests and grammar/table rows.
        prose = [
            line.strip()
            for line in text.splitlines()
            if line and not line.startswith(("   ", "\t", ">>>")) and not re.search(r"[|+=]{2}|^\s*[|+*]", line)
        ]
        sentences = [s for s in _SENTENCE_END.split(" ".join(prose)) if len(s.split()) >= 3]
        if len(sentences) >= 2:
            documents.append(sentences)
    return documents


def _bert_datasets(documents, tokenizer, sequence_length, batch_size, max_predictions, seed):
    import tensorflow as tf

    from tfpretrain.data.masking import mask_tokens

    vocab = tokenizer.get_vocab()
    encoded = [[enc.ids for enc in tokenizer.encode_batch(doc, add_special_tokens=False)] for doc in documents]
    rng = random.Random(seed)
    examples = []
    for i, doc in enumerate(encoded):
        others = encoded[:i] + encoded[i + 1 :]
        examples += nsp_examples(
            doc, others, max_sequence_length=sequence_length, cls_id=vocab["[CLS]"], sep_id=vocab["[SEP]"], rng=rng
        )
    rng.shuffle(examples)
    padded = [pad_example(e, sequence_length) for e in examples]
    arrays = {k: np.stack([p[k] for p in padded]) for k in padded[0]}
    held_out = len(padded) // 10
    special = [vocab[t] for t in tok.BERT_SPECIAL_TOKENS]
    table = tok.continuation_table(tokenizer)

    def make(split, training):
        ds = tf.data.Dataset.from_tensor_slices(split)
        if training:
            ds = ds.shuffle(4096, seed=seed).repeat()
        ds = ds.batch(batch_size, drop_remainder=True).enumerate()

        def mask(step, batch):  # a fresh, replayable mask for every batch (dynamic masking)
            masked = mask_tokens(
                batch[F.TOKEN_IDS],
                batch[F.PADDING_MASK],
                tf.stack([tf.cast(seed, tf.int64), step]),
                vocabulary_size=len(vocab),
                mask_token_id=vocab["[MASK]"],
                special_token_ids=special,
                max_predictions=max_predictions,
                continuation_table=table,
            )
            return {**batch, **masked}

        return ds.map(mask, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    train = {k: v[held_out:] for k, v in arrays.items()}
    evaluation = {k: v[:held_out] for k, v in arrays.items()}
    return make(train, True), make(evaluation, False), len(padded)


def _fit(model, train, evaluation, steps, learning_rate):
    from tfpretrain.keras import keras

    schedule = keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, end_learning_rate=learning_rate / 10)
    model.compile(optimizer=keras.optimizers.Adam(schedule, global_clipnorm=1.0), jit_compile=True)
    before = model.evaluate(evaluation, verbose=0, return_dict=True)
    history = model.fit(train, steps_per_epoch=max(1, steps // 5), epochs=5, verbose=2).history
    after = model.evaluate(evaluation, verbose=0, return_dict=True)
    return before, after, history


def run(out_dir="runs/demo", bert_steps=600, gpt2_steps=600, batch_size=32, sequence_length=64, seed=0):
    import tensorflow as tf

    from tfpretrain.config import load_model_config
    from tfpretrain.keras import keras
    from tfpretrain.models.bert.bert_backbone import BertBackbone
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer
    from tfpretrain.models.gpt2.gpt2_backbone import GPT2Backbone
    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    keras.utils.set_random_seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    documents = corpus_documents()
    texts = [s for doc in documents for s in doc]
    summary = {"corpus": {"source": "pydoc_data.topics", "documents": len(documents), "sentences": len(texts)}}
    print(f"[demo] corpus: {len(documents)} documents, {len(texts)} sentences from pydoc_data.topics")

    # BERT: WordPiece, NSP pairs, dynamic whole-word masking, MLM + NSP pretraining.
    wordpiece = tok.train_wordpiece(texts, vocabulary_size=2000)
    bert_tokenizer_hash = tok.save_tokenizer(wordpiece, out / "bert" / "tokenizer.json")
    train, evaluation, count = _bert_datasets(documents, wordpiece, sequence_length, batch_size, 10, seed)
    config = load_model_config("bert_tiny")
    kwargs = {
        **config.to_kwargs(),
        "vocabulary_size": wordpiece.get_vocab_size(),
        "max_sequence_length": sequence_length,
    }
    bert = BertPretrainer(BertBackbone(**kwargs))
    print(f"[demo] BERT: {count} NSP examples of {sequence_length} tokens, {bert.count_params():,} parameters")
    before, after, history = _fit(bert, train, evaluation, bert_steps, 1e-3)
    bert.save_weights(str(out / "bert" / "pretrainer.weights.h5"))
    bert.backbone.save(str(out / "bert" / "backbone_savedmodel"))
    summary["bert"] = {
        "examples": count,
        "steps": bert_steps,
        "tokenizer_sha256": bert_tokenizer_hash,
        "held_out_before": before,
        "held_out_after": after,
        "train_loss_first_epoch": history["loss"][0],
        "train_loss_last_epoch": history["loss"][-1],
    }
    print(
        f"[demo] BERT held-out loss {before['loss']:.3f} -> {after['loss']:.3f}, "
        f"MLM accuracy {before['mlm_accuracy']:.3f} -> {after['mlm_accuracy']:.3f}, "
        f"NSP accuracy {before['nsp_accuracy']:.3f} -> {after['nsp_accuracy']:.3f}"
    )

    # GPT-2: byte-level BPE, packed windows, causal LM, then sampling with the KV cache.
    bpe = tok.train_byte_level_bpe(texts, vocabulary_size=2000)
    gpt2_tokenizer_hash = tok.save_tokenizer(bpe, out / "gpt2" / "tokenizer.json")
    end_id = bpe.token_to_id(tok.GPT2_END_TOKEN)
    docs = [[t for enc in bpe.encode_batch(doc) for t in enc.ids] for doc in documents]
    windows, _ = pack_windows(docs, window=sequence_length, end_token_id=end_id)
    np.random.default_rng(seed).shuffle(windows)
    held_out = len(windows) // 10
    as_features = lambda w: {F.TOKEN_IDS: w, F.PADDING_MASK: np.ones_like(w)}  # noqa: E731
    train = (
        tf.data.Dataset.from_tensor_slices(as_features(windows[held_out:]))
        .shuffle(4096, seed=seed)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    evaluation = tf.data.Dataset.from_tensor_slices(as_features(windows[:held_out])).batch(batch_size, True)
    config = load_model_config("gpt2_tiny")
    kwargs = {**config.to_kwargs(), "vocabulary_size": bpe.get_vocab_size(), "max_sequence_length": sequence_length}
    gpt2 = GPT2CausalLM(GPT2Backbone(**kwargs))
    print(f"[demo] GPT-2: {len(windows)} windows of {sequence_length} tokens, {gpt2.count_params():,} parameters")
    before, after, history = _fit(gpt2, train, evaluation, gpt2_steps, 2e-3)
    gpt2.save_weights(str(out / "gpt2" / "causal_lm.weights.h5"))
    prompts = ["The import statement", "A class definition"]
    generated = gpt2.generate(
        [bpe.encode(p).ids for p in prompts],
        max_length=40,
        sampler="random",
        top_k=20,
        top_p=0.95,
        temperature=0.8,
        end_token_id=end_id,
        seed=seed,
    )
    samples = [
        bpe.decode([int(t) for t, m in zip(ids, mask) if m])
        for ids, mask in zip(generated[F.TOKEN_IDS], generated[F.PADDING_MASK])
    ]
    summary["gpt2"] = {
        "windows": len(windows),
        "steps": gpt2_steps,
        "tokenizer_sha256": gpt2_tokenizer_hash,
        "held_out_before": before,
        "held_out_after": after,
        "train_loss_first_epoch": history["loss"][0],
        "train_loss_last_epoch": history["loss"][-1],
        "samples": samples,
    }
    print(
        f"[demo] GPT-2 held-out loss {before['loss']:.3f} -> {after['loss']:.3f}, "
        f"perplexity {before['perplexity']:.1f} -> {after['perplexity']:.1f}"
    )
    for sample in samples:
        print(f"[demo] sample: {sample!r}")

    summary["seconds"] = round(time.time() - started, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"[demo] done in {summary['seconds']} s. Artefacts in {out}/:")
    for path in sorted(p for p in out.rglob("*") if p.is_file() and "variables" not in p.parts):
        print(f"    {path}")
    return summary
