"""Large logical batches and how they are sampled and accounted (trainer.dp.sampling, trainer.dp.target_epsilon).

Poisson batches (data/poisson_batches.py): the binomial tail and B_max against scipy; each record's empirical
inclusion rate and the batch sizes against Binomial closed forms; resumable; truncation counted. DP-SGD: padding rows
(sample_weight 0) change nothing (gradient, loss, metrics, clipped fraction); the noisy sum is divided by the
expected batch; noise is added once per logical step under gradient accumulation. Accounting: epsilon equals
dp_accounting's computed here for both modes, the shuffled bound matches the analytic Gaussian mechanism, the
solved noise multiplier is the smallest within the target, config errors name their key. A tiny Poisson fine-tune
writes privacy.json saying so.
"""

import json
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tests.support import factories
from tests.support.dp_reference import SMALL, clip_rows, per_example_reference
from tests.support.finetuning import tiny_experiment, tiny_inputs
from tfpretrain.config import ConfigError
from tfpretrain.data import features as F
from tfpretrain.data.poisson_batches import PoissonBatches, binomial_tail, max_physical_batch
from tfpretrain.keras import keras
from tfpretrain.models.bert.bert_classifier import BertClassifier
from tfpretrain.training.experiment import TrainerConfig
from tfpretrain.training.finetune import finetune, load_finetune_experiment
from tfpretrain.training.privacy import accounting
from tfpretrain.training.privacy.dp_sgd import enable_dp
from tfpretrain.training.privacy.plan import plan_dp


# -- the Poisson sampler ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, p, m", [(4000, 0.128, 600), (4000, 0.128, 500), (100, 0.5, 60), (50, 0.2, 3),
                                     (1_800_000, 3e-4, 700), (10, 0.9, 10)])
def test_binomial_tail_is_scipys(n, p, m):
    assert binomial_tail(n, p, m) == pytest.approx(stats.binom.sf(m, n, p), rel=1e-7, abs=1e-300)  # lgamma at n ~ 1e6


def test_max_physical_batch_is_the_smallest_multiple_within_the_overflow_bound():
    for n, q, steps, bound, multiple in ((4000, 0.128, 100, 1e-9, 8), (60_000, 256 / 60_000, 1000, 1e-7, 4),
                                         (64, 0.125, 4, 1e-6, 2)):
        batch = max_physical_batch(n, q, steps, bound, multiple)
        assert batch % multiple == 0 and batch >= n * q
        assert steps * stats.binom.sf(batch, n, q) <= bound
        assert steps * stats.binom.sf(batch - multiple, n, q) > bound


def _draws(sampler, steps):
    """[steps, N] 0/1 inclusion of each record (weight-1 rows) per step, and the weight-1 counts."""
    included = np.zeros([steps, sampler.dataset_size], np.int64)
    for t, batch in enumerate(sampler.dataset({"row": np.arange(sampler.dataset_size)}).take(steps)):
        rows, weights = batch["row"].numpy(), batch[F.SAMPLE_WEIGHT].numpy()
        assert weights.shape == (sampler.physical_batch,) and set(np.unique(weights)) <= {0.0, 1.0}
        real = rows[weights == 1]
        assert len(set(real.tolist())) == len(real), "a record twice in one batch"
        included[t, real] = 1
    return included


def test_each_record_is_included_with_probability_q():
    n, q, steps = 40, 0.2, 500
    sampler = PoissonBatches(n, q, steps, seed=7, multiple=2)
    included = _draws(sampler, steps)
    sizes = included.sum(axis=1)
    np.testing.assert_array_equal(sizes, np.minimum(sampler.sizes(steps), sampler.physical_batch))
    # overall rate: Binomial(n * steps, q); 4.5 standard deviations
    total = included.sum()
    assert abs(total - n * steps * q) < 4.5 * math.sqrt(n * steps * q * (1 - q))
    # each record: Binomial(steps, q), two-sided binomial test at a Bonferroni-corrected 1e-3
    p_values = [stats.binomtest(int(c), steps, q).pvalue for c in included.sum(axis=0)]
    assert min(p_values) > 1e-3 / n
    # batch sizes: Binomial(n, q) mean and variance
    assert abs(sizes.mean() - n * q) < 4.5 * math.sqrt(n * q * (1 - q) / steps)
    assert sizes.var() == pytest.approx(n * q * (1 - q), rel=0.25)
    # independence across records: a pair is included together with probability q^2
    together = (included[:, 0] & included[:, 1]).sum()
    assert abs(together - steps * q * q) < 4.5 * math.sqrt(steps * q * q * (1 - q * q))


def test_poisson_batches_resume_at_a_step_and_truncation_is_counted():
    sampler = PoissonBatches(30, 0.5, 40, seed=3, overflow_probability=0.9)  # a tight B_max: some steps overflow
    first = [b["row"].numpy() for b in sampler.dataset({"row": np.arange(30)}).take(12)]
    resumed = [b["row"].numpy() for b in sampler.dataset({"row": np.arange(30)}, start_step=9).take(3)]
    for a, b in zip(first[9:], resumed):
        np.testing.assert_array_equal(a, b)
    sizes = sampler.sizes(40)
    report = sampler.report(40)
    over = sizes[sizes > sampler.physical_batch] - sampler.physical_batch
    assert report["truncated steps"] == len(over) > 0 and report["records truncated"] == over.sum()
    assert report["max physical batch"] == sampler.physical_batch and report["expected batch size"] == 15
    assert report["overflow probability bound"] == pytest.approx(40 * stats.binom.sf(sampler.physical_batch, 30, 0.5))


