"""Energy and CO2 of training (codecarbon's offline tracker): RUN/energy.json, TensorBoard and metrics.jsonl scalars,
CO2 = energy x the country's grid intensity, no network, resume adds a session, failures never stop training."""

import contextlib
import glob
import json
import socket
import threading

import numpy as np
import pytest

from tfpretrain.config import ConfigError
from tfpretrain.training.experiment import EnergyConfig, load_experiment

FLOPS_PER_STEP = 1234


@contextlib.contextmanager
def _no_network():
    """Every socket connect / name lookup fails and is recorded."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access during energy tracking")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        yield attempts


def _fit(run_dir, country="FRA", model=None, epochs=3):
    """A tiny Dense regression, 5 steps per interval, with ScalarLogger + EnergyTracker; returns the model."""
    import tensorflow as tf

    from tfpretrain.keras import keras
    from tfpretrain.training.callbacks import ScalarLogger
    from tfpretrain.training.energy import EnergyTracker

    energy = EnergyTracker(str(run_dir), EnergyConfig(country_iso_code=country), flops_per_step=FLOPS_PER_STEP)
    if model is None:
        model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(4,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices((rng.random((40, 4), np.float32), rng.random((40, 1), np.float32)))
    logger = ScalarLogger(str(run_dir), tokens_per_step=8, extra_scalars=energy.scalars)
    initial = int(model.optimizer.iterations.numpy()) // 5
    model.fit(data.batch(8).repeat(), initial_epoch=initial, epochs=initial + epochs, steps_per_epoch=5,
              callbacks=[logger, energy], verbose=0)
    return model


def _live_codecarbon_timers():
    """codecarbon's PeriodicScheduler timers not cancelled (a cancelled one may take a moment to exit)."""
    return [t for t in threading.enumerate() if isinstance(t, threading.Timer) and not t.finished.is_set()
            and type(getattr(t.function, "__self__", None)).__module__.startswith("codecarbon")]


