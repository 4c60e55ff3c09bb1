"""Near-duplicate removal as a Beam transform: (key, text) -> the same, one document kept per near-duplicate cluster.

    signatures: (key, text) -> (key, MinHash signature)                      data/minhash.py
    bands:      -> ((band, digest of the band's rows), (key, signature))     one shuffle key per band
    verify:     per band bucket, candidate pairs with estimated Jaccard >= threshold -> edges (smaller key, larger key)
    components: the distinct edges, union-find in one DoFn (edges are few: only near-duplicate pairs)
                -> (key, cluster root) for every member but the root, the smallest key of its cluster
    keep:       CoGroupByKey of documents and dropped keys: a document is written unless it was dropped

Memory per worker is bounded by one band bucket (verify) and by the number of near-duplicate edges (components),
not by the corpus. Every choice is by key order, so the kept set does not depend on the runner or on input order.
"""

import apache_beam as beam
import numpy as np

from tfpretrain.data.minhash import DTYPE, Signer, band_keys, estimated_jaccard

# Above this many pairs a bucket is verified against cluster representatives only (greedy, in key order).
MAX_ALL_PAIRS = 2016  # 64 documents


class Signatures(beam.DoFn):
    def __init__(self, config):
        self.config = config

    def setup(self):
        c = self.config
        self.signer = Signer(c.num_perm, c.seed, c.ngram)
        self.bands, self.rows = c.bands_rows

    def process(self, element):
        key, text = element
        signature = self.signer.signature(text)
        payload = (key, signature.tobytes())
        for band_key in band_keys(signature, self.bands, self.rows):
            yield band_key, payload


def verified_edges(element, threshold):
    """((band, digest), [(key, signature bytes)]) -> (key_a, key_b) with key_a < key_b, verified pairs only."""
    _, members = element
    if len(members) < 2:
        return
    members = sorted(members)  # GroupByKey order is not deterministic
    signatures = [np.frombuffer(s, dtype=DTYPE) for _, s in members]
    n = len(members)
    if n * (n - 1) // 2 <= MAX_ALL_PAIRS:
        for i in range(n):
            for j in range(i + 1, n):
                if estimated_jaccard(signatures[i], signatures[j]) >= threshold:
                    yield members[i][0], members[j][0]
        return
    representatives = []
    for i in range(n):
        match = next((r for r in representatives if estimated_jaccard(signatures[r], signatures[i]) >= threshold),
                     None)
        if match is None:
            representatives.append(i)
        else:
            yield members[match][0], members[i][0]


def components(edges):
    """[(key_a, key_b)] -> (member, root) for each non-root member, then ('', stats) of the clusters found.

    Union-find whose root is always the smallest key: the document a cluster keeps.
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
    clusters = len(set(roots.values()))
    yield {"near_duplicate_clusters": clusters, "near_duplicates_removed": len(roots) - clusters}


def _keep(element):
    key, grouped = element
    if not list(grouped["dropped"]):
        for text in grouped["docs"]:
            yield key, text


class NearDedup(beam.PTransform):
    """(key, text) with distinct keys -> (key, text) with one document per near-duplicate cluster.

    `.stats` after application: a PCollection of one {near_duplicate_clusters, near_duplicates_removed} dict.
    """

    def __init__(self, config, label=None):
        super().__init__(label)
        self.config = config
        self.stats = None

    def expand(self, docs):
        found = (
            docs
            | "Signatures" >> beam.ParDo(Signatures(self.config))
            | "GroupBands" >> beam.GroupByKey()
            | "Verify" >> beam.FlatMap(verified_edges, self.config.threshold)
            | "DistinctEdges" >> beam.Distinct()
            | "Edges" >> beam.combiners.ToList()
            | "Components" >> beam.FlatMap(components).with_outputs("dropped", main="stats")
        )
        self.stats = found.stats
        return (
            {"docs": docs, "dropped": found.dropped}
            | "Join" >> beam.CoGroupByKey()
            | "Keep" >> beam.FlatMap(_keep)
        )
