"""benchmarks/peers/: the Model Garden peer's driver protocol, with a stand-in peer script (CI has no TF 2.20
environment), and the one clear error when `make bench-peers` has not been run."""

import json
import sys

import numpy as np
import pytest

from tests.support import load_benchmark

FAKE_PEER = """
import json, sys
config = json.loads(sys.argv[1])
import numpy as np
with np.load(config["batch"]) as batch:
    rows = int(batch["token_ids"].shape[0])
if config.get("fail"):
    print(json.dumps({"error": "ValueError: bad config"}), flush=True)
    sys.exit(1)
print(json.dumps({"ready": True, "tensorflow": "2.20.0", "parameters": rows}), flush=True)
for line in sys.stdin:
    command, _, n = line.strip().partition(" ")
    if command == "quit":
        break
    n = int(n)
    print(json.dumps({"wall": [0.5] * n, "cpu": [0.25] * n, "losses": [1.0] * n}), flush=True)
"""


@pytest.fixture
def fake_peer(tmp_path):
    script = tmp_path / "fake_peer.py"
    script.write_text(FAKE_PEER)
    return script


def test_the_driver_reads_each_round_from_the_peer_process(fake_peer):
    bench = load_benchmark("train_step")
    batch = {"token_ids": np.zeros((3, 8), np.int32)}
    peer = bench.model_garden.ModelGardenProcess({"jit_compile": True}, batch, sys.executable, fake_peer)
    assert peer.info == {"ready": True, "tensorflow": "2.20.0", "parameters": 3}  # it read the batch we wrote
    assert peer.ask(2) == {"wall": [0.5, 0.5], "cpu": [0.25, 0.25], "losses": [1.0, 1.0]}
    peer.close()
    assert peer.process.returncode == 0


def test_a_peer_error_is_one_message(fake_peer):
    bench = load_benchmark("train_step")
    with pytest.raises(bench.model_garden.PeerError, match="Model Garden BertPretrainerV2: ValueError: bad config"):
        bench.model_garden.ModelGardenProcess({"fail": True}, {"token_ids": np.zeros((1, 1))}, sys.executable,
                                              fake_peer)


def test_without_the_peer_environment_the_row_says_to_run_make_bench_peers(tmp_path):
    bench = load_benchmark("train_step")
    variant = bench.ModelGardenVariant(True, python=tmp_path / "missing" / "python")
    variant.guarded(variant.build, None, bench.BenchConfig(), {})
    assert "make bench-peers" in variant.error and variant.step_s is None
    summary = bench.summarize("bert", bench.BenchConfig(), [variant], bench.MatmulRate(flops_per_s=1e9))
    assert summary["ratio_model_garden"] is None and summary["targets"]["ratio_model_garden>=1.2"] is None
    assert json.loads(bench.json_line(summary))["peer_model_garden_tokens_per_s"] is None


def test_peer_flags():
    bench = load_benchmark("train_step")
    assert bench.parse_args([]).model_garden_python is None
    args = bench.parse_args(["--peer", "model-garden", "--peer-python", "/x/python"])
    assert args.model_garden_python == "/x/python"
