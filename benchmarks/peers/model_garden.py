"""The driver side of the Model Garden peer: a subprocess in the peer environment (model_garden_bert.py), asked
for timed steps one round at a time so that its rounds alternate with ours under the same load."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PEER_PYTHON = HERE.parents[1] / ".venv-peers" / "bin" / "python"
SCRIPT = HERE / "model_garden_bert.py"
NAME = "Model Garden BertPretrainerV2"


class PeerError(RuntimeError):
    """The peer process could not start, or answered with an error."""


class ModelGardenProcess:
    """One Model Garden model (one jit setting) in its own process. `ask(n)` -> {"wall", "cpu", "losses"}."""

    def __init__(self, config, batch, python=PEER_PYTHON, script=SCRIPT, env=None):
        python = Path(python)
        if not python.exists():
            raise PeerError(f"no peer environment at {python}: run `make bench-peers` (tensorflow 2.20 + "
                            "tf-models-official 2.20 in .venv-peers) first")
        self._dir = tempfile.TemporaryDirectory(prefix="model_garden_")
        batch_path = os.path.join(self._dir.name, "batch.npz")
        np.savez(batch_path, **batch)
        self._log = open(os.path.join(self._dir.name, "stderr.log"), "w+")
        self.process = subprocess.Popen([str(python), str(script), json.dumps({**config, "batch": batch_path})],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                        env=None if env is None else {**os.environ, **env})
        self.info = self._read()  # {"ready", "tensorflow", "parameters"} once the model is built

    def _read(self):
        line = self.process.stdout.readline()
        record = json.loads(line) if line.strip() else {"error": f"exited with {self.process.wait()}"}
        if "error" in record:
            self._log.seek(0)
            tail = self._log.read()[-2000:]
            self.close()
            raise PeerError(f"{NAME}: {record['error']}" + (f"\n{tail}" if os.environ.get("BENCH_TRACEBACK") else ""))
        return record

    def ask(self, steps, profile_dir=None):
        """Time `steps` steps; with `profile_dir`, under tf.profiler writing there."""
        command = f"time {int(steps)}" if profile_dir is None else f"profile {int(steps)} {profile_dir}"
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
        self._log.close()
        self._dir.cleanup()


if __name__ == "__main__":
    sys.exit("run benchmarks/train_step.py --peer model-garden")
