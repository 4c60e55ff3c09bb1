"""Canary exposure: the rank and skew-normal exposure math on fake scores, and the audit end to end - a tiny GPT-2
trained on a prepared corpus with canaries inserted 1x and 32x exposes the 32x ones far more; a BERT smoke run."""

import json
import math
import os

import numpy as np
import pytest
from scipy import stats

from tfpretrain.data import canaries as C
from tfpretrain.evaluation import memorization as M
from tfpretrain.reporting.sections.exposure import exposure_section

STEPS = 100
SEQUENCE = 80  # holds a 40-word near-duplicate canary copy (~67 tokens) with a 2,000-token BPE of the demo corpus


def test_rank_counts_ties_against_the_secret_and_rank_exposure_is_carlinis_when_exhaustive():
    candidates = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert M.rank_of(3.5, candidates) == 3
    assert M.rank_of(3.0, candidates) == 4  # a tie counts as scoring at least as well
    assert M.rank_of(3.0 + 1e-12, candidates) == 4  # within the float tolerance
    assert M.rank_of(9.0, candidates) == 1 and M.rank_of(0.0, candidates) == 6
    assert M.rank_of(1.0, np.full(7, 1.0)) == 8  # a model that cannot tell secrets apart: last place
    # All of R scored (N = |R| - 1): exposure = log2|R| - log2 rank exactly.
    for rank in (1, 2, 7, 64):
        assert M.rank_exposure(rank, 63, 64) == pytest.approx(6 - math.log2(rank))
    # Sampled: rank / (N + 1) of R, clamped to [1, |R|].
    assert M.rank_exposure(1, 999, 10**6) == pytest.approx(math.log2(1000))
    assert M.rank_exposure(1000, 999, 10**6) == 0.0
    assert M.rank_exposure(1, 10**7, 10**6) == pytest.approx(math.log2(10**6))


def test_skew_normal_extrapolation_agrees_with_rank_exposure_when_candidates_suffice():
    rng = np.random.default_rng(0)
    scores = stats.skewnorm.rvs(-4.0, loc=-20.0, scale=6.0, size=20000, random_state=rng)
    fit = M.fit_skewnorm(scores)
    assert fit[0] == pytest.approx(-4.0, rel=0.25) and fit[2] == pytest.approx(6.0, rel=0.1)
    size = 10**9
    ordered = np.sort(scores)[::-1]
    for rank in (30, 100, 300, 3000):  # a secret just above the rank-th best candidate
        secret = (ordered[rank - 1] + ordered[rank - 2]) / 2
        by_rank = M.rank_exposure(M.rank_of(secret, scores), len(scores), size)
        extrapolated = M.extrapolated_exposure(secret, fit, scores, size)
        assert abs(extrapolated - by_rank) < 0.3, (rank, by_rank, extrapolated)
    # Beyond every candidate, where rank exposure stops at log2(N + 1), the extrapolation still tracks the truth.
    for bits in (20.0, 25.0):
        secret = stats.skewnorm.isf(2.0**-bits, -4.0, loc=-20.0, scale=6.0)
        assert secret > ordered[0] and M.extrapolated_exposure(secret, fit, scores, size) == pytest.approx(bits, abs=1)
    assert M.extrapolated_exposure(1e6, fit, scores, size) == math.log2(size)
    assert M.extrapolated_exposure(-1e6, fit, scores, size) == 0.0
    # Constant candidate scores: no distribution to fit; beating them all is full exposure, a tie is none.
    assert M.fit_skewnorm(np.full(50, -3.0)) is None
    assert M.extrapolated_exposure(-2.0, None, np.full(50, -3.0), 1024) == 10.0
    assert M.extrapolated_exposure(-3.0, None, np.full(50, -3.0), 1024) == 0.0


def test_candidate_secrets_are_distinct_deterministic_and_exclude_the_canaries():
    exclude = ["0000", "1234"]
    drawn, exhaustive = M.candidate_secrets("0123456789", 4, 500, exclude, seed=3)
    assert not exhaustive and len(set(drawn)) == 500 and not set(drawn) & set(exclude)
    assert all(len(s) == 4 and s.isdigit() for s in drawn)
    assert drawn == M.candidate_secrets("0123456789", 4, 500, exclude, seed=3)[0]
    assert drawn != M.candidate_secrets("0123456789", 4, 500, exclude, seed=4)[0]
    every, exhaustive = M.candidate_secrets("ab", 3, 100, ["aba"])
    assert exhaustive and sorted(every) == ["aaa", "aab", "abb", "baa", "bab", "bba", "bbb"]


class _CharLM:
    """encode = one id per character, like a tokenizer whose secret tokens carry the space before them."""

    special = {}

    @staticmethod
    def encode(text):
        return [ord(ch) for ch in text]


