"""Documents with planted near-duplicates at known Jaccard levels, and the exact Jaccard to judge them by.

Shared by tests/data/test_near_dedup.py and benchmarks/near_dedup.py. Exact Jaccard is computed here from plain
word n-gram sets (lower-case ASCII words, so no Unicode canonicalisation is needed), independently of
tfpretrain.data.minhash.
"""

import random


def lexicon(size=5000, seed=0):
    rng = random.Random(f"lexicon:{seed}")
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))))
    return sorted(words)


def ngram_set(words, n):
    if len(words) <= n:
        return {tuple(words)}
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a, b):
    return len(a & b) / len(a | b) if a or b else 1.0


def exact_jaccard(text_a, text_b, n):
    return jaccard(ngram_set(text_a.split(), n), ngram_set(text_b.split(), n))


def random_document(rng, words, length):
    return [rng.choice(words) for _ in range(length)]


def edit_to_jaccard(rng, base, target, n, fresh):
    """Substitute words of `base` at random positions with never-seen words until the n-gram Jaccard with `base`
    reaches `target`, stopping at whichever of the last two steps is nearer to it; returns (edited words, exact
    Jaccard). New words are 12 letters starting `fresh` (letters only, so the PII scrubber leaves them alone),
    longer than any lexicon word."""
    edited, reference = list(base), ngram_set(base, n)
    previous, similarity = (list(edited), 1.0), 1.0
    while similarity > target:
        previous = (list(edited), similarity)
        new_word = fresh + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))
        edited[rng.randrange(len(edited))] = new_word
        similarity = jaccard(reference, ngram_set(edited, n))
    if previous[1] - target < target - similarity and previous[1] < 1.0:
        return previous
    return edited, similarity


def planted_corpus(seed, documents, levels, per_level, length=(150, 250), n=5):
    """`documents` unrelated documents; for each Jaccard level in `levels`, `per_level` of them get one edited copy.

    Returns (texts, pairs): all texts (originals first, then the copies), and one (original index, copy index,
    exact Jaccard, level) per planted pair. Different originals share no n-gram in practice (5000-word lexicon).
    """
    rng = random.Random(f"planted:{seed}")
    words = lexicon(seed=seed)
    originals = [random_document(rng, words, rng.randint(*length)) for _ in range(documents)]
    texts, pairs = [" ".join(d) for d in originals], []
    chosen = iter(rng.sample(range(documents), len(levels) * per_level))
    for level in levels:
        for _ in range(per_level):
            i = next(chosen)
            edited, similarity = edit_to_jaccard(rng, originals[i], level, n, fresh="zz")
            pairs.append((i, len(texts), similarity, level))
            texts.append(" ".join(edited))
    return texts, pairs