# -- DP-SGD with masks, the expected batch and accumulation ------------------------------------------------------------
def _classifier(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return BertClassifier(factories.bert_backbone(**SMALL), num_classes=3, dropout=0.0, **kwargs)


def _features(rng, batch, weights=None):
    features = factories.classifier_features(rng, batch=batch, length=8, num_classes=3, vocab=50)
    features[F.SAMPLE_WEIGHT] = np.ones(batch, np.float32) if weights is None else weights
    return features


def _step(model, features, clip, noise=0.0, expected=None, seed=3):
    enable_dp(model, clip, noise, seed=seed, expected_batch_size=expected)
    model.compile(optimizer=keras.optimizers.SGD(1.0), jit_compile=False)
    before = np.concatenate([w.numpy().ravel() for w in model.trainable_weights])
    logs = model.train_on_batch(features, return_dict=True)
    return before - np.concatenate([w.numpy().ravel() for w in model.trainable_weights]), logs


def test_padding_rows_contribute_exactly_nothing_and_the_sum_is_divided_by_the_expected_batch():
    rng = np.random.default_rng(0)
    real = _features(rng, 4)
    padding = _features(rng, 4, weights=np.zeros(4, np.float32))
    padded = {k: np.concatenate([real[k], padding[k]]) for k in real}
    model = _classifier()
    reference = per_example_reference(model, real)
    clip = float(np.median(np.linalg.norm(reference, axis=1)))
    clipped, norms = clip_rows(reference, clip)
    plain, plain_logs = _step(model, real, clip, expected=6.0)  # the reference read the same initial weights
    masked, masked_logs = _step(_classifier(), padded, clip, expected=6.0)
    np.testing.assert_allclose(plain, clipped.sum(axis=0) / 6.0, atol=1e-6)  # the expected batch, not 4 or 8
    np.testing.assert_array_equal(masked, plain)  # padding: exactly zero
    for key in ("loss", "accuracy", "dp_clipped_fraction"):
        assert masked_logs[key] == pytest.approx(plain_logs[key], rel=1e-6), key
    assert masked_logs["dp_clipped_fraction"] == pytest.approx((norms > clip).mean())


def test_noise_is_added_once_per_logical_step_under_gradient_accumulation():
    rng = np.random.default_rng(1)
    features = _features(rng, 8)
    sigma, clip, batch = 2.0, 0.5, 8
    quiet = clip_rows(per_example_reference(_classifier(), features), clip)[0].sum(axis=0) / batch  # the oracle
    noisy, _ = _step(_classifier(gradient_accumulation_steps=4), features, clip, sigma)
    noise = noisy - quiet  # [P]: the noise / batch, once; four draws would have twice this stddev
    assert noise.std() == pytest.approx(sigma * clip / batch, rel=0.1)
    assert abs(noise.mean()) < 4 * sigma * clip / batch / math.sqrt(noise.size)


# -- accounting --------------------------------------------------------------------------------------------------------
def _dp_accounting(event, delta, accountant):
    from dp_accounting.pld import PLDAccountant
    from dp_accounting.rdp import RdpAccountant

    return (RdpAccountant() if accountant == "rdp" else PLDAccountant()).compose(event).get_epsilon(delta)


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
def test_privacy_report_for_both_sampling_modes_is_dp_accountings(accountant):
    import dp_accounting

    kwargs = dict(l2_norm_clip=1.0, noise_multiplier=1.2, global_batch_size=500, dataset_size=4_000, steps=40,
                  accountant=accountant, privacy_unit="one example")
    poisson_step = dp_accounting.PoissonSampledDpEvent(0.125, dp_accounting.GaussianDpEvent(1.2))
    expected = _dp_accounting(dp_accounting.SelfComposedDpEvent(poisson_step, 40), 1 / 4000, accountant)
    poisson = accounting.privacy_report(**kwargs, sampling="poisson",
                                        poisson={"overflow probability bound": 1e-9})
    assert poisson["sampling"] == "poisson" and poisson["epsilon"] == pytest.approx(expected, rel=1e-12)
    assert poisson["neighbouring relation"] == "add or remove one record"
    assert poisson["delta including overflow"] == pytest.approx(1 / 4000 + (1 + math.exp(expected)) * 1e-9)
    shuffled = accounting.privacy_report(**kwargs, sampling="shuffle", epoch_aligned=True)
    assert shuffled["sampling"] == "shuffled fixed batches" and "approximated as Poisson" in shuffled["epsilon basis"]
    assert shuffled["epsilon"] == pytest.approx(expected, rel=1e-12)
    assert shuffled["epochs"] == 5  # 40 steps of 8 per epoch (4000 // 500)
    # replace-one: sensitivity 2C per epoch = a sensitivity-1 Gaussian with sigma / 2, composed over 5 epochs
    bound = _dp_accounting(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(0.6), 5), 1 / 4000,
                           accountant)
    assert shuffled["epsilon upper bound (no amplification)"] == pytest.approx(bound, rel=1e-12)
    assert shuffled["epsilon upper bound (no amplification)"] > shuffled["epsilon"]


