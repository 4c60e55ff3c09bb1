"""Energy and CO2 of a training run: codecarbon's offline tracker around `fit`, with no network access.

    RUN/energy.json   totals over every session of the run (a resumed run appends a session and adds to them):
                      energy_kwh, co2_kg, cpu_kwh, gpu_kwh, ram_kwh, duration_s, steps, training_flops (analytic,
                      flops.py); where and how this session was measured: country_iso_code, region,
                      carbon_intensity_g_per_kwh, cpu_power_method, cpu_model, gpu_model, tracker; "sessions";
                      "error" when codecarbon failed. Rewritten atomically at each interval end and at train end.
    scalars           cumulative energy_kwh, co2_kg, cpu_kwh, gpu_kwh, ram_kwh at each interval end, through
                      ScalarLogger's `extra_scalars` hook: TensorBoard (RUN/tensorboard/train) and metrics.jsonl

codecarbon measures the whole host (machine mode): the CPU by RAPL counters where readable, else from its TDP
(from codecarbon's table, or 4 W per thread) scaled by CPU load; RAM by its model; NVIDIA/AMD GPUs by NVML/AMDSMI.
cpu_power_method records what it chose. CO2 = energy x the grid carbon intensity of the configured country (or US
state / Canadian province) from codecarbon's bundled data.

MultiWorkerMirroredStrategy: every process measures its own host into its own worker directory
(trainer.worker_dir), so the chief's RUN/energy.json covers the chief's host only; the job's energy is its sum with
RUN/.worker-*/energy.json (hosts running several workers count their machine once per worker). training_flops counts
the whole job (the global batch).

Tracking never stops training: a codecarbon failure logs one warning, and energy.json gets "error" next to the
steps, duration and FLOPs (and the energy read before the failure, if any).
"""

import functools
import json
import logging
import os
import threading
import time

from tfpretrain.atomic import write_text
from tfpretrain.keras import keras
from tfpretrain.runs import RunDir

log = logging.getLogger(__name__)

SCALARS = ("energy_kwh", "co2_kg", "cpu_kwh", "gpu_kwh", "ram_kwh")
TOTALS = (*SCALARS, "duration_s", "steps", "training_flops")
_DATA_FIELDS = {"energy_kwh": "energy_consumed", "co2_kg": "emissions", "cpu_kwh": "cpu_energy",
                "gpu_kwh": "gpu_energy", "ram_kwh": "ram_energy"}  # ours -> codecarbon's EmissionsData
_CPU_METHODS = {  # codecarbon's CPU modes
    "intel_rapl": "RAPL energy counters",
    "windows_emi": "Windows Energy Meter Interface (RAPL)",
    "intel_power_gadget": "Intel Power Gadget",
    "cpu_load": "TDP estimate scaled by CPU load",
    "constant": "constant: half the TDP",
}


def _unsuppressed(function):
    """codecarbon wraps start/flush/stop and the offline tracker's __init__ in @suppress(Exception), which only
    logs; the function under it lets a failure reach us, to be reported once and recorded."""
    return getattr(function, "__wrapped__", function)


def _output_handler():
    from codecarbon.output_methods.base_output import BaseOutput

    class Latest(BaseOutput):
        """Keeps the totals codecarbon hands its outputs at each flush/stop (its public extension point)."""

        total = None

        def out(self, total, delta):
            self.total = total

    return Latest()


def _cpu_power_method(tracker):
    # codecarbon keeps no public record of the CPU method it picked; its hardware objects carry it.
    for hardware in getattr(tracker, "_hardware", []):
        kind = type(hardware).__name__
        if kind == "CPU":
            method = _CPU_METHODS.get(hardware._mode, hardware._mode)
            return f"{method} ({hardware._tdp:g} W TDP)" if hardware._mode in ("cpu_load", "constant") else method
        if kind in ("AppleSiliconChip", "Raspberry") and hardware.chip_part == "CPU":
            return "Apple powermetrics" if kind == "AppleSiliconChip" else "Raspberry Pi PMIC"
    return None


@functools.cache
def _codecarbon_version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("codecarbon")
    except PackageNotFoundError:
        return "(not installed)"