def test_secret_span_covers_the_secret_between_template_prefix_and_suffix():
    ids = _CharLM.encode("code 4711!")
    assert M.secret_span(_CharLM, "code {secret}!", ids) == [4, 5, 6, 7, 8]  # " 4711"
    assert M.secret_span(_CharLM, "{secret} is it", _CharLM.encode("42 is it")) == [0, 1]


def _no_secrets(key, *texts):
    return not any(c["secret"] in text for c in key["canaries"] for text in texts)


@pytest.mark.slow
def test_gpt2_exposure_grows_with_repetitions(tmp_path, capsys):
    """Real `prepare` (4 canaries inserted once, 4 inserted 32 times), the trainer, then `tfpretrain audit`."""
    from tests.support.corpus import IN_MEMORY, corpus_config, write_corpus
    from tfpretrain import cli
    from tfpretrain.data.prepare import prepare
    from tfpretrain.training.experiment import load_experiment
    from tfpretrain.training.trainer import pretrain

    data, run, out = tmp_path / "data", tmp_path / "run", tmp_path / "audit"
    canaries = {"count": 4, "repetitions": [1, 32]}
    prepare(corpus_config("gpt2", write_corpus(tmp_path / "corpus"), data, validation_fraction=0.0, canaries=canaries),
            IN_MEMORY)
    experiment = load_experiment(data={
        "model": {"preset": "gpt2_tiny", "vocabulary_size": "data", "max_sequence_length": 32, "dropout": 0.0},
        "data": {"train": str(data)},
        "trainer": {"strategy": "cpu", "global_batch_size": 16, "train_steps": 200, "log_every": 200,
                    "checkpoint_every": 200, "jit_compile": False,
                    "optimizer": {"learning_rate": 3e-3, "warmup_steps": 10}},
    })
    pretrain(experiment, str(run), verbose=0)
    cli.main(["audit", "--model", str(run), "--canaries", str(data / C.KEY_FILE), "--out", str(out),
              "--candidates", "1000", "--batch-size", "256"])
    printed = capsys.readouterr().out
    text = (out / M.EXPOSURE_FILE).read_text()
    summary = json.loads(text)
    assert summary["model_family"] == "gpt2" and summary["candidates"] == 1000 and not summary["exhaustive"]
    assert summary["space_size"] == 10**6 and summary["exposure_bound"] == pytest.approx(6 * math.log2(10))
    once, often = summary["by_repetitions"]
    assert (once["repetitions"], once["count"], often["repetitions"], often["count"]) == (1, 4, 32, 4)
    assert often["mean_exposure"] > once["mean_exposure"] + 6.0, summary["by_repetitions"]
    assert often["mean_exposure_rank"] > once["mean_exposure_rank"] + 3.0
    for canary in summary["canaries"]:
        assert 0.0 <= canary["exposure"] <= summary["exposure_bound"]
        assert 0.0 <= canary["exposure_rank"] <= summary["rank_exposure_bound"] + 1e-9
        assert 1 <= canary["rank"] <= 1001 and canary["secret_tokens"] >= 1 and not canary["unknown_token"]
    assert "inserted 32x: mean" in printed

    key = json.loads((data / C.KEY_FILE).read_text())
    section = exposure_section(summary)  # what the report and the card show of it
    html, entry = section.html, section.card_entry
    assert _no_secrets(key, text, printed, section.heading, html, json.dumps(entry))
    assert "gpt2" in section.heading and "<svg" in html and "log2|R| = 19.93 bits" in html
    assert all(c["id"] in html for c in summary["canaries"]) and "32x" in html
    (facts,) = entry.values()
    assert facts["canaries"] == 8 and facts["inserted 32x"].startswith("mean ")


