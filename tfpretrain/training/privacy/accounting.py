"""The privacy budget DP-SGD has spent: epsilon at a given delta, from Google's `dp_accounting`.

Each DP-SGD step is a Gaussian mechanism (noise multiplier sigma) on a Poisson-sampled batch (sampling rate q);
`steps` of them are a self-composition:

    SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), steps)

accounted with Renyi DP ("rdp", fast, a slight over-estimate) or privacy loss distributions ("pld", tighter,
slower). Neighbouring datasets differ by adding or removing one record: the privacy unit.
"""

import json
import math

from tfpretrain.atomic import write_text
from tfpretrain.runs import RunDir

MECHANISM = "DP-SGD (per-example clipping + Gaussian noise)"
ACCOUNTANTS = ("rdp", "pld")


def dp_event(noise_multiplier, sampling_rate, steps):
    import dp_accounting

    step = dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.SelfComposedDpEvent(step, int(steps))


def epsilon(noise_multiplier, sampling_rate, steps, delta, accountant="rdp"):
    """Epsilon of `steps` DP-SGD steps at `delta` (0.0 for no steps; inf for noise_multiplier 0)."""
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if not 0.0 < sampling_rate <= 1.0:
        raise ValueError(f"sampling_rate must be in (0, 1], got {sampling_rate}")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if int(steps) < 0 or noise_multiplier < 0:
        raise ValueError(f"steps and noise_multiplier must be >= 0, got {steps} and {noise_multiplier}")
    if int(steps) == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    from dp_accounting.pld import PLDAccountant
    from dp_accounting.rdp import RdpAccountant

    ledger = RdpAccountant() if accountant == "rdp" else PLDAccountant()
    ledger.compose(dp_event(noise_multiplier, sampling_rate, steps))
    return float(ledger.get_epsilon(delta))


def privacy_report(*, l2_norm_clip, noise_multiplier, global_batch_size, dataset_size, steps, delta=None,
                   accountant="rdp", privacy_unit):
    """The dict written to RUN/privacy.json. delta None -> 1 / dataset_size (said so in `delta source`)."""
    if int(dataset_size) <= 0:
        raise ValueError(f"dataset size must be positive, got {dataset_size}")
    sampling_rate = sampling_rate_of(global_batch_size, dataset_size)
    delta_source = "given" if delta is not None else "1 / dataset size (default)"
    delta = float(delta) if delta is not None else 1.0 / int(dataset_size)
    eps = epsilon(noise_multiplier, sampling_rate, steps, delta, accountant)
    return {
        "mechanism": MECHANISM,
        "l2_norm_clip": float(l2_norm_clip),
        "noise_multiplier": float(noise_multiplier),
        "sampling_rate": sampling_rate,
        "steps": int(steps),
        "delta": delta,
        "delta source": delta_source,
        "epsilon": eps,
        "accountant": accountant,
        "privacy unit": privacy_unit,
        "dataset size": int(dataset_size),
        "global_batch_size": int(global_batch_size),
        # Shuffled fixed-size batches are accounted as Poisson sampling at rate q = batch / dataset size: the usual
        # approximation in DP-SGD practice (and in Abadi et al.), not a proof for fixed-size batches.
        "sampling note": "fixed-size shuffled batches accounted as Poisson sampling (the usual approximation)",
    }


def sampling_rate_of(global_batch_size, dataset_size):
    """q = global batch / dataset size, capped at 1 (a batch larger than the data samples every record). The trainer's
    shuffled fixed-size batches are accounted as Poisson sampling at this rate: the usual DP-SGD approximation."""
    return min(1.0, int(global_batch_size) / int(dataset_size))


def write_report(path, report):
    """RUN/privacy.json, atomically; epsilon inf is written as the string "inf" (JSON has no infinity)."""

    data = {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in report.items()}
    return write_text(path, json.dumps(data, indent=2) + "\n")


class PrivacyLedger:
    """A DP-SGD run's budget (trainer.dp: a DPConfig): `scalars(step)` -> {"epsilon": spent so far} for ScalarLogger,
    `write(run_dir, steps)` -> RUN/privacy.json."""

    def __init__(self, dp, global_batch_size, dataset_size, privacy_unit):
        self.dp, self.global_batch_size, self.dataset_size = dp, global_batch_size, dataset_size
        self.privacy_unit = privacy_unit

    def report(self, steps):
        return privacy_report(
            l2_norm_clip=self.dp.l2_norm_clip, noise_multiplier=self.dp.noise_multiplier,
            global_batch_size=self.global_batch_size, dataset_size=self.dataset_size, steps=steps,
            delta=self.dp.delta, accountant=self.dp.accountant, privacy_unit=self.privacy_unit,
        )

    def scalars(self, step):
        return {"epsilon": self.report(step)["epsilon"]}

    def write(self, run_dir, steps):
        return write_report(RunDir(run_dir).privacy, self.report(steps))
