"""Privacy budgets and energy of a model's training runs: the run chain, the records read, the energy total (the
report sections and card entries made of them: tests/reporting/sections/test_training_runs.py)."""

import json

import pytest
import yaml

from tests.support.run_records import ENERGY, PRIVACY
from tfpretrain.evaluation import training_runs as run_records


@pytest.fixture
def runs(tmp_path):
    pretraining, finetuning = tmp_path / "bert", tmp_path / "classifier"
    pretraining.mkdir()
    finetuning.mkdir()
    (pretraining / "experiment.yaml").write_text("model: {}\n")
    (pretraining / "energy.json").write_text(json.dumps({**ENERGY, "energy_kwh": 0.010, "co2_kg": 0.004}))
    (finetuning / "finetune.yaml").write_text(yaml.safe_dump({"init": str(pretraining)}))
    (finetuning / "energy.json").write_text(json.dumps(ENERGY))
    (finetuning / "privacy.json").write_text(json.dumps(PRIVACY))
    return run_records.training_runs(str(finetuning))


def test_the_run_chain_is_followed_to_the_pretraining_run(runs, tmp_path):
    assert runs == [("fine-tuning", str(tmp_path / "classifier")), ("pretraining", str(tmp_path / "bert"))]
    assert run_records.training_runs(None) == []


def test_privacy_records_or_dp_off(runs):
    assert run_records.privacy_records(runs) == {"fine-tuning (classifier)": PRIVACY,
                                                 "pretraining (bert)": {"differential privacy": "off"}}


def test_energy_totals_and_unmeasured_runs(runs, tmp_path):
    records = run_records.energy_records(runs)
    total = run_records.energy_total(records)
    assert total["energy_kwh"] == pytest.approx(0.012) and total["co2_kg"] == pytest.approx(0.0048)
    assert total["runs measured"] == "2 of 2" and total["duration_s"] == pytest.approx(80.0)
    assert records["fine-tuning (classifier)"] == ENERGY

    (tmp_path / "bert" / "energy.json").unlink()
    records = run_records.energy_records(runs)
    assert records["pretraining (bert)"] is None
    assert run_records.energy_total(records)["runs measured"] == "1 of 2"
    (tmp_path / "classifier" / "energy.json").write_text(json.dumps({"error": "no power counters"}))
    records = run_records.energy_records(runs)
    assert run_records.measured_records(records) == {} and run_records.energy_total(records) is None


def test_a_corrupt_record_names_its_file(runs, tmp_path):
    (tmp_path / "classifier" / "privacy.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"classifier/privacy.json: not valid JSON"):
        run_records.privacy_records(runs)
