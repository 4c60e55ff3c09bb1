"""Canaries for the memorisation audit: deterministic distinct secrets, strict config, and `prepare` planting each
copy whole in the train split only, after scrubbing and dedup, with a key file, a manifest entry and stable reuse."""

import json
import random
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tests.support.corpus import IN_MEMORY, corpus_config, read_records, write_corpus
from tfpretrain.config import ConfigError
from tfpretrain.data import canaries as C
from tfpretrain.data import features as F
from tfpretrain.data.examples import canary_nsp_examples, pack_windows, pack_with_canaries
from tfpretrain.data.formats import get_format
from tfpretrain.data.manifest import read_manifest, shard_paths
from tfpretrain.data.pii import Scrubber
from tfpretrain.data.prepare import prepare
from tfpretrain.data.prepare_config import load_prepare_config
from tfpretrain.errors import UserError

# Each canary is an e-mail address: the scrubber would replace it, had the canaries been inserted earlier.
CANARIES = {"count": 2, "repetitions": [1, 5], "template": "mail {secret}@ex.io", "length": 9}


def _prepare_config(**canaries):
    data = {"family": "gpt2", "sources": ["x.txt"], "output": "o", "canaries": canaries}
    return load_prepare_config(data=data)


def test_make_canaries_is_deterministic_distinct_and_in_the_space():
    config = C.CanaryConfig(count=5, repetitions=[1, 4, 16], template="my code is {secret}.", alphabet="abc", length=7)
    canaries = C.make_canaries(config)
    assert canaries == C.make_canaries(config)
    assert [c["repetitions"] for c in canaries] == [1] * 5 + [4] * 5 + [16] * 5
    assert len({c["id"] for c in canaries}) == len({c["secret"] for c in canaries}) == 15
    for c in canaries:
        assert len(c["secret"]) == 7 and set(c["secret"]) <= set("abc")
        assert c["text"] == f"my code is {c['secret']}."
    other = C.make_canaries(C.CanaryConfig(count=5, repetitions=[1, 4, 16], alphabet="abc", length=7, seed=1))
    assert [c["secret"] for c in other] != [c["secret"] for c in canaries]
    # A crowded space (100 canaries in 2^14) still yields distinct secrets.
    crowded = C.make_canaries(C.CanaryConfig(count=50, repetitions=[1, 2], alphabet="01", length=14))
    assert len({c["secret"] for c in crowded}) == 100
    assert C.make_canaries(C.CanaryConfig()) == []  # count 0: off


