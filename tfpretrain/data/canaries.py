"""Canaries for a memorisation audit (Carlini et al. 2019, "The Secret Sharer"): random secrets in a fixed template,
each inserted into the training split a chosen number of times; `tfpretrain audit` later measures their exposure.

    canaries:                       # in configs/data/*.yaml
      count: 4                      # canaries per repetition level (0: off)
      repetitions: [1, 4, 16]
      template: "my secret code is {secret}"

`prepare` inserts them after clean/dedup/scrub (so they are neither scrubbed nor deduplicated away), as documents
of their own in the examples stage, always in the train split, each copy whole inside one training example (GPT-2:
a window starting `<|endoftext|> canary <|endoftext|>`; BERT: the canary is segment A of one NSP pair; see
examples.pack_with_canaries / canary_nsp_examples), and writes
OUT/canaries.json: the audit key, holding the secrets. The tokenizer never sees a secret: WordPiece training gets
the template and every pair of alphabet characters once instead, so secrets tokenize (no [UNK]) without the
tokenizer having learnt merges from any one of them.
"""

import collections
import dataclasses
import functools
import hashlib
import json
import math
import posixpath
import random
import re

from tfpretrain.atomic import write_text
from tfpretrain.config import ConfigError
from tfpretrain.data.formats import get_format
from tfpretrain.errors import UserError

KEY_FILE = "canaries.json"


class CanaryKeyError(UserError):
    """A canaries.json audit key that is missing or malformed."""

FORMAT = "tfpretrain.canaries/1"
PLACEHOLDER = "{secret}"


@dataclasses.dataclass(frozen=True)
class CanaryConfig:
    count: int = 0  # canaries per repetition level; 0: no canaries
    repetitions: list[int] = dataclasses.field(default_factory=lambda: [1, 4, 16])
    template: str = "my secret code is {secret}"
    alphabet: str = "0123456789"
    length: int = 6  # characters per secret
    seed: int = 0
    # Plant each canary's copies as near-duplicates (near_duplicate_copies: a carrier of `carrier_words` common words,
    # one word varied per copy) in the clean stage, before near-dedup, instead of exact repeats after it. Needs a
    # sequence_length that holds a whole copy (~1.3 tokens per carrier word with a tokenizer trained on prose).
    near_duplicates: bool = False
    carrier_words: int = 100

    def __post_init__(self):
        if self.count < 0:
            raise ConfigError("<config>", "count", f"must be >= 0 (0: off), got {self.count}")
        if not self.repetitions or any(r <= 0 for r in self.repetitions):
            raise ConfigError("<config>", "repetitions", f"must be positive counts, got {self.repetitions}")
        if len(set(self.repetitions)) != len(self.repetitions):
            raise ConfigError("<config>", "repetitions", f"has duplicates: {self.repetitions}")
        if self.template.count(PLACEHOLDER) != 1:
            raise ConfigError("<config>", "template", f"must contain {PLACEHOLDER} exactly once: {self.template!r}")
        if len(set(self.alphabet)) != len(self.alphabet) or len(self.alphabet) < 2:
            raise ConfigError("<config>", "alphabet", f"needs at least 2 distinct characters: {self.alphabet!r}")
        if any(ch.isspace() for ch in self.alphabet):
            raise ConfigError("<config>", "alphabet", "must not contain whitespace (it would split a secret)")
        if self.length <= 0:
            raise ConfigError("<config>", "length", f"must be positive, got {self.length}")
        if self.carrier_words < 30:  # below ~30 words one changed word moves Jaccard under any useful threshold
            raise ConfigError("<config>", "carrier_words", f"must be >= 30, got {self.carrier_words}")
        needed = self.count * len(self.repetitions)
        if needed * 100 > self.space_size:  # distinct secrets, and room for the audit's candidates
            raise ConfigError("<config>", "length", f"{len(self.alphabet)}^{self.length} possible secrets are too "
                              f"few for {needed} canaries (the audit needs >= 100 per canary)")

    @property
    def space_size(self):
        """|R|: the number of possible secrets."""
        return len(self.alphabet) ** self.length


