"""What the trainer recorded about a model's runs: DP-SGD privacy budgets (RUN/privacy.json) and energy / CO2
(RUN/energy.json), for the fine-tuning run and the pretraining run it started from, as records that
tfpretrain.reporting.sections.training_runs renders (report sections and model card entries).

    runs = training_runs("runs/classifier")            # [("fine-tuning", dir), ("pretraining", dir)]
    privacy, energy = privacy_records(runs), energy_records(runs)

A run without privacy.json trained without differential privacy; a run without energy.json was not measured. Both
are said as such, never left blank.
"""

import os

from tfpretrain.runs import RunDir


def _init_of(run):
    init = (RunDir(run).read_finetune_config() or {}).get("init")
    return init if init and RunDir(init).is_pretraining() else None


def training_runs(run):
    """A fine-tuning or pretraining run directory -> [(stage, directory)], the run first, then its pretraining run."""
    if run is None:
        return []
    runs = [("fine-tuning" if RunDir(run).is_finetuning() else "pretraining", run)]
    init = _init_of(run)
    if init:
        runs.append(("pretraining", init))
    return runs


def _name(stage, run):
    return f"{stage} ({os.path.basename(os.path.abspath(run))})"


def privacy_records(runs):
    """{run label: privacy.json contents, or {"differential privacy": "off"}}."""
    return {_name(stage, run): RunDir(run).read_json(RunDir.PRIVACY) or {"differential privacy": "off"}
            for stage, run in runs}


def energy_records(runs):
    """{run label: energy.json contents, or None when the run was not measured}."""
    return {_name(stage, run): RunDir(run).read_json(RunDir.ENERGY) for stage, run in runs}


def measured_records(records):
    """The energy records of runs that were measured (not missing, no error)."""
    return {k: v for k, v in records.items() if v and "error" not in v}


def energy_total(records):
    measured = measured_records(records)
    if not measured:
        return None
    total = {key: sum(float(r.get(key) or 0.0) for r in measured.values())
             for key in ("energy_kwh", "co2_kg", "duration_s", "training_flops")}
    total["runs measured"] = f"{len(measured)} of {len(records)}"
    return total