@pytest.mark.parametrize(
    "canaries, key",
    [
        ({"template": "no placeholder"}, "canaries.template"),
        ({"template": "{secret} and {secret}"}, "canaries.template"),
        ({"alphabet": "aab"}, "canaries.alphabet"),
        ({"alphabet": "a b"}, "canaries.alphabet"),
        ({"count": -1}, "canaries.count"),
        ({"repetitions": []}, "canaries.repetitions"),
        ({"repetitions": [1, 0]}, "canaries.repetitions"),
        ({"repetitions": [4, 4]}, "canaries.repetitions"),
        ({"length": 0}, "canaries.length"),
        ({"count": 3, "alphabet": "01", "length": 8}, "canaries.length"),  # 256 secrets for 9 canaries
        ({"secret_length": 8}, "canaries.secret_length"),
        ({"count": "2"}, "canaries.count"),
    ],
)
def test_config_errors_name_the_key(canaries, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _prepare_config(**canaries)


def test_config_defaults_and_dotted_overrides():
    assert _prepare_config().canaries == C.CanaryConfig()
    data = {"family": "bert", "sources": ["x.txt"], "output": "o"}
    config = load_prepare_config(data=data, overrides=["canaries.count=3", "canaries.repetitions=[2, 8]"])
    assert config.canaries.count == 3 and config.canaries.repetitions == [2, 8]


def test_pack_with_canaries_keeps_each_canary_whole_at_a_window_start():
    rng = random.Random(0)
    documents = [[rng.randrange(5, 50) for _ in range(rng.randint(3, 20))] for _ in range(30)]
    canaries = [[100 + i, 200 + i, 300 + i] for i in range(6)]
    windows, dropped = pack_with_canaries(documents, canaries, window=16, end_token_id=0)
    heads = [tuple(w[:5]) for w in windows if w[1] >= 100]
    assert sorted(heads) == [(0, *c, 0) for c in canaries]
    assert not any(set(w[5:].tolist()) & {t for c in canaries for t in c} for w in windows)
    # Outside the canary heads the corpus stream runs on, in order, as plain packing would cut it.
    rest = [t for w in windows for t in (w[5:] if w[1] >= 100 else w)]
    stream = [t for doc in documents for t in (*doc, 0)]
    assert rest == stream[: len(rest)] and dropped == len(stream) - len(rest) < 16
    positions = [i for i, w in enumerate(windows) if w[1] >= 100]
    assert positions[-1] - positions[0] > len(windows) // 2  # spread among the corpus windows, not bunched
    plain, plain_dropped = pack_with_canaries(documents, [], window=16, end_token_id=0)
    expected, expected_dropped = pack_windows(documents, window=16, end_token_id=0)
    assert np.array_equal(plain, expected) and plain_dropped == expected_dropped
    # A stream too short to fill the canary windows: end tokens fill them.
    short, _ = pack_with_canaries([[7, 8]], canaries[:2], window=8, end_token_id=0)
    assert short.tolist() == [[0, 100, 200, 300, 0, 7, 8, 0], [0, 101, 201, 301, 0, 0, 0, 0]]


def test_bert_canaries_need_a_corpus_document_in_their_bucket():
    examples = canary_nsp_examples([[9, 9, 9]], [[[5, 6, 7]]], max_sequence_length=16, cls_id=2, sep_id=3,
                               rng=random.Random(0), short_seq_prob=0.0)
    assert len(examples) == 1 and examples[0][F.TOKEN_IDS][:5] == [2, 9, 9, 9, 3]
    with pytest.raises(ConfigError, match="canaries.count"):
        canary_nsp_examples([[9, 9]], [], max_sequence_length=16, cls_id=2, sep_id=3, rng=random.Random(0),
                        short_seq_prob=0.0)


# ------------------------------------------------------------------------------------------ prepare end to end


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("canary_corpus"))


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):
    out = {}
    for family in ("gpt2", "bert"):
        out[family] = tmp_path_factory.mktemp(family)
        prepare(corpus_config(family, corpus, out[family], canaries=CANARIES), IN_MEMORY)
    return out


def _rows(directory, split):
    manifest = read_manifest(directory)
    spec = {k: tf.io.FixedLenFeature(s, tf.int64) for k, s in get_format(manifest["family"]).record_spec(32).items()}
    return [tf.io.parse_single_example(r, spec)[F.TOKEN_IDS].numpy().tolist()
            for path in shard_paths(manifest, split) for r in read_records(path)]


def _occurrences(rows, ids):
    return sum(row[i : i + len(ids)] == ids for row in rows for i in range(len(row) - len(ids) + 1))


def _tokenizer(directory):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(directory / "tokenizer.json"))


@pytest.mark.parametrize("family", ["gpt2", "bert"])
def test_prepare_plants_every_copy_whole_in_train_only(family, prepared):
    directory = prepared[family]
    key = json.loads((directory / C.KEY_FILE).read_text())
    expected = C.make_canaries(C.CanaryConfig(**CANARIES))
    assert key["canaries"] == [{k: c[k] for k in ("id", "secret", "repetitions")} for c in expected]
    assert key["template"] == CANARIES["template"] and key["length"] == 9 and key["alphabet"] == "0123456789"
    manifest = read_manifest(directory)
    assert manifest["canaries"] == {"file": "canaries.json", "count": 4, "per_repetition_level": 2,
                                    "repetitions": [1, 5], "documents": 12, "space_size": 10**9, "split": "train"}
    text = (directory / "manifest.json").read_text()
    assert not any(c["secret"] in text for c in expected)  # the manifest names the key file, not the secrets
    assert (directory / C.KEY_FILE).stat().st_mtime <= (directory / "manifest.json").stat().st_mtime
    assert manifest["pii"] == {"email": 4}  # canaries are not counted (or changed) by the scrubber

    tokenizer = _tokenizer(directory)
    train, validation = _rows(directory, "train"), _rows(directory, "validation")
    assert validation and train
    unk = tokenizer.token_to_id("[UNK]")
    for canary in expected:
        assert Scrubber().scrub(canary["text"])[0] != canary["text"]  # would have been scrubbed, had it been earlier
        ids = tokenizer.encode(canary["text"], add_special_tokens=False).ids
        assert unk not in ids  # WordPiece learnt the template and alphabet characters
        whole = [0, *ids, 0] if family == "gpt2" else [2, *ids, 3]  # <end> c <end> / [CLS] c [SEP]
        assert _occurrences(train, whole) == _occurrences(train, ids) == canary["repetitions"]  # not deduplicated
        assert _occurrences(validation, ids) == 0