def _energy(run_dir):
    return json.loads((run_dir / "energy.json").read_text())


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _tensorboard(run_dir):
    """tag -> {step: value} from RUN/tensorboard/train."""
    import tensorflow as tf

    scalars = {}
    for path in glob.glob(str(run_dir / "tensorboard" / "train" / "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return scalars


@pytest.fixture(scope="module")
def country_runs(tmp_path_factory):
    """The same tiny fit on the French and the Polish grid; the network refused throughout."""
    base = tmp_path_factory.mktemp("energy")
    runs, attempts = {}, []
    with _no_network() as refused:
        for country in ("FRA", "POL"):
            runs[country] = base / country
            _fit(runs[country], country)
        attempts += refused
    return runs, attempts


def test_fit_writes_energy_json_tensorboard_and_metrics_offline(country_runs):
    import codecarbon

    runs, attempts = country_runs
    assert attempts == []
    run = runs["FRA"]
    energy = _energy(run)
    assert energy["energy_kwh"] > 0 and energy["co2_kg"] > 0 and "error" not in energy
    parts = [energy[k] for k in ("cpu_kwh", "gpu_kwh", "ram_kwh")]
    assert energy["cpu_kwh"] > 0 and sum(parts) == pytest.approx(energy["energy_kwh"])
    assert energy["steps"] == 15 and energy["training_flops"] == 15 * FLOPS_PER_STEP
    assert energy["country_iso_code"] == "FRA" and energy["tracker"] == f"codecarbon {codecarbon.__version__} offline"
    assert energy["cpu_power_method"] and energy["cpu_model"] and energy["duration_s"] > 0
    assert len(energy["sessions"]) == 1 and energy["sessions"][0]["start_step"] == 0
    assert not list(run.glob("*.csv")) and not list(run.glob(".codecarbon*"))  # no codecarbon outputs
    assert _live_codecarbon_timers() == []  # its threads end with fit

    lines = _metrics(run)
    assert [line["step"] for line in lines] == [5, 10, 15]
    kwh = [line["energy_kwh"] for line in lines]
    assert kwh[0] > 0 and kwh == sorted(kwh) and kwh[-1] <= energy["energy_kwh"]
    assert all({"co2_kg", "cpu_kwh", "ram_kwh"} <= set(line) for line in lines)
    board = _tensorboard(run)
    assert sorted(board["energy_kwh"]) == [5, 10, 15] and sorted(board["co2_kg"]) == [5, 10, 15]
    assert board["energy_kwh"][5] == pytest.approx(kwh[0])


def test_co2_is_energy_times_the_country_grid_intensity(country_runs):
    from codecarbon.input import DataSource

    runs, _ = country_runs
    grid = DataSource().get_global_energy_mix_data()  # codecarbon's own data, g CO2eq / kWh
    for country, run in runs.items():
        energy = _energy(run)
        intensity = grid[country]["carbon_intensity"]
        assert energy["co2_kg"] == pytest.approx(energy["energy_kwh"] * intensity / 1000, rel=1e-9)
        assert energy["carbon_intensity_g_per_kwh"] == pytest.approx(intensity)
        for line in _metrics(run):
            assert line["co2_kg"] == pytest.approx(line["energy_kwh"] * intensity / 1000, rel=1e-9)
    assert _energy(runs["POL"])["carbon_intensity_g_per_kwh"] > 10 * _energy(runs["FRA"])["carbon_intensity_g_per_kwh"]


def test_a_resumed_fit_adds_a_session(tmp_path):
    model = _fit(tmp_path, epochs=2)
    first = _energy(tmp_path)
    _fit(tmp_path, model=model, epochs=2)
    energy = _energy(tmp_path)
    sessions = energy["sessions"]
    assert [(s["start_step"], s["steps"]) for s in sessions] == [(0, 10), (10, 10)]
    assert sessions[0]["energy_kwh"] == first["energy_kwh"]
    for key in ("energy_kwh", "co2_kg", "ram_kwh", "duration_s", "steps", "training_flops"):
        assert energy[key] == pytest.approx(sessions[0][key] + sessions[1][key])
    assert energy["training_flops"] == 20 * FLOPS_PER_STEP
    kwh = {line["step"]: line["energy_kwh"] for line in _metrics(tmp_path)}
    assert kwh[15] > first["energy_kwh"] and kwh[20] <= energy["energy_kwh"]  # cumulative over both sessions


@pytest.mark.parametrize("method", ["__init__", "start", "flush", "stop"])
def test_a_codecarbon_failure_warns_once_and_is_recorded(method, tmp_path, monkeypatch, caplog):
    from codecarbon import OfflineEmissionsTracker

    def broken(self, *args, **kwargs):
        raise RuntimeError(f"{method}: no power reading")

    monkeypatch.setattr(OfflineEmissionsTracker, method, broken)
    with caplog.at_level("WARNING", logger="tfpretrain.training.energy"):
        _fit(tmp_path)
    warnings = [r for r in caplog.records if r.name == "tfpretrain.training.energy"]
    assert len(warnings) == 1 and "no power reading" in warnings[0].getMessage()
    energy = _energy(tmp_path)
    assert energy["error"] == f"RuntimeError: {method}: no power reading"
    assert energy["steps"] == 15 and energy["training_flops"] == 15 * FLOPS_PER_STEP
    assert [line["step"] for line in _metrics(tmp_path)] == [5, 10, 15]  # training went on
    assert _live_codecarbon_timers() == []
    if method == "stop":  # the readings before the failure are kept
        assert energy["energy_kwh"] > 0 and "energy_kwh" in _metrics(tmp_path)[-1]
    else:
        assert energy["energy_kwh"] is None and "energy_kwh" not in _metrics(tmp_path)[-1]


def test_bad_country_code_names_the_key():
    data = {"model": {"preset": "bert_tiny"}, "data": {"train": "unused"}}
    for bad in ("fr", "FRAN", "us1"):
        with pytest.raises(ConfigError, match="trainer.energy.country_iso_code"):
            load_experiment(data=data, overrides=[f"trainer.energy.country_iso_code={bad}"])
    with pytest.raises(ConfigError, match="trainer.energy.measure_power_secs"):
        load_experiment(data=data, overrides=["trainer.energy.measure_power_secs=0"])
    energy = load_experiment(data=data, overrides=["trainer.energy.country_iso_code=IND"]).trainer.energy
    assert energy == EnergyConfig(country_iso_code="IND")


def test_classifier_flops_count_every_dense_kernel_and_the_attention(tiny):
    """The closed form against the model's own kernels: 2 FLOPs per multiply-add, x3 for the backward pass."""
    from tfpretrain.models.bert.bert_classifier import BertClassifier
    from tfpretrain.training.flops import classifier_training_flops_per_step

    batch, length, classes = 4, 16, 3
    model = BertClassifier(tiny.bert_backbone(), num_classes=classes)
    backbone = model.backbone
    kernels = lambda layers: sum(int(np.prod(w.shape)) for layer in layers for w in layer.trainable_weights
                                 if "kernel" in w.name)
    per_position = kernels(backbone.transformer_layers)  # QKV, attention output, FFN in, FFN out
    pooled_rows = kernels([backbone.get_layer("pooler"), model.get_layer("classifier_head")])
    attention = 2 * 2 * length * backbone.hidden_dim * backbone.num_layers  # scores + context, per position
    forward = batch * length * (2 * per_position + attention) + batch * 2 * pooled_rows
    assert classifier_training_flops_per_step(backbone, classes, batch, length) == 3 * forward



def test_pretrain_tracks_energy_into_the_run(tmp_path):
    """The trainer's wiring: RUN/energy.json with the analytic FLOPs, the scalars in metrics.jsonl and TensorBoard."""
    from tests.support.corpus import IN_MEMORY, corpus_config, write_corpus
    from tests.support.experiments import tiny_experiment
    from tfpretrain.data.manifest import read_manifest
    from tfpretrain.data.prepare import prepare
    from tfpretrain.training.experiment import resolve_model_config
    from tfpretrain.training.flops import training_flops_per_step
    from tfpretrain.training.trainer import pretrain

    prepare(corpus_config("gpt2", write_corpus(tmp_path / "corpus", documents=40), tmp_path / "data"), IN_MEMORY)
    run = tmp_path / "run"
    experiment = load_experiment(data=tiny_experiment("gpt2", tmp_path / "data", train_steps=4, log_every=2),
                                 overrides=["trainer.energy.country_iso_code=IND"])
    pretrain(experiment, str(run), verbose=0)

    energy = _energy(run)
    assert energy["steps"] == 4 and energy["country_iso_code"] == "IND" and energy["energy_kwh"] > 0
    model_config = resolve_model_config(experiment, read_manifest(str(tmp_path / "data"))["vocabulary_size"])
    assert energy["training_flops"] == 4 * training_flops_per_step(model_config, 8, 32)
    kwh = {line["step"]: line["energy_kwh"] for line in _metrics(run)}
    assert sorted(kwh) == [2, 4] and 0 < kwh[2] <= kwh[4] <= energy["energy_kwh"]
    assert sorted(_tensorboard(run)["co2_kg"]) == [2, 4]