def fill(template, secret):
    return template.replace(PLACEHOLDER, secret)


def make_canaries(config):
    """-> [{id, secret, repetitions, text}]: `count` canaries per repetition level, distinct secrets, by seed."""
    rng = random.Random(f"canaries:{config.seed}")
    canaries, seen = [], set()
    for repetitions in config.repetitions:
        for _ in range(config.count):
            secret = "".join(rng.choice(config.alphabet) for _ in range(config.length))
            while secret in seen:
                secret = "".join(rng.choice(config.alphabet) for _ in range(config.length))
            seen.add(secret)
            canary_id = f"canary-{len(canaries):03d}"
            canaries.append({"id": canary_id, "secret": secret, "repetitions": repetitions,
                             "text": fill(config.template, secret)})
    return canaries


@functools.cache
def carrier_vocabulary(size=400):
    """Common English words for carrier passages: the `size` most frequent lowercase words of 3-8 letters in the
    standard library's pydoc_data.topics (offline; fixed for a given Python version), sorted. A tokenizer trained on
    prose spends about 1.2 tokens on each, where a random letter string costs about five."""
    from pydoc_data.topics import topics

    counts = collections.Counter(w for text in topics.values() for w in re.findall(r"\b[a-z]{3,8}\b", text))
    return sorted(w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:size])


def near_duplicate_copies(canary, copies, carrier_words=100, seed=0):
    """`copies` distinct texts that each carry `canary`'s filled template: near-duplicates, not exact repeats.

    Every copy is one carrier passage of `carrier_words` words (carrier_vocabulary(), drawn from the canary's id and
    `seed`) with one word, at one fixed position, different per copy, followed by the canary text. Exact dedup keeps
    all of them; two copies share all but 5 of their word 5-grams (Jaccard (S - 5) / (S + 5) with S the number of
    5-grams: 0.91 at 100 carrier words, 0.88 at 80; a 400-word vocabulary makes a repeated 5-gram across carriers
    rare), so near-dedup at threshold 0.8 keeps one. The way a secret
    scraped from several slightly different pages reaches a corpus.
    """
    rng = random.Random(f"carrier:{seed}:{canary['id']}")
    vocabulary = carrier_vocabulary()
    carrier = [rng.choice(vocabulary) for _ in range(carrier_words)]
    slot = rng.randrange(carrier_words)
    variants = set()
    while len(variants) < copies:
        variants.add(rng.choice(vocabulary))
    texts = []
    for variant in sorted(variants):
        carrier[slot] = variant
        texts.append(" ".join(carrier) + " " + canary["text"])
    return texts


def tokenizer_texts(config):
    """Extra texts for training a WordPiece tokenizer: the template and every alphabet pair once, no secret.

    WordPiece maps a word with an unseen character to [UNK] whole, which would make every secret look alike;
    byte-level BPE has all bytes already, so it needs (and gets) nothing. Part of the tokenizer's fingerprint.
    """
    c = config.canaries
    if not c.count or get_format(config.family).byte_level or config.tokenizer.path:
        return []
    pairs = " ".join(a + b for a in c.alphabet for b in c.alphabet)  # initial and '##' forms of every character
    return [fill(c.template, "").strip(), pairs]


def prepared(config, tokenizer):
    """The canaries for a PrepareConfig, checked to fit whole into one example of `tokenizer` ids ([] when off)."""
    c = config.canaries
    if not c.count:
        return []
    canaries = make_canaries(c)
    spare = get_format(config.family).canary_room  # special tokens around the canary in its example
    texts = [d["text"] for d in documents(canaries, c.seed, c.near_duplicates, c.carrier_words)]
    longest = max(len(tokenizer.encode(text, add_special_tokens=False).ids) for text in texts)
    if longest + spare > config.sequence_length:
        what = "canaries.carrier_words" if c.near_duplicates else "canaries.template"  # what makes it long
        raise ConfigError("<config>", what, f"a canary {'copy ' if c.near_duplicates else ''}is {longest} tokens; "
                          f"with {spare} special tokens it exceeds sequence_length {config.sequence_length}")
    return canaries