class EnergyTracker(keras.callbacks.Callback):
    """Track energy and CO2 of `fit` into RUN/energy.json; `scalars(step)` is ScalarLogger's extra_scalars hook.

    `config` is an EnergyConfig; `flops_per_step` (analytic, flops.py) may be set any time before training ends.
    Make the callback early (before building the model): codecarbon's hardware probe (about a second, py-cpuinfo
    times the clock) runs in a thread meanwhile, and on_train_begin waits for it.
    """

    def __init__(self, run_dir, config, flops_per_step=None):
        super().__init__()
        self.path = RunDir(run_dir).energy
        self.config, self.flops_per_step = config, flops_per_step
        self._tracker, self._error, self._warned, self._output = None, None, False, None
        self._reading, self._describe = {}, {}
        self._measured_step = None
        try:  # imports here, not in the thread: no import-lock interplay with the main thread
            import codecarbon.input  # noqa: F401

            logging.getLogger("codecarbon").setLevel(logging.ERROR)  # before its constructor's first INFO line
        except Exception as e:
            self._error = f"{type(e).__name__}: {e}"
        self._setup = threading.Thread(target=self._create, name="codecarbon-setup", daemon=True)
        self._setup.start()

    def _create(self):
        if self._error is not None:
            return
        try:
            from codecarbon import OfflineEmissionsTracker
            from codecarbon.input import DataSource

            self._output = _output_handler()
            tracker = OfflineEmissionsTracker.__new__(OfflineEmissionsTracker)
            # Explicit values beat ~/.codecarbon.config and CODECARBON_* variables: no CSV, API, Prometheus,
            # Logfire or HTTP output, no Electricity Maps token, no cloud lookup, no lock file in /tmp.
            _unsuppressed(OfflineEmissionsTracker.__init__)(
                tracker,
                country_iso_code=self.config.country_iso_code,
                region=self.config.region,
                cloud_provider=None,
                cloud_region=None,
                country_2letter_iso_code=None,
                measure_power_secs=self.config.measure_power_secs,
                output_methods=[],
                output_handlers=[self._output],
                emissions_endpoint=False,
                electricitymaps_api_token="",
                api_call_interval=-1,
                allow_multiple_runs=True,
                tracking_mode="machine",
                log_level="error",
            )
            tracker.get_detected_hardware()  # the slow probe, here rather than in on_train_begin
            if self.config.country_iso_code not in DataSource().get_global_energy_mix_data():
                log.warning("trainer.energy.country_iso_code: codecarbon has no data for %r; CO2 uses its world "
                            "average", self.config.country_iso_code)
            self._tracker = tracker
        except Exception as e:
            self._error = f"{type(e).__name__}: {e}"

    def _fail(self, error):
        """Record the first failure, warn once, and stop codecarbon's threads if they run."""
        if not self._warned:
            if self._error is None:
                self._error = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
            log.warning("energy tracking failed, training goes on without it: %s", self._error)
            self._warned = True
        if self._tracker is not None:
            tracker, self._tracker = self._tracker, None
            for stop in (tracker.stop, *(getattr(getattr(tracker, name, None), "stop", None)
                                        for name in ("_scheduler", "_scheduler_monitor_power"))):
                try:  # codecarbon's suppressed stop, and its timer threads directly should that fail too
                    if stop is not None:
                        stop()
                except Exception:
                    pass

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        self._start_step, self._start_time = self._step(), time.monotonic()
        self._previous = self._previous_sessions()
        self._setup.join()
        if self._error is not None:
            self._fail(self._error)
            return
        try:
            _unsuppressed(type(self._tracker).start)(self._tracker)
            self._describe = {"cpu_power_method": _cpu_power_method(self._tracker)}
        except Exception as e:
            self._fail(e)

    def _previous_sessions(self):
        if not os.path.exists(self.path):
            return []
        try:
            with open(self.path) as f:
                return list(json.load(f)["sessions"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("%s: unreadable (%s); energy totals restart from this session", self.path, e)
            return []

    def _measure(self, final):
        """Take a reading (flush, or stop at the end) and rewrite energy.json; a failure is recorded, not raised."""
        if self._tracker is not None:
            try:
                method = type(self._tracker).stop if final else type(self._tracker).flush
                _unsuppressed(method)(self._tracker)
                data = self._output.total
                self._reading = {key: float(getattr(data, field)) for key, field in _DATA_FIELDS.items()}
                self._describe.update(country_iso_code=data.country_iso_code, region=data.region,
                                      cpu_model=data.cpu_model or None, gpu_model=data.gpu_model or None)
                if final:
                    self._tracker = None
            except Exception as e:
                self._fail(e)
        record = self._record()
        try:
            write_text(self.path, json.dumps(record, indent=2) + "\n")
        except OSError as e:
            self._fail(e)
        return record

    def _record(self):
        steps = self._step() - self._start_step
        session = {
            "start_step": self._start_step,
            "end_step": self._start_step + steps,
            "steps": steps,
            "duration_s": time.monotonic() - self._start_time,
            **{key: self._reading.get(key) for key in SCALARS},
            "training_flops": steps * self.flops_per_step if self.flops_per_step else None,
            "country_iso_code": self.config.country_iso_code,
            "region": self.config.region,
            "cpu_power_method": None,
            "cpu_model": None,
            "gpu_model": None,
            **self._describe,
            "carbon_intensity_g_per_kwh": _intensity(self._reading),
            "tracker": f"codecarbon {_codecarbon_version()} offline",
        }
        if self._error is not None:
            session["error"] = self._error
        sessions = [*self._previous, session]
        totals = {key: _sum(s.get(key) for s in sessions) for key in TOTALS}
        record = {**session, **totals, "carbon_intensity_g_per_kwh": _intensity(totals), "sessions": sessions}
        for key in ("start_step", "end_step"):
            record.pop(key)
        return record

    def scalars(self, step):
        """Cumulative energy_kwh, co2_kg and per-component kWh of the whole run at `step` (ScalarLogger's
        extra_scalars hook); empty when nothing was measured."""
        if self._measured_step != step:
            self._measured_step, self._last = step, self._measure(final=False)
        return {key: self._last[key] for key in SCALARS if self._last.get(key) is not None}

    def on_epoch_end(self, epoch, logs=None):
        self.scalars(self._step())  # energy.json each interval, if ScalarLogger did not ask for it first

    def on_train_end(self, logs=None):
        self._measure(final=True)


def _sum(values):
    values = [v for v in values if v is not None]
    return sum(values) if values else None


def _intensity(reading):
    energy, co2 = reading.get("energy_kwh"), reading.get("co2_kg")
    return 1000.0 * co2 / energy if energy and co2 is not None else None
