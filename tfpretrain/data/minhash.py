"""MinHash signatures of word n-gram shingles and LSH banding, for near-duplicate removal in `prepare`.

    near_dedup:            # in configs/data/*.yaml
      enabled: true
      threshold: 0.8       # documents whose shingle sets have (estimated) Jaccard >= this are near-duplicates
      num_perm: 256        # MinHash permutations: the estimate's standard error is sqrt(J (1 - J) / num_perm)
      ngram: 5             # words per shingle
      seed: 1              # of the permutations: the same seed gives the same signatures on every worker

Hashing is datasketch's MinHash (its seeded permutations and 32-bit SHA-1 shingle hashes, vectorised by
update_batch). Documents whose signatures agree on all `rows` values of any of `bands` bands become candidate pairs
(probability 1 - (1 - J^rows)^bands); a candidate pair is kept as an edge only if the estimated Jaccard (the
fraction of equal signature values) reaches the threshold. The Beam side is in data/near_dedup.py.
"""

import dataclasses
import hashlib
import unicodedata

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from tfpretrain.config import ConfigError

# Bands are chosen with datasketch's integral of the S-curve; a candidate pair is verified afterwards, so a false
# positive costs one comparison while a false negative loses a duplicate: weigh misses 9x.
FALSE_POSITIVE_WEIGHT, FALSE_NEGATIVE_WEIGHT = 0.1, 0.9
# datasketch's default permutation scheme since 2.0 (32-bit affine permutations of 32-bit SHA-1 shingle hashes);
# named explicitly so that a datasketch upgrade cannot silently change the signatures (and the kept documents).
SCHEME, DTYPE = "affine32", np.uint32


@dataclasses.dataclass(frozen=True)
class NearDedupConfig:
    enabled: bool = False  # the shipped configs/data/*.yaml turn it on
    threshold: float = 0.8
    num_perm: int = 256
    ngram: int = 5
    seed: int = 1

    def __post_init__(self):
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError("<config>", "threshold", f"must be in (0, 1), got {self.threshold}")
        if not 2 <= self.num_perm <= 1024:
            raise ConfigError("<config>", "num_perm", f"must be in [2, 1024], got {self.num_perm}")
        if self.ngram <= 0:
            raise ConfigError("<config>", "ngram", f"must be positive, got {self.ngram}")
        if self.seed < 0:
            raise ConfigError("<config>", "seed", f"must be >= 0, got {self.seed}")

    @property
    def bands_rows(self):
        """(bands, rows) with bands * rows <= num_perm, from datasketch's optimal-parameter search."""
        return lsh_params(self.threshold, self.num_perm)

    def settings(self):
        """The manifest's record of the settings (stages.near_dedup)."""
        bands, rows = self.bands_rows
        return {"threshold": self.threshold, "num_perm": self.num_perm, "bands": bands, "rows": rows,
                "ngram": self.ngram}


def lsh_params(threshold, num_perm):
    bands, rows = _optimal_param(threshold, num_perm, FALSE_POSITIVE_WEIGHT, FALSE_NEGATIVE_WEIGHT)
    return int(bands), int(rows)


def candidate_probability(jaccard, bands, rows):
    """The S-curve: the chance that two documents of Jaccard `jaccard` share at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


def shingles(text, ngram):
    """The set of word n-grams (UTF-8 bytes) of `text` under NFKC, casefolding and collapsed whitespace (the
    canonical form exact dedup hashes); a text of fewer than `ngram` words is one shingle."""
    words = unicodedata.normalize("NFKC", text).casefold().split()
    if len(words) <= ngram:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + ngram]).encode() for i in range(len(words) - ngram + 1)}


class Signer:
    """text -> MinHash signature (DTYPE[num_perm]); the permutations are drawn once per worker."""

    def __init__(self, num_perm, seed, ngram):
        self.num_perm, self.seed, self.ngram = num_perm, seed, ngram
        self.permutations = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations

    def signature(self, text):
        m = MinHash(num_perm=self.num_perm, seed=self.seed, permutations=self.permutations, scheme=SCHEME)
        m.update_batch(sorted(shingles(text, self.ngram)))
        return m.hashvalues.astype(DTYPE, copy=False)  # [num_perm]


def estimated_jaccard(a, b):
    """The MinHash estimate: the fraction of permutations whose minimum agrees."""
    return float(np.count_nonzero(a == b)) / len(a)


def band_keys(signature, bands, rows):
    """[(band, 16-byte digest of the band's `rows` values)]: documents sharing one are candidate pairs."""
    return [(band, hashlib.blake2b(signature[band * rows : (band + 1) * rows].tobytes(), digest_size=16).digest())
            for band in range(bands)]
