"""A run's DP-SGD plan from trainer.dp: the noise multiplier (given, or solved from target_epsilon), the Poisson
sampler when trainer.dp.sampling is poisson, and the PrivacyLedger writing RUN/privacy.json.

    plan = plan_dp(trainer, dataset_size=N, privacy_unit="one example", source=path, replicas=R)
    enable_dp(model, trainer.dp.l2_norm_clip, plan.noise_multiplier, seed, trainer.dp.clipping,
              expected_batch_size=plan.expected_batch_size)

Under Poisson sampling q = global_batch_size / N: trainer.global_batch_size is the EXPECTED logical batch; the
physical batch is the sampler's B_max (a multiple of accumulation steps x replicas), its overflow over the run
bounded so that delta + (1 + e^eps) x that bound (privacy.json's "delta including overflow") is <= 1.01 delta.
"""

import dataclasses
import logging
import math

from tfpretrain.config import ConfigError
from tfpretrain.data.poisson_batches import PoissonBatches
from tfpretrain.training.privacy.accounting import PrivacyLedger, epsilon, sampling_rate_of, solve_noise_multiplier

DEFAULT_NOISE_MULTIPLIER = 1.0  # trainer.dp with neither noise_multiplier nor target_epsilon


@dataclasses.dataclass
class DPPlan:
    noise_multiplier: float
    ledger: PrivacyLedger
    sampler: PoissonBatches | None = None  # poisson sampling only

    @property
    def expected_batch_size(self):
        """DP-SGD's normaliser under Poisson sampling (q * N); None: the batch's own examples."""
        return None if self.sampler is None else self.sampler.sampling_rate * self.sampler.dataset_size

    @property
    def physical_batch_size(self):
        return None if self.sampler is None else self.sampler.physical_batch


def delta_of(dp, dataset_size):
    return dp.delta if dp.delta is not None else 1.0 / int(dataset_size)


def noise_multiplier_of(trainer, dataset_size, source="<config>"):
    """trainer.dp.noise_multiplier, or the smallest sigma whose epsilon (the one privacy.json reports, at delta, for
    train_steps steps at q = global batch / N) is at most trainer.dp.target_epsilon."""
    dp = trainer.dp
    if dp.target_epsilon is None:
        return DEFAULT_NOISE_MULTIPLIER if dp.noise_multiplier is None else float(dp.noise_multiplier)
    q, delta = sampling_rate_of(trainer.global_batch_size, dataset_size), delta_of(dp, dataset_size)
    absl = logging.getLogger("absl")  # RDP's "failed to converge ... excluding this order", per order per try
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        return solve_noise_multiplier(
            dp.target_epsilon, lambda sigma: epsilon(sigma, q, trainer.train_steps, delta, dp.accountant))
    except ValueError as e:
        raise ConfigError(source, "trainer.dp.target_epsilon", str(e)) from None
    finally:
        absl.setLevel(level)


def overflow_probability(trainer, dataset_size, sigma):
    """The Poisson sampler's bound on P(any step overflows B_max): small enough that the delta covering truncation,
    delta + (1 + e^eps) * bound, is at most 1.01 delta for the run's epsilon."""
    dp, q = trainer.dp, sampling_rate_of(trainer.global_batch_size, dataset_size)
    eps = epsilon(sigma, q, trainer.train_steps, delta_of(dp, dataset_size), dp.accountant)
    return delta_of(dp, dataset_size) / (100.0 * (1.0 + math.exp(min(eps, 50.0))))


def plan_dp(trainer, dataset_size, privacy_unit, source="<config>", *, replicas=1, epoch_aligned=False,
            fine_tuning=True):
    """The DPPlan of a run with trainer.dp.enabled over `dataset_size` records. `epoch_aligned`: shuffled batches
    never span two epochs (privacy.json then also gives the proven amplification-free bound). Pretraining
    (fine_tuning False) refuses Poisson sampling and top_n_layers / lora."""
    dp = trainer.dp
    if dp.sampling == "poisson" and not fine_tuning:
        raise ConfigError(source, "trainer.dp.sampling",
                          "poisson needs in-memory data (tfpretrain finetune); pretraining streams shuffled batches: "
                          "use shuffle")
    if dp.trainable != "all" and not fine_tuning:
        raise ConfigError(source, "trainer.dp.trainable", f"{dp.trainable} is for fine-tuning; pretraining trains all")
    sigma = noise_multiplier_of(trainer, dataset_size, source)
    sampler = None
    if dp.sampling == "poisson":
        sampler = PoissonBatches(
            dataset_size, sampling_rate_of(trainer.global_batch_size, dataset_size), trainer.train_steps,
            seed=trainer.seed, multiple=trainer.gradient_accumulation_steps * int(replicas),
            overflow_probability=overflow_probability(trainer, dataset_size, sigma))
    ledger = PrivacyLedger(dp, trainer.global_batch_size, dataset_size, privacy_unit, noise_multiplier=sigma,
                           epoch_aligned=epoch_aligned and sampler is None,
                           poisson_report=sampler.report if sampler is not None else None)
    return DPPlan(sigma, ledger, sampler)