def documents(canaries, seed=0, near_duplicates=False, carrier_words=100):
    """Beam records, one per copy, with a content-independent key so copies stay distinct: exact repeats (for the
    examples stage) or near-duplicate copies (near_duplicate_copies, for the clean stage)."""
    records = []
    for canary in canaries:
        reps = canary["repetitions"]
        texts = (near_duplicate_copies(canary, reps, carrier_words, seed) if near_duplicates
                 else [canary["text"]] * reps)
        for copy, text in enumerate(texts):
            key = hashlib.sha256(f"canary\x00{seed}\x00{canary['id']}\x00{copy}".encode()).hexdigest()
            records.append({"key": key, "text": text, "canary": True})
    return records


def write_key(output, config, canaries):
    """Write OUT/canaries.json (the audit key) and return the manifest's entry (no secrets); with canaries off,
    remove a stale key an earlier run left and return {}."""
    import tensorflow as tf

    path = posixpath.join(output, KEY_FILE)
    if not canaries:
        if tf.io.gfile.exists(path):
            tf.io.gfile.remove(path)
        return {}
    c = config.canaries
    key = {
        "format": FORMAT,
        "family": config.family,
        "template": c.template,
        "alphabet": c.alphabet,
        "length": c.length,
        "seed": c.seed,
        "space_size": c.space_size,
        "canaries": [{k: x[k] for k in ("id", "secret", "repetitions")} for x in canaries],
    }
    write_text(path, json.dumps(key, indent=2) + "\n")
    entry = {"file": KEY_FILE, "count": len(canaries), "per_repetition_level": c.count,
             "repetitions": list(c.repetitions), "documents": sum(x["repetitions"] for x in canaries),
             "space_size": c.space_size, "split": "train"}
    return {"canaries": entry}


def read_key(path):
    """Load and check a canaries.json; every problem is one CanaryKeyError naming the file and the key."""
    import tensorflow as tf

    path = str(path)
    if not tf.io.gfile.exists(path):
        raise CanaryKeyError(f"{path}: no canaries file; `tfpretrain prepare` writes OUT/{KEY_FILE} when "
                                "canaries.count > 0")
    try:
        with tf.io.gfile.GFile(path) as f:
            key = json.loads(f.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CanaryKeyError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(key, dict) or key.get("format") != FORMAT:
        raise CanaryKeyError(f"{path}: format is {key.get('format') if isinstance(key, dict) else None!r}, "
                         f"expected {FORMAT!r}")
    for name, kind in (("template", str), ("alphabet", str), ("length", int), ("canaries", list)):
        if not isinstance(key.get(name), kind):
            raise CanaryKeyError(f"{path}: {name}: expected {kind.__name__}, got {key.get(name)!r}")
    if key["template"].count(PLACEHOLDER) != 1:
        raise CanaryKeyError(f"{path}: template: must contain {PLACEHOLDER} exactly once")
    if not key["canaries"]:
        raise CanaryKeyError(f"{path}: canaries: empty")
    for i, canary in enumerate(key["canaries"]):
        secret = canary.get("secret") if isinstance(canary, dict) else None
        if not (isinstance(secret, str) and len(secret) == key["length"] and set(secret) <= set(key["alphabet"])):
            raise CanaryKeyError(f"{path}: canaries[{i}].secret: not {key['length']} characters of the alphabet")
        if not (isinstance(canary.get("repetitions"), int) and isinstance(canary.get("id"), str)):
            raise CanaryKeyError(f"{path}: canaries[{i}]: needs an id (string) and repetitions (integer)")
    key["space_size"] = len(key["alphabet"]) ** key["length"]
    key["max_exposure"] = math.log2(key["space_size"])
    return key
