"""lm_scoring against transformers' own TF models loaded from the same checkpoint (an independent oracle)."""

import os

import numpy as np
import pytest

from tests.support import factories
from tfpretrain.evaluation import lm_scoring

transformers = pytest.importorskip("transformers")
from safetensors.numpy import load_file  # noqa: E402
from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model  # noqa: E402


def _oracle(model_class, config_class, run):
    directory = os.path.join(run, "final")
    model = model_class(config_class.from_json_file(os.path.join(directory, "config.json")))
    load_pytorch_state_dict_in_tf2_model(model, load_file(os.path.join(directory, "model.safetensors")))
    return model


def _log_softmax(x):
    x = np.asarray(x, np.float64) - np.max(x, axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    run = factories.language_model_run(tmp_path_factory.mktemp("bert"), "bert")
    return lm_scoring.load_language_model(run), _oracle(transformers.TFBertForPreTraining, transformers.BertConfig, run)


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    run = factories.language_model_run(tmp_path_factory.mktemp("gpt2"), "gpt2")
    return lm_scoring.load_language_model(run), _oracle(transformers.TFGPT2LMHeadModel, transformers.GPT2Config, run)


SENTENCES = ["the nurse said she would call", "my secret code is 123456", "the old man read the book in the rain"]


def test_masked_log_probs_match_transformers_one_mask_at_a_time(bert):
    lm, oracle = bert
    sequences = [lm.encode(s) for s in SENTENCES]
    positions = [list(range(len(s))) for s in sequences]
    ours = lm_scoring.masked_log_probs(lm, sequences, positions, batch_size=5)  # batches cut across sentences
    for seq, scores in zip(sequences, ours):
        for p, score in enumerate(scores):
            row = [lm.special["cls"], *seq, lm.special["sep"]]
            row[p + 1] = lm.special["mask"]
            logits = oracle({"input_ids": np.array([row]), "token_type_ids": np.zeros((1, len(row)), np.int32)},
                            training=False).prediction_logits.numpy()
            assert score == pytest.approx(_log_softmax(logits[0, p + 1])[seq[p]], abs=1e-4)
    assert lm_scoring.pseudo_log_likelihood(lm, sequences[0]) == pytest.approx(ours[0].sum(), abs=1e-9)
    subset = lm_scoring.masked_log_probs(lm, [sequences[2]], [[1, 3]])[0]
    np.testing.assert_allclose(subset, ours[2][[1, 3]], atol=1e-5)  # padding and batching change nothing


def test_next_sentence_log_probs_match_transformers(bert):
    lm, oracle = bert
    a, b = lm.encode(SENTENCES[0]), lm.encode(SENTENCES[2])
    ours = lm_scoring.next_sentence_log_probs(lm, [(a, b), (b, a)])
    cls, sep = lm.special["cls"], lm.special["sep"]
    for got, (x, y) in zip(ours, [(a, b), (b, a)]):
        ids = np.array([[cls, *x, sep, *y, sep]])
        segments = np.array([[0] * (len(x) + 2) + [1] * (len(y) + 1)])
        logits = oracle({"input_ids": ids, "token_type_ids": segments}, training=False).seq_relationship_logits
        assert got == pytest.approx(_log_softmax(logits.numpy()[0])[0], abs=1e-4)


def test_causal_log_probs_match_transformers(gpt2):
    lm, oracle = gpt2
    sequences = [lm.encode(s) for s in SENTENCES]
    ours = lm_scoring.causal_log_probs(lm, sequences, batch_size=2)
    for seq, scores in zip(sequences, ours):
        ids = np.array([[lm.special["end"], *seq]])
        logits = oracle({"input_ids": ids}, training=False).logits.numpy()[0]
        expected = _log_softmax(logits[:-1])[np.arange(len(seq)), seq]
        assert scores.shape == (len(seq),)
        np.testing.assert_allclose(scores, expected, atol=1e-4)


def test_errors_name_the_problem(bert, gpt2, tmp_path):
    lm, _ = bert
    with pytest.raises(ValueError, match="exceeds the model's max_sequence_length 32"):
        lm_scoring.masked_log_probs(lm, [[7] * 40], [[0]])
    with pytest.raises(ValueError, match="position 9 is outside sequence 0"):
        lm_scoring.masked_log_probs(lm, [[7, 8]], [[9]])
    with pytest.raises(ValueError, match="causal_log_probs needs a gpt2 model"):
        lm_scoring.causal_log_probs(lm, [[7]])
    with pytest.raises(ValueError, match="needs a bert model"):
        lm_scoring.masked_log_probs(gpt2[0], [[7]], [[0]])
    with pytest.raises(FileNotFoundError, match="neither a pretraining run"):
        lm_scoring.load_language_model(str(tmp_path))
