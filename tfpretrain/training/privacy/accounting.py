"""The privacy budget DP-SGD has spent: epsilon at a given delta, from Google's `dp_accounting` (0.6).

Each DP-SGD step is a Gaussian mechanism (noise multiplier sigma) on a sampled batch; what was proven depends on
how batches were sampled (`trainer.dp.sampling`):

  poisson  each example joins each step's batch independently with probability q (data/poisson_batches.py): exactly
           SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), steps), neighbouring datasets
           differing by adding or removing one record.
  shuffle  shuffled fixed-size batches. dp-accounting 0.6 has no accountant for shuffling: its
           SampledWithoutReplacementDpEvent assumes a fresh uniform subset every step, which shuffled epochs are
           not. So `epsilon` is labelled "approximated as Poisson" (q = batch / dataset size, add/remove one), the
           usual practice and not a proof (Chua et al. 2024 show shuffling can leak more). Beside it, where the
           batches are epoch-aligned (fine-tuning), a proven upper bound without any amplification: replacing one
           record changes at most one batch per epoch by at most 2C, so E epochs are E Gaussian mechanisms with
           noise multiplier sigma / 2 (replace-one relation).

Accountants: Renyi DP ("rdp", fast, a slight over-estimate) or privacy loss distributions ("pld", tighter, slower).
"""

import json
import math

from tfpretrain.atomic import write_text
from tfpretrain.runs import RunDir

MECHANISM = "DP-SGD (per-example clipping + Gaussian noise)"
ACCOUNTANTS = ("rdp", "pld")
SAMPLINGS = ("poisson", "shuffle")
SAMPLING_LABELS = {"poisson": "poisson", "shuffle": "shuffled fixed batches"}
ACCOUNTANT_LABELS = {"rdp": "RDP (Renyi DP, dp-accounting)", "pld": "PLD (privacy loss distributions, dp-accounting)"}
ADD_REMOVE, REPLACE = "add or remove one record", "replace one record"
MAX_NOISE_MULTIPLIER = 1_000.0  # target_epsilon's search range ends here


def dp_event(noise_multiplier, sampling_rate, steps):
    """`steps` Poisson-sampled Gaussian mechanisms (add/remove-one relation)."""
    import dp_accounting

    step = dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.SelfComposedDpEvent(step, int(steps))


def shuffled_epochs_event(noise_multiplier, epochs):
    """`epochs` epochs of epoch-aligned shuffled batches, no amplification (replace-one relation): per epoch one
    Gaussian mechanism of sensitivity 2C, i.e. a sensitivity-1 Gaussian with noise multiplier sigma / 2. Accounted
    under ADD_OR_REMOVE_ONE, where both accountants read a GaussianDpEvent as sensitivity 1: under REPLACE_ONE
    dp-accounting 0.6's PLD doubles the sensitivity itself while its RDP does not."""
    import dp_accounting

    return dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(noise_multiplier / 2.0), int(epochs))


def event_epsilon(event, delta, accountant="rdp", relation=ADD_REMOVE):
    """Epsilon of a dp_accounting event at `delta` under the given neighbouring relation."""
    from dp_accounting import NeighboringRelation
    from dp_accounting.pld import PLDAccountant
    from dp_accounting.rdp import RdpAccountant

    rel = NeighboringRelation.ADD_OR_REMOVE_ONE if relation == ADD_REMOVE else NeighboringRelation.REPLACE_ONE
    ledger = RdpAccountant(neighboring_relation=rel) if accountant == "rdp" else PLDAccountant(rel)
    ledger.compose(event)
    return float(ledger.get_epsilon(delta))


def _check(noise_multiplier, steps, delta, accountant):
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if int(steps) < 0 or noise_multiplier < 0:
        raise ValueError(f"steps and noise_multiplier must be >= 0, got {steps} and {noise_multiplier}")


def epsilon(noise_multiplier, sampling_rate, steps, delta, accountant="rdp"):
    """Epsilon of `steps` Poisson-sampled DP-SGD steps at `delta` (0.0 for no steps; inf for noise 0)."""
    _check(noise_multiplier, steps, delta, accountant)
    if not 0.0 < sampling_rate <= 1.0:
        raise ValueError(f"sampling_rate must be in (0, 1], got {sampling_rate}")
    if int(steps) == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    return event_epsilon(dp_event(noise_multiplier, sampling_rate, steps), delta, accountant)


def shuffled_epsilon_bound(noise_multiplier, epochs, delta, accountant="rdp"):
    """The proven (amplification-free, replace-one) epsilon of `epochs` epoch-aligned shuffled epochs."""
    _check(noise_multiplier, epochs, delta, accountant)
    if int(epochs) == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    return event_epsilon(shuffled_epochs_event(noise_multiplier, epochs), delta, accountant, ADD_REMOVE)


