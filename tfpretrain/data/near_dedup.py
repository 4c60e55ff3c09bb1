"""Near-duplicate removal as a Beam transform: (key, text) -> the same, one document kept per near-duplicate cluster.

    signatures: (key, text) -> (key, MinHash signature)                       data/minhash.py
    bands:      -> ((band, digest of the band's rows), key)                   one shuffle key per band
    candidates: per band bucket, the pairs (smaller key, larger key) sharing it; distinct over all bands
    verify:     two joins bring both signatures to each candidate pair; kept if estimated Jaccard >= threshold
    components: the verified edges, union-find in one DoFn (edges are few: only near-duplicate pairs)
                -> (key, cluster root) for every member but the root, the smallest key of its cluster
    keep:       CoGroupByKey of documents and dropped keys: a document is written unless it was dropped

Signatures travel only to the verification joins (twice per document, plus once per candidate pair), not once
per band. Memory per worker is bounded by one band bucket and by the number of edges, not by the corpus. Every
choice is by key order, so the kept set does not depend on the runner or on input order.
"""

import apache_beam as beam
import numpy as np

from tfpretrain.data.minhash import DTYPE, Signer, band_keys, estimated_jaccard

# A band bucket with more members than this gives the pairs (smallest key, other) only, not every pair.
MAX_ALL_PAIRS_MEMBERS = 64


class Signatures(beam.DoFn):
    def __init__(self, config):
        self.config = config

    def setup(self):
        c = self.config
        self.signer = Signer(c.num_perm, c.seed, c.ngram)

    def process(self, element):
        key, text = element
        yield key, self.signer.signature(text).tobytes()


def _band_entries(element, bands, rows):
    key, signature = element
    for band_key in band_keys(np.frombuffer(signature, dtype=DTYPE), bands, rows):
        yield band_key, key


def candidate_pairs(element):
    """((band, digest), [key]) -> (key_a, key_b), key_a < key_b: every pair, or a star around the smallest key."""
    _, keys = element
    keys = sorted(set(keys))  # GroupByKey order is not deterministic
    if len(keys) > MAX_ALL_PAIRS_MEMBERS:
        yield from ((keys[0], other) for other in keys[1:])
        return
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            yield a, b


def _with_first_signature(element):
    """(key_a, {signature: [bytes], pairs: [key_b]}) -> (key_b, (key_a, signature of a))."""
    key_a, grouped = element
    signature = next(iter(grouped["signature"]), None)
    for key_b in grouped["pairs"] if signature is not None else ():
        yield key_b, (key_a, signature)


def _verified(element, threshold):
    """(key_b, {signature: [bytes], pairs: [(key_a, signature of a)]}) -> (key_a, key_b) when similar enough."""
    key_b, grouped = element
    signature = next(iter(grouped["signature"]), None)
    if signature is None:
        return
    b = np.frombuffer(signature, dtype=DTYPE)
    for key_a, signature_a in grouped["pairs"]:
        if estimated_jaccard(np.frombuffer(signature_a, dtype=DTYPE), b) >= threshold:
            yield key_a, key_b


def components(edges, planted=frozenset()):
    """[(key_a, key_b)] -> (member, root) for each non-root member, then ('', stats) of the clusters found.

    Union-find whose root is always the smallest key: the document a cluster keeps. The stats count corpus
    documents only: keys in `planted` (canary copies) are removed like any other but neither counted as removed
    nor make a cluster of their own.
    """
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in sorted(edges):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = {member: find(member) for member in parent}
    for member, root in sorted(roots.items()):
        if member != root:
            yield beam.pvalue.TaggedOutput("dropped", (member, root))
    clusters = {root for member, root in roots.items() if member not in planted}
    removed = sum(member != root and member not in planted for member, root in roots.items())
    yield {"near_duplicate_clusters": len(clusters), "near_duplicates_removed": removed}


def _keep(element):
    key, grouped = element
    if not list(grouped["dropped"]):
        for text in grouped["docs"]:
            yield key, text


class NearDedup(beam.PTransform):
    """(key, text) with distinct keys -> (key, text) with one document per near-duplicate cluster.

    `.stats` after application: a PCollection of one {near_duplicate_clusters, near_duplicates_removed} dict,
    counting corpus documents (keys not in `planted`, the canary copies) only.
    """

    def __init__(self, config, planted=frozenset(), label=None):
        super().__init__(label)
        self.config, self.planted = config, frozenset(planted)
        self.stats = None

    def expand(self, docs):
        bands, rows = self.config.bands_rows
        signatures = docs | "Signatures" >> beam.ParDo(Signatures(self.config))
        candidates = (
            signatures
            | "Bands" >> beam.FlatMap(_band_entries, bands, rows)
            | "GroupBands" >> beam.GroupByKey()
            | "Candidates" >> beam.FlatMap(candidate_pairs)
            | "DistinctCandidates" >> beam.Distinct()
        )
        with_a = (
            {"signature": signatures, "pairs": candidates}
            | "JoinFirst" >> beam.CoGroupByKey()
            | "FirstSignature" >> beam.FlatMap(_with_first_signature)
        )
        found = (
            {"signature": signatures, "pairs": with_a}
            | "JoinSecond" >> beam.CoGroupByKey()
            | "Verify" >> beam.FlatMap(_verified, self.config.threshold)
            | "Edges" >> beam.combiners.ToList()
            | "Components" >> beam.FlatMap(components, self.planted).with_outputs("dropped", main="stats")
        )
        self.stats = found.stats
        return (
            {"docs": docs, "dropped": found.dropped}
            | "Join" >> beam.CoGroupByKey()
            | "Keep" >> beam.FlatMap(_keep)
        )
