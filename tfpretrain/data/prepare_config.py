"""The `prepare` config (configs/data/*.yaml): which corpus, how to clean it, which tokenizer, which examples.

Loaded strictly like every other config (config.load_dataclass): an unknown key, a wrong type or a bad value is
one ConfigError naming the file and the dotted key.
"""

import dataclasses
from typing import Any, Literal

from tfpretrain.config import ConfigError, apply_overrides, load_dataclass, load_yaml, with_defaults
from tfpretrain.data.canaries import CanaryConfig
from tfpretrain.data.formats import FAMILIES, get_format
from tfpretrain.data.minhash import NearDedupConfig
from tfpretrain.data.pii import DEFAULT_PHONE_REGIONS, Scrubber, ScrubberError
from tfpretrain.data.quality import QualityConfig


@dataclasses.dataclass(frozen=True)
class TokenizerConfig:
    # An existing vocab.txt (WordPiece) or tokenizer.json to load instead of training one, e.g. MiniLM's vocab.txt.
    path: str | None = None
    vocabulary_size: int = 30522
    lowercase: bool = True  # WordPiece only
    min_frequency: int = 2
    # Train on a deterministic hash sample of about this many documents (0: the whole cleaned corpus).
    sample_documents: int = 0


@dataclasses.dataclass(frozen=True)
class PrivacyConfig:
    scrub: bool = True
    urls: bool = False  # URLs are often useful text; scrub them only when asked
    # Default: every type but url. Types (tfpretrain.data.pii.PII_TYPES): email, phone, ip_address, credit_card, ssn,
    # iban, url, national_id (15 countries), mac_address, date_of_birth (only after a marker such as "born on").
    types: list[str] | None = None
    # Countries (ISO 3166) whose national phone formats are recognised; numbers with +CC / 00CC always are.
    phone_regions: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_PHONE_REGIONS))

    def __post_init__(self):
        try:
            Scrubber(types=self.types, urls=self.urls, phone_regions=self.phone_regions)
        except ScrubberError as e:
            raise ConfigError("<config>", "phone_regions" if "region" in str(e) else "types", str(e)) from None


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    family: str  # the model family the corpus is for: one of tfpretrain.data.formats.FAMILIES
    sources: list[Any]  # strings or mappings, parsed by tfpretrain.data.sources.parse_source
    output: str
    sequence_length: int = 128
    num_shards: int = 8
    validation_shards: int = 1
    validation_fraction: float = 0.0  # of documents, chosen by content hash (stable across re-runs)
    compression: Literal["", "GZIP"] = ""
    seed: int = 0
    min_document_chars: int = 20
    dedup: bool = True
    # MinHash LSH near-duplicate removal after exact dedup (data/near_dedup.py); on in the shipped configs
    near_dedup: NearDedupConfig = dataclasses.field(default_factory=NearDedupConfig)
    short_seq_prob: float = 0.1  # NSP pairs (bert): fraction of pairs built to a random shorter length
    documents_per_bucket: int = 2000  # BERT random next segments / GPT-2 packing happen within a bucket
    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    privacy: PrivacyConfig = dataclasses.field(default_factory=PrivacyConfig)
    quality: QualityConfig = dataclasses.field(default_factory=QualityConfig)  # language, Gopher, C4 filters
    canaries: CanaryConfig = dataclasses.field(default_factory=CanaryConfig)  # memorisation audit; off by default

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ConfigError("<config>", "family", f"{self.family!r} is not one of {list(FAMILIES)}")
        positive = ("sequence_length", "num_shards", "validation_shards", "documents_per_bucket")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError("<config>", name, f"must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError("<config>", "validation_fraction", f"must be in [0, 1), got {self.validation_fraction}")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ConfigError("<config>", "short_seq_prob", f"must be in [0, 1], got {self.short_seq_prob}")
        if self.sequence_length < self.format.min_sequence_length:
            raise ConfigError("<config>", "sequence_length", f"a {self.family} example needs at least "
                              f"{self.format.min_sequence_length} tokens, got {self.sequence_length}")
        if not self.sources:
            raise ConfigError("<config>", "sources", "no sources given")

    @property
    def format(self):
        """The family's CorpusFormat (tokenizer kind, special tokens, record schema, example building)."""
        return get_format(self.family)


def load_prepare_config(path=None, overrides=(), *, inputs=None, output=None, data=None):
    """configs/data/<name>.yaml (+ dotted overrides, + --input/--output) -> PrepareConfig.

    `inputs` (a list of source specs) replaces the config's sources and `output` its output directory, so a config
    can be reused on a user's own files. `data` gives the mapping directly (Python API) instead of a file.
    """
    source = str(path) if path is not None else "<prepare config>"
    mapping = load_yaml(path) if path is not None else dict(data or {})
    mapping = apply_overrides(with_defaults(PrepareConfig, mapping), overrides, source)
    if inputs:
        mapping["sources"] = list(inputs)
    if output:
        mapping["output"] = str(output)
    return load_dataclass(PrepareConfig, mapping, source)
