"""The demo's headline claim end to end, at small size: fine-tuned on the synthetic data with the bias planted in
gender=female, the classifier fails the demo's fairness gate on that slice; its unbiased twin (bias 0, same seed,
same steps) passes. The demo's own fine-tune and the TFMA evaluation with configs/eval/demo.yaml; a tiny BERT from
scratch stands in for the demo's pretrained one."""

import shutil

import pytest

from tests.support import factories
from tfpretrain.commands import demo
from tfpretrain.commands.evaluate import evaluate
from tfpretrain.data.synthetic import make_examples, write_csv

BIAS = 0.7  # the demo's planted bias
STEPS = 400  # a tiny BERT from scratch needs more steps than the demo's pretrained one (150); each costs ~10 ms
TRAIN_ROWS, EVAL_ROWS = 2000, 600  # the demo's 4,000 / 1,500; every gated slice still has > 50 (min_slice_size)


def _tiny_bert(directory):
    """DIR/final (a freshly initialised 2-layer BERT, hidden 32) + DIR/tokenizer.json, as a pretraining run."""
    import numpy as np

    from tfpretrain.data.tokenizer import save_tokenizer, train_wordpiece
    from tfpretrain.keras import keras
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer

    keras.utils.set_random_seed(0)
    tokenizer = train_wordpiece([r["text"] for r in make_examples(2000, seed=7)], vocabulary_size=300,
                                min_frequency=1)
    vocab = tokenizer.get_vocab_size()
    model = BertPretrainer(factories.bert_backbone(vocabulary_size=vocab, hidden_dim=32, intermediate_dim=64,
                                                   dropout=0.1))
    model(factories.bert_pretraining_features(np.random.default_rng(0), vocab=vocab), training=False)
    model.save_pretrained(str(directory / "final"))
    save_tokenizer(tokenizer, str(directory / "tokenizer.json"))


@pytest.fixture
def without_xla(monkeypatch):
    """The demo's fine-tune settings with jit_compile off: the claim is about the planted bias, not XLA, and each
    fine-tune's XLA compiles (train + validation, ~18 s) cost more than its 400 un-compiled steps."""
    load = demo.load_finetune_experiment
    monkeypatch.setattr(demo, "load_finetune_experiment",
                        lambda *args, data, **kwargs: load(*args, data={**data, "trainer": {
                            **data["trainer"], "jit_compile": False}}, **kwargs))


def _fine_tune_and_evaluate(out, bias):
    labeled = out / "labeled"
    labeled.mkdir(parents=True)
    write_csv(labeled / "train.csv", make_examples(TRAIN_ROWS, seed=0, bias=bias))
    write_csv(labeled / "eval.csv", make_examples(EVAL_ROWS, seed=1, bias=0.0))
    demo._finetune(out / "classifier", out, labeled, STEPS)
    rows, gate, _ = evaluate(str(out / "fairness"), model=str(out / "classifier"),
                             config=str(demo.CONFIGS / "eval" / "demo.yaml"), confidence=None,
                             pipeline_options=["--direct_running_mode=in_memory"])
    fpr = {r["slice"]: r["value"] for r in rows if r["metric"] == "false_positive_rate" and r["threshold"] == 0.5}
    return gate, fpr


@pytest.mark.slow
def test_planted_bias_fails_the_gate_on_female_and_its_unbiased_twin_passes(tmp_path, without_xla):
    _tiny_bert(tmp_path / "biased" / "bert")  # the demo fine-tunes from OUT/bert; the twin from the same weights
    shutil.copytree(tmp_path / "biased" / "bert", tmp_path / "twin" / "bert")

    gate, fpr = _fine_tune_and_evaluate(tmp_path / "biased", BIAS)
    assert not gate.passed, gate.message()
    worst = max(gate.failures, key=lambda f: f.gap)
    assert (worst.slice, worst.metric) == ("gender=female", "false_positive_rate"), gate.message()
    assert fpr["gender=female"] > fpr["overall"] + 0.1 > fpr["gender=male"] + 0.1

    gate, fpr = _fine_tune_and_evaluate(tmp_path / "twin", 0.0)
    assert gate.passed and gate.checked > 0, gate.message()  # passed on something checked, not on nothing
    assert abs(fpr["gender=female"] - fpr["overall"]) <= 0.1
