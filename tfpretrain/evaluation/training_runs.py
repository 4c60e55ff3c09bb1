"""What the trainer recorded about a model's runs: DP-SGD privacy budgets (RUN/privacy.json) and energy / CO2
(RUN/energy.json), for the fine-tuning run and the pretraining run it started from, as report sections and model
card entries.

    runs = training_runs("runs/classifier")            # [("fine-tuning", dir), ("pretraining", dir)]
    privacy, energy = privacy_records(runs), energy_records(runs)
    report sections: privacy_section(privacy), energy_section(energy); card: privacy_card_entry, energy_card_entry

A run without privacy.json trained without differential privacy; a run without energy.json was not measured. Both
are said as such, never left blank.
"""

import json
import os

import yaml

from tfpretrain.reporting.html_table import escape, html_table


def _read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None


def _init_of(run):
    path = os.path.join(run, "finetune.yaml")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        init = (yaml.safe_load(f) or {}).get("init")
    return init if init and os.path.exists(os.path.join(init, "experiment.yaml")) else None


def training_runs(run):
    """A fine-tuning or pretraining run directory -> [(stage, directory)], the run first, then its pretraining run."""
    if run is None:
        return []
    runs = [("fine-tuning" if os.path.exists(os.path.join(run, "finetune.yaml")) else "pretraining", run)]
    init = _init_of(run)
    if init:
        runs.append(("pretraining", init))
    return runs


def _name(stage, run):
    return f"{stage} ({os.path.basename(os.path.abspath(run))})"


def privacy_records(runs):
    """{run label: privacy.json contents, or {"differential privacy": "off"}}."""
    return {_name(stage, run): _read_json(os.path.join(run, "privacy.json")) or {"differential privacy": "off"}
            for stage, run in runs}


def energy_records(runs):
    """{run label: energy.json contents, or None when the run was not measured}."""
    return {_name(stage, run): _read_json(os.path.join(run, "energy.json")) for stage, run in runs}


def _measured(records):
    return {k: v for k, v in records.items() if v and "error" not in v}


def energy_total(records):
    measured = _measured(records)
    if not measured:
        return None
    total = {key: sum(float(r.get(key) or 0.0) for r in measured.values())
             for key in ("energy_kwh", "co2_kg", "duration_s", "training_flops")}
    total["runs measured"] = f"{len(measured)} of {len(records)}"
    return total


def _fmt(value, digits=4):
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _table(head, rows):
    return html_table(head, [[_fmt(cell) for cell in row] for row in rows], css_class="kv")


def privacy_section(records):
    """(heading, html): the privacy budget of each run (epsilon, delta, noise, clipping, sampling, steps)."""
    rows = []
    for name, r in records.items():
        if r.get("epsilon") is None:
            rows.append([name, "off", "∞ (no guarantee)", None, None, None, None, None, None])
            continue
        rows.append([name, r.get("mechanism", "DP-SGD"), r.get("epsilon"), r.get("delta"), r.get("noise_multiplier"),
                     r.get("l2_norm_clip"), r.get("sampling_rate"), r.get("steps"), r.get("privacy unit")])
    body = (
        "<p>Differential privacy of training (DP-SGD: per-example gradient clipping plus Gaussian noise). "
        "Epsilon is the privacy loss after the run's steps at the given delta, from Google's "
        "<code>dp-accounting</code>; smaller is more private. A run without DP gives no formal guarantee: see the "
        "memorisation audit for what it actually leaked.</p>"
    )
    head = ["run", "mechanism", "ε", "δ", "noise multiplier", "clip norm", "sampling rate", "steps", "privacy unit"]
    return "Privacy (differential privacy)", body + _table(head, rows)


def energy_section(records):
    """(heading, html): energy, emissions, duration and training FLOPs per run, with how they were measured."""
    rows = []
    for name, r in records.items():
        if not r:
            rows.append([name, "not measured", None, None, None, None, None, None])
        elif "error" in r:
            rows.append([name, f"failed: {r['error']}", None, None, None, None, None, None])
        else:
            rows.append([name, r.get("energy_kwh"), r.get("co2_kg"), r.get("duration_s"), r.get("training_flops"),
                         r.get("cpu_power_method"), r.get("country_iso_code"), r.get("carbon_intensity_g_per_kwh")])
    total = energy_total(records)
    if total and len(records) > 1:
        rows.append(["total", total["energy_kwh"], total["co2_kg"], total["duration_s"], total["training_flops"],
                     None, None, None])
    tracker = next((r.get("tracker") for r in _measured(records).values() if r.get("tracker")), "codecarbon")
    body = (
        f"<p>Energy and emissions of training, measured with {escape(tracker)} (offline: the grid's carbon "
        "intensity comes from the configured country code). Without hardware power counters the CPU's power is "
        "estimated (method column), so treat CPU figures as estimates. Training FLOPs are analytic matmul FLOPs "
        "(forward + backward).</p>"
    )
    head = ["run", "energy (kWh)", "CO₂ (kg)", "duration (s)", "training FLOPs", "CPU power method", "country",
            "gCO₂/kWh"]
    return "Energy and emissions", body + _table(head, rows)


def privacy_card_entry(records):
    out = {}
    for name, r in records.items():
        if r.get("epsilon") is None:
            out[name] = "trained without differential privacy (no formal guarantee)"
        else:
            out[name] = (f"DP-SGD, epsilon = {_fmt(r['epsilon'])} at delta = {_fmt(r.get('delta'))} "
                         f"(noise multiplier {_fmt(r.get('noise_multiplier'))}, clip {_fmt(r.get('l2_norm_clip'))}, "
                         f"sampling rate {_fmt(r.get('sampling_rate'))}, {r.get('steps')} steps, "
                         f"unit: {r.get('privacy unit', 'example')}; {r.get('accountant', 'rdp')} accountant)")
    return out


def energy_card_entry(records):
    """{run: "x kWh, y kg CO2 ..."} plus the total; None when no run was measured ("not measured" in the card)."""
    if not _measured(records):
        return None
    out = {}
    for name, r in records.items():
        if not r or "error" in r:
            out[name] = "not measured" if not r else f"measurement failed: {r['error']}"
        else:
            out[name] = (f"{_fmt(r.get('energy_kwh'))} kWh, {_fmt(r.get('co2_kg'))} kg CO2eq in "
                         f"{_fmt(r.get('duration_s'))} s, {_fmt(r.get('training_flops'))} training FLOPs "
                         f"({r.get('cpu_power_method', 'unknown')} CPU power, grid {r.get('country_iso_code')})")
    total = energy_total(records)
    if len(records) > 1:
        out["total"] = f"{_fmt(total['energy_kwh'])} kWh, {_fmt(total['co2_kg'])} kg CO2eq ({total['runs measured']})"
    return out
