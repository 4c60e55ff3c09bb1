"""A `tfpretrain` subcommand run as a two-worker MultiWorkerMirroredStrategy cluster on 127.0.0.1 (TF_CONFIG per
process), for the trainers' multi-worker tests. Every process is reaped, whatever happens."""

import json
import os
import subprocess
import sys
import time

from tests.support import ROOT
from tests.support.ports import free_ports


def run_two_workers(argv, log_dir, timeout=300):
    """`python -m tfpretrain.cli ARGV trainer.strategy=multi_worker` as workers 0 and 1; fails with a worker's log
    when one exits non-zero or the pair takes longer than `timeout` seconds."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs, logs = [], [log_dir / f"worker{i}.err" for i in range(2)]
    try:
        for index, log in enumerate(logs):
            tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
            env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CONFIG": tf_config, "CUDA_VISIBLE_DEVICES": ""}
            with open(log, "w") as err:  # a file, not a pipe: nothing can fill up and block
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "tfpretrain.cli", *map(str, argv), "trainer.strategy=multi_worker"],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
                ))
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in procs) and not any(p.returncode for p in procs):
            assert time.monotonic() < deadline, f"the two workers did not finish in {timeout} s"
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log.read_text()[-4000:]
