"""Privacy budgets and energy of a model's training runs (evaluation/training_runs.py reads RUN/privacy.json and
RUN/energy.json) -> two Sections: the report's tables (templates/privacy.html.j2, energy.html.j2) and the card's
privacy and energy entries. A run without DP, or not measured, is said so, never left blank.

    privacy, energy = privacy_records(runs), energy_records(runs)       # tfpretrain.evaluation.training_runs
    sections = [privacy_section(privacy), energy_section(energy)]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfpretrain.evaluation.training_runs import energy_total, measured_records
from tfpretrain.reporting.section import Section
from tfpretrain.reporting.templating import render_html


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _sampling(r: Mapping[str, Any]) -> str:
    """How batches were sampled and what epsilon rests on (a privacy.json without "sampling" predates Poisson
    sampling: it had shuffled fixed batches accounted as Poisson)."""
    sampling = r.get("sampling", "shuffled fixed batches")
    return sampling if sampling == "poisson" else f"{sampling}, epsilon approximated as Poisson"


def privacy_card_entry(records: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    out = {}
    for name, r in records.items():
        if r.get("epsilon") is None:
            out[name] = "trained without differential privacy (no formal guarantee)"
            continue
        bound = r.get("epsilon upper bound (no amplification)")
        bound = f"; proven bound without amplification: epsilon = {_fmt(bound)}" if bound is not None else ""
        out[name] = (f"DP-SGD, epsilon = {_fmt(r['epsilon'])} at delta = {_fmt(r.get('delta'))} "
                     f"(noise multiplier {_fmt(r.get('noise_multiplier'))}, clip {_fmt(r.get('l2_norm_clip'))}, "
                     f"sampling rate {_fmt(r.get('sampling_rate'))}, {r.get('steps')} steps, "
                     f"unit: {r.get('privacy unit', 'example')}; {r.get('accountant', 'rdp')} accountant; "
                     f"sampling: {_sampling(r)}{bound})")
    return out


def energy_card_entry(records: Mapping[str, Mapping[str, Any] | None]) -> dict[str, str] | None:
    """{run: "x kWh, y kg CO2 ..."} plus the total; None when no run was measured ("not measured" in the card)."""
    if not measured_records(records):
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


def privacy_section(records: Mapping[str, Mapping[str, Any]]) -> Section:
    """The privacy budget of each run (epsilon, delta, noise, clipping, sampling, steps)."""
    rows = []
    for name, r in records.items():
        if r.get("epsilon") is None:
            rows.append([name, "off", "∞ (no guarantee)", None, None, None, None, None, None, None, None])
        else:
            rows.append([name, r.get("mechanism", "DP-SGD"), r.get("epsilon"), r.get("delta"),
                         r.get("noise_multiplier"), r.get("l2_norm_clip"), r.get("sampling_rate"), _sampling(r),
                         r.get("steps"), r.get("privacy unit"), r.get("accountant", "rdp").upper()])
    html = render_html("sections/templates/privacy.html.j2", rows=[[_fmt(c) for c in row] for row in rows])
    return Section("Privacy (differential privacy)", html=html, card_field="privacy",
                   card_entry=privacy_card_entry(records))


def energy_section(records: Mapping[str, Mapping[str, Any] | None]) -> Section:
    """Energy, emissions, duration and training FLOPs per run, with how they were measured."""
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
    tracker = next((r.get("tracker") for r in measured_records(records).values() if r.get("tracker")), "codecarbon")
    html = render_html("sections/templates/energy.html.j2", tracker=tracker,
                       rows=[[_fmt(c) for c in row] for row in rows])
    return Section("Energy and emissions", html=html, card_field="energy", card_entry=energy_card_entry(records))