def epochs_touched(steps, global_batch_size, dataset_size):
    """Epochs that `steps` epoch-aligned batches reach (an epoch is dataset // batch steps; the remainder dropped)."""
    per_epoch = max(int(dataset_size) // int(global_batch_size), 1)
    return -(-int(steps) // per_epoch)


def solve_noise_multiplier(target_epsilon, epsilon_of, tolerance=1e-3):
    """The smallest noise multiplier (to `tolerance`, relative) whose epsilon_of(sigma) <= target_epsilon, by
    bisection (epsilon falls as sigma grows). ValueError when even MAX_NOISE_MULTIPLIER spends more."""
    if not target_epsilon > 0:
        raise ValueError(f"target epsilon must be positive, got {target_epsilon}")
    high = 1.0
    while epsilon_of(high) > target_epsilon:
        if high >= MAX_NOISE_MULTIPLIER:
            raise ValueError(f"target epsilon {target_epsilon} is unreachable: noise multiplier "
                             f"{MAX_NOISE_MULTIPLIER:g} still spends {epsilon_of(high):.4g}")
        high = min(high * 2.0, MAX_NOISE_MULTIPLIER)
    low = 0.0
    while high - low > tolerance * high:
        middle = (low + high) / 2.0
        if middle > 0 and epsilon_of(middle) <= target_epsilon:
            high = middle
        else:
            low = middle
    return high  # epsilon_of(high) <= target: never over budget


def sampling_rate_of(global_batch_size, dataset_size):
    """q = (expected) global batch / dataset size, capped at 1 (a batch larger than the data samples every record)."""
    return min(1.0, int(global_batch_size) / int(dataset_size))


def privacy_report(*, l2_norm_clip, noise_multiplier, global_batch_size, dataset_size, steps, delta=None,
                   accountant="rdp", privacy_unit, sampling="shuffle", epoch_aligned=False, poisson=None):
    """The dict written to RUN/privacy.json. delta None -> 1 / dataset_size (said so in `delta source`).
    `poisson`: the Poisson sampler's overflow facts (see PoissonBatches.report) merged in."""
    if int(dataset_size) <= 0:
        raise ValueError(f"dataset size must be positive, got {dataset_size}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    q = sampling_rate_of(global_batch_size, dataset_size)
    delta_source = "given" if delta is not None else "1 / dataset size (default)"
    delta = float(delta) if delta is not None else 1.0 / int(dataset_size)
    eps = epsilon(noise_multiplier, q, steps, delta, accountant)
    report = {
        "mechanism": MECHANISM, "l2_norm_clip": float(l2_norm_clip), "noise_multiplier": float(noise_multiplier),
        "sampling": SAMPLING_LABELS[sampling], "sampling_rate": q, "steps": int(steps), "delta": delta,
        "delta source": delta_source, "epsilon": eps, "accountant": accountant,
        "accountant name": ACCOUNTANT_LABELS[accountant], "privacy unit": privacy_unit,
        "dataset size": int(dataset_size), "global_batch_size": int(global_batch_size),
    }
    if sampling == "poisson":
        report["neighbouring relation"] = ADD_REMOVE
        report["epsilon basis"] = "exact for Poisson sampling (dp-accounting PoissonSampledDpEvent)"
        report["sampling note"] = ("each record joins each step's batch independently with probability q; the noisy "
                                   "sum is divided by the expected batch q * N")
        report.update(poisson or {})
        if "overflow probability bound" in report:  # truncation differs from Poisson on an event of at most that
            eta = report["overflow probability bound"]  # probability: (eps, delta + (1 + e^eps) * eta)-DP
            report["delta including overflow"] = delta + (1.0 + math.exp(min(eps, 700.0))) * eta
        return report
    report["neighbouring relation"] = ADD_REMOVE + " (for the Poisson approximation)"
    report["epsilon basis"] = "approximated as Poisson sampling at q = batch / dataset size; not a proven bound"
    report["sampling note"] = ("shuffled fixed-size batches accounted as Poisson sampling (the usual approximation; "
                               "dp-accounting 0.6 has no accountant for shuffling)")
    if epoch_aligned:
        epochs = epochs_touched(steps, global_batch_size, dataset_size)
        report["epochs"] = epochs
        report["epsilon upper bound (no amplification)"] = shuffled_epsilon_bound(noise_multiplier, epochs, delta,
                                                                                 accountant)
        report["upper bound relation"] = REPLACE + " (each epoch's batches are disjoint: sensitivity 2C per epoch)"
    return report


def write_report(path, report):
    """RUN/privacy.json, atomically; epsilon inf is written as the string "inf" (JSON has no infinity)."""

    data = {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in report.items()}
    return write_text(path, json.dumps(data, indent=2) + "\n")


class PrivacyLedger:
    """A DP-SGD run's budget (trainer.dp: a DPConfig; `noise_multiplier` the resolved sigma): `scalars(step)` ->
    {"epsilon": spent so far} for ScalarLogger, `write(run_dir, steps)` -> RUN/privacy.json. `poisson_report(steps)`
    (Poisson sampling) gives the sampler's overflow facts for the first `steps` steps."""

    def __init__(self, dp, global_batch_size, dataset_size, privacy_unit, *, noise_multiplier=None,
                 epoch_aligned=False, poisson_report=None):
        self.dp, self.global_batch_size, self.dataset_size = dp, global_batch_size, dataset_size
        self.privacy_unit, self.epoch_aligned, self.poisson_report = privacy_unit, epoch_aligned, poisson_report
        self.noise_multiplier = dp.noise_multiplier if noise_multiplier is None else noise_multiplier

    def report(self, steps, details=True):
        poisson = self.poisson_report(steps) if details and self.poisson_report is not None else None
        return privacy_report(
            l2_norm_clip=self.dp.l2_norm_clip, noise_multiplier=self.noise_multiplier,
            global_batch_size=self.global_batch_size, dataset_size=self.dataset_size, steps=steps,
            delta=self.dp.delta, accountant=self.dp.accountant, privacy_unit=self.privacy_unit,
            sampling=self.dp.sampling, epoch_aligned=self.epoch_aligned and details, poisson=poisson,
        )

    def scalars(self, step):
        return {"epsilon": self.report(step, details=False)["epsilon"]}

    def write(self, run_dir, steps):
        return write_report(RunDir(run_dir).privacy, self.report(steps))
