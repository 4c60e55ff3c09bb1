"""Privacy and energy of a model's training runs as report sections and card entries: epsilon or "no guarantee",
energy per run and in total, "not measured" said, never left blank, text from the records escaped."""

import pytest

from tests.support.run_records import ENERGY, PRIVACY
from tfpretrain.reporting.sections.training_runs import energy_section, privacy_section


def test_privacy_says_epsilon_or_no_guarantee():
    records = {"fine-tuning (classifier)": PRIVACY, "pretraining (bert)": {"differential privacy": "off"}}
    section = privacy_section(records)
    assert section.heading == "Privacy (differential privacy)" and section.card_field == "privacy"
    assert section.card_entry == {
        "fine-tuning (classifier)": "DP-SGD, epsilon = 7.25 at delta = 1e-05 (noise multiplier 1.1, clip 1, sampling "
                                    "rate 0.008, 150 steps, unit: one example; rdp accountant; sampling: shuffled "
                                    "fixed batches, epsilon approximated as Poisson)",
        "pretraining (bert)": "trained without differential privacy (no formal guarantee)"}
    assert ("<tr><td>fine-tuning (classifier)</td><td>DP-SGD (per-example clipping + Gaussian noise)</td><td>7.25</td>"
            "<td>1e-05</td><td>1.1</td><td>1</td><td>0.008</td><td>shuffled fixed batches, epsilon approximated as "
            "Poisson</td><td>150</td><td>one example</td><td>RDP</td></tr>") in section.html
    assert "<td>off</td><td>∞ (no guarantee)</td><td>—</td>" in section.html


def test_privacy_names_poisson_sampling_the_accountant_and_the_shuffled_bound():
    poisson = {**PRIVACY, "sampling": "poisson", "accountant": "pld"}
    shuffled = {**PRIVACY, "sampling": "shuffled fixed batches", "epsilon upper bound (no amplification)": 31.5}
    section = privacy_section({"dp poisson": poisson, "dp shuffled": shuffled})
    assert section.card_entry["dp poisson"].endswith("pld accountant; sampling: poisson)")
    assert section.card_entry["dp shuffled"].endswith(
        "sampling: shuffled fixed batches, epsilon approximated as Poisson; proven bound without amplification: "
        "epsilon = 31.5)")
    assert "<td>poisson</td><td>150</td><td>one example</td><td>PLD</td>" in section.html


def test_energy_per_run_total_and_unmeasured():
    records = {"fine-tuning (classifier)": ENERGY, "pretraining (bert)": {**ENERGY, "energy_kwh": 0.010,
                                                                           "co2_kg": 0.004}}
    section = energy_section(records)
    assert section.heading == "Energy and emissions" and section.card_field == "energy"
    assert section.card_entry["total"] == "0.012 kWh, 0.0048 kg CO2eq (2 of 2)"
    assert section.card_entry["fine-tuning (classifier)"] == ("0.002 kWh, 0.0008 kg CO2eq in 40 s, 1.5e+12 training "
                                                              "FLOPs (TDP estimate CPU power, grid FRA)")
    assert "measured with codecarbon 3.3.2 offline" in section.html
    assert "<tr><td>total</td><td>0.012</td><td>0.0048</td><td>80</td><td>3e+12</td>" in section.html
    records["pretraining (bert)"] = None
    assert energy_section(records).card_entry["pretraining (bert)"] == "not measured"
    assert energy_section(records).card_entry["total"].endswith("(1 of 2)")
    section = energy_section({"fine-tuning (classifier)": None})
    assert section.card_entry is None, "-> 'not measured' in the card"
    assert "<td>not measured</td>" in section.html and "measured with codecarbon " in section.html


@pytest.mark.parametrize("record", [{"error": "<script>x</script>"}, {**ENERGY, "tracker": "<script>x</script>"}])
def test_text_from_records_is_escaped(record):
    html = energy_section({"run": record, "other": ENERGY}).html
    assert "<script>" not in html and "&lt;script&gt;" in html