def test_bert_audit_smoke(tmp_path):
    """An (untrained) tiny BERT in an HF-style directory: the pseudo-log-likelihood audit runs, values in range."""
    from tests.support import factories
    from tfpretrain.data import tokenizer as tok
    from tfpretrain.data.prepare_config import load_prepare_config
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer

    config = load_prepare_config(data={"family": "bert", "sources": ["x"], "output": str(tmp_path / "data"),
                                       "canaries": {"count": 2, "repetitions": [1, 8], "length": 5}})
    corpus = ["the model reads a long sentence about rivers and mountains"] * 20
    tokenizer = tok.train_wordpiece(corpus + C.tokenizer_texts(config), 200)._tokenizer
    canaries = C.prepared(config, tokenizer)
    assert C.write_key(config.output, config, canaries)["canaries"]["count"] == 4
    model_dir = tmp_path / "hf"
    model = BertPretrainer(factories.bert_backbone(vocabulary_size=tokenizer.get_vocab_size()))
    model.save_pretrained(str(model_dir))
    tok.save_tokenizer(tokenizer, model_dir / "tokenizer.json")

    summary = M.audit(model_dir, os.path.join(config.output, C.KEY_FILE), tmp_path / "audit", candidates=60, seed=1)
    assert summary["model_family"] == "bert" and "pseudo-log-likelihood" in summary["scoring"]
    assert summary["candidates"] == 60 and summary["space_size"] == 10**5
    assert [level["repetitions"] for level in summary["by_repetitions"]] == [1, 8]
    for canary in summary["canaries"]:
        assert 0.0 <= canary["exposure"] <= summary["exposure_bound"]
        assert 0.0 <= canary["exposure_rank"] <= math.log2(61) + 1e-9
        assert canary["secret_tokens"] >= 1 and not canary["unknown_token"]
        assert np.isfinite(canary["score"]) and canary["score"] < 0
    assert json.loads((tmp_path / "audit" / M.EXPOSURE_FILE).read_text()) == summary
    section = exposure_section(summary)
    assert _no_secrets({"canaries": canaries}, section.html, json.dumps(section.card_entry))


def test_levels_summarise_exposure_per_repetition_count():
    rows = [{"id": f"canary-00{i}", "repetitions": r, "exposure": e, "exposure_rank": e / 2}
            for i, (r, e) in enumerate([(1, 1.0), (1, 3.0), (16, 12.0), (16, 19.0)])]
    assert M._level(16, [x for x in rows if x["repetitions"] == 16]) == {
        "repetitions": 16, "count": 2, "mean_exposure": 15.5, "median_exposure": 15.5, "max_exposure": 19.0,
        "mean_exposure_rank": 7.75}


@pytest.mark.slow
def test_near_dedup_collapses_near_duplicate_canaries_and_their_exposure(tmp_path):
    """The demo's measured link (commands/demo.near_dedup_exposure) at test size: the same near-duplicate canaries
    (1 and 32 copies, each a 40-word carrier with one word varied) in a corpus prepared with and without near-dedup
    (threshold 0.7: a 40-word copy's neighbours sit at Jaccard 0.78), a tiny GPT-2 trained on each, both audited.
    Without near-dedup all 132 copies stay and the 32-copy canaries are exposed far more than the 1-copy ones; with
    it one copy of each canary stays, and the 32-copy canaries' exposure falls to the 1-copy level."""
    from tests.support.corpus import IN_MEMORY, corpus_config
    from tfpretrain.commands import demo
    from tfpretrain.data.prepare import prepare
    from tfpretrain.training.experiment import load_experiment
    from tfpretrain.training.trainer import pretrain

    pattern, _ = demo.write_corpus(tmp_path / "corpus")  # the demo's prose: carrier words are in its vocabulary
    corpus = tmp_path / "corpus" / "topics.txt"  # its first 30 topics: canary copies are a large share to learn
    corpus.write_text("\n\n".join(corpus.read_text().split("\n\n")[:30]) + "\n")
    canaries = {"count": 4, "repetitions": [1, 32], "near_duplicates": True, "carrier_words": 40}
    for run, near in (("gpt2", True), ("twin", False)):
        data = tmp_path / "data" / run
        prepare(corpus_config("gpt2", pattern, data, sequence_length=SEQUENCE, validation_fraction=0.0,
                              tokenizer={"vocabulary_size": 2000}, canaries=canaries,
                              near_dedup={"enabled": near, "threshold": 0.7}), IN_MEMORY)
        experiment = load_experiment(data={
            "model": {"preset": "gpt2_tiny", "vocabulary_size": "data", "max_sequence_length": SEQUENCE,
                      "dropout": 0.0},
            "data": {"train": str(data)},
            "trainer": {"strategy": "cpu", "global_batch_size": 16, "train_steps": STEPS, "log_every": STEPS,
                        "checkpoint_every": STEPS, "jit_compile": False,
                        "optimizer": {"learning_rate": 3e-3, "warmup_steps": 10}},
        })
        pretrain(experiment, str(tmp_path / run), verbose=0)
        M.audit(str(tmp_path / run), str(data / C.KEY_FILE), str(tmp_path / "audit" / run), candidates=500)
    link = demo.near_dedup_exposure(tmp_path, "gpt2", "twin")
    assert (link["with"]["canary_copies_kept"], link["without"]["canary_copies_kept"]) == (8, 132)
    assert link["with"]["near_duplicates_removed"] == link["without"]["near_duplicates_removed"] == 0  # corpus
    without, with_ = link["without"]["mean_exposure"], link["with"]["mean_exposure"]
    assert without[32] > without[1] + 4.0, link
    assert with_[32] < without[32] - 4.0 and abs(with_[32] - with_[1]) < 3.0, link