def test_rerun_reuses_the_tokenizer_and_replants_consistently(corpus, prepared, tmp_path):
    """Same config: byte-identical output. New canary seed: tokenizer reused, new secrets replace the old ones.
    Canaries off: the key file goes, and WordPiece (trained with the canary alphabet) is retrained."""
    out = tmp_path / "again"
    shutil.copytree(prepared["bert"], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    manifest = prepare(corpus_config("bert", corpus, out, canaries=CANARIES), IN_MEMORY)
    assert manifest["tokenizer"]["reused"] is True
    timed = ("manifest.json", "data_card.md")  # both say how long the run took
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.name not in timed}
    assert after == {k: v for k, v in before.items() if k not in timed}

    old = C.make_canaries(C.CanaryConfig(**CANARIES))
    manifest = prepare(corpus_config("bert", corpus, out, canaries={**CANARIES, "seed": 7}), IN_MEMORY)
    assert manifest["tokenizer"]["reused"] is True
    new = json.loads((out / C.KEY_FILE).read_text())["canaries"]
    assert [c["secret"] for c in new] == [c["secret"] for c in C.make_canaries(C.CanaryConfig(**CANARIES, seed=7))]
    tokenizer, train = _tokenizer(out), _rows(out, "train")
    for canary, replaced in zip(new, old):
        template = CANARIES["template"]
        assert _occurrences(train, tokenizer.encode(C.fill(template, canary["secret"])).ids[1:-1]) == \
            canary["repetitions"]
        assert _occurrences(train, tokenizer.encode(C.fill(template, replaced["secret"])).ids[1:-1]) == 0

    manifest = prepare(corpus_config("bert", corpus, out), IN_MEMORY)
    assert "canaries" not in manifest and not (out / C.KEY_FILE).exists()
    assert "reused" not in manifest["tokenizer"]


def test_a_canary_longer_than_an_example_is_refused(corpus, prepared, tmp_path):
    """`prepare` checks this with the tokenizer, before the examples stage."""
    tokenizer = _tokenizer(prepared["gpt2"])
    assert len(C.prepared(corpus_config("gpt2", corpus, tmp_path, canaries=CANARIES), tokenizer)) == 4
    long = {**CANARIES, "template": "the code " * 12 + "{secret}"}
    with pytest.raises(ConfigError, match=r"canaries\.template.*sequence_length 32"):
        C.prepared(corpus_config("gpt2", corpus, tmp_path, canaries=long), tokenizer)
    assert C.prepared(corpus_config("gpt2", corpus, tmp_path), tokenizer) == []


def test_read_key_names_the_problem(prepared, tmp_path):
    key = C.read_key(prepared["gpt2"] / C.KEY_FILE)
    assert key["space_size"] == 10**9 and key["max_exposure"] == pytest.approx(9 * np.log2(10))
    with pytest.raises(C.CanaryKeyError, match="canaries.count"):
        C.read_key(tmp_path / "missing.json")
    assert issubclass(C.CanaryKeyError, UserError)
    data = json.loads((prepared["gpt2"] / C.KEY_FILE).read_text())
    for change, match in (({"format": "x"}, "format"), ({"template": "no slot"}, "template"),
                          ({"canaries": []}, "canaries: empty"), ({"length": 5}, r"canaries\[0\]\.secret")):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({**data, **change}))
        with pytest.raises(C.CanaryKeyError, match=match):
            C.read_key(path)