def test_the_shuffled_bound_of_one_epoch_is_the_analytic_gaussian_mechanism():
    """One epoch, replace-one: a Gaussian mechanism with mu = 2 / sigma. Balle & Wang (2018): it is (eps, delta)-DP
    exactly for delta = Phi(mu/2 - eps/mu) - e^eps Phi(-mu/2 - eps/mu); PLD's epsilon must give delta back."""
    sigma, delta = 3.0, 1e-5
    eps = accounting.shuffled_epsilon_bound(sigma, 1, delta, "pld")
    mu = 2.0 / sigma
    analytic = stats.norm.cdf(mu / 2 - eps / mu) - math.exp(eps) * stats.norm.cdf(-mu / 2 - eps / mu)
    assert analytic == pytest.approx(delta, rel=0.05)
    assert analytic <= delta * 1.0001  # PLD rounds pessimistically: never below the true epsilon
    assert accounting.shuffled_epsilon_bound(sigma, 1, delta, "rdp") >= eps  # RDP's conversion is looser


def test_target_epsilon_solves_the_smallest_noise_multiplier():
    import dp_accounting

    trainer = TrainerConfig(global_batch_size=256, train_steps=200, dp=_dp(target_epsilon=3.0))
    plan = plan_dp(trainer, 10_000, "one example")
    sigma = plan.noise_multiplier

    def eps(s):
        step = dp_accounting.PoissonSampledDpEvent(256 / 10_000, dp_accounting.GaussianDpEvent(s))
        return _dp_accounting(dp_accounting.SelfComposedDpEvent(step, 200), 1e-4, "rdp")

    assert eps(sigma) <= 3.0 < eps(sigma * 0.998)
    assert plan.ledger.report(200)["noise_multiplier"] == sigma
    assert plan.ledger.report(200)["epsilon"] == pytest.approx(eps(sigma))


def _dp(**kwargs):
    from tfpretrain.training.experiment import DPConfig

    return DPConfig(enabled=True, **kwargs)


def test_dp_settings_errors_name_their_key():
    base = tiny_experiment({"init": "unused", "train": "unused.csv", "eval": "unused.csv"}, with_eval=False)
    for dp, key in (({"target_epsilon": 3, "noise_multiplier": 1.0}, "trainer.dp.target_epsilon"),
                    ({"target_epsilon": 0}, "trainer.dp.target_epsilon"),
                    ({"sampling": "uniform"}, "trainer.dp.sampling")):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_finetune_experiment(data={**base, "trainer": {**base["trainer"], "dp": {"enabled": True, **dp}}})
    unreachable = TrainerConfig(global_batch_size=100, train_steps=1_000_000, dp=_dp(target_epsilon=0.01))
    with pytest.raises(ConfigError, match=r"trainer\.dp\.target_epsilon: target epsilon 0.01 is unreachable"):
        plan_dp(unreachable, 100, "one example", "x.yaml")
    with pytest.raises(ConfigError, match=r"x\.yaml: trainer\.dp\.sampling: poisson needs in-memory data"):
        plan_dp(TrainerConfig(dp=_dp(sampling="poisson")), 1000, "one record", "x.yaml", fine_tuning=False)


def test_a_poisson_fine_tune_records_its_sampling_and_epsilon(tmp_path):
    import dp_accounting

    inputs = tiny_inputs(tmp_path / "inputs")
    experiment = load_finetune_experiment(data=tiny_experiment(
        inputs, with_eval=False, global_batch_size=8, gradient_accumulation_steps=2,
        dp={"enabled": True, "sampling": "poisson", "target_epsilon": 8.0, "l2_norm_clip": 0.5}))
    finetune(experiment, str(tmp_path / "run"), verbose=0)
    privacy = json.loads((tmp_path / "run" / "privacy.json").read_text())
    step = dp_accounting.PoissonSampledDpEvent(8 / 64, dp_accounting.GaussianDpEvent(privacy["noise_multiplier"]))
    expected = _dp_accounting(dp_accounting.SelfComposedDpEvent(step, 4), 1 / 64, "rdp")
    assert privacy["sampling"] == "poisson" and privacy["steps"] == 4 and privacy["accountant"] == "rdp"
    assert privacy["epsilon"] == pytest.approx(expected) and expected <= 8.0
    assert privacy["expected batch size"] == 8 and privacy["max physical batch"] % 2 == 0
    assert privacy["truncated steps"] == 0 and privacy["delta including overflow"] < 1.01 / 64
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(line["loss"]) and 0 <= line["dp_clipped_fraction"] <= 1 for line in lines)
    assert tf.saved_model.contains_saved_model(str(tmp_path / "run" / "export"))
