"""tpu/*.sh: the gcloud commands they print (--dry-run) and run, usage errors, and the quoting of the tfpretrain
command all the way to the process on the TPU VM.

No real gcloud is ever run: a fake `gcloud` first on PATH records its argv, and (FAKE_GCLOUD_EXEC=1) plays one TPU
worker: `tpu-vm ssh --command=C` runs C with bash in a fake $HOME, `tpu-vm scp` copies into it. Fake `uv`, `tmux`
and a fake `tfpretrain` (made by the fake `uv venv`) record what reaches them, so a launch is checked end to end:
local shell -> gcloud argv -> remote shell -> job script -> tmux/nohup -> tfpretrain's sys.argv.
"""

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT, system_tools

TPU_DIR = ROOT / "tpu"
SCRIPTS = ("create.sh", "setup.sh", "launch.sh", "delete.sh")
LIBTPU_INDEX = "https://storage.googleapis.com/libtpu-tf-releases/index.html"
ZONE = "us-central2-b"
# Arguments that break naive quoting: spaces, both quotes, $, backslash, glob and a dotted key=value override.
TRICKY_ARGS = [
    "pretrain",
    "--config",
    "configs/pretrain/bert_base_tpu.yaml",
    "--out",
    "gs://bucket/runs/it's a \"run\" $HOME `x`",
    "data.train=gs://bucket/prepared/bert wordpiece",
    "trainer.optimizer.learning_rate=1e-4",
    "model.dropout=0.1",
    "back\\slash * ?",
    "",
]

FAKE_GCLOUD = """#!{python}
import json, os, shutil, subprocess, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_LOG_DIR"] + "/gcloud.jsonl", "a") as f:
    f.write(json.dumps(argv) + "\\n")
if os.environ.get("FAKE_GCLOUD_EXEC") == "1":
    home = os.environ["HOME"]
    if argv[:4] == ["compute", "tpus", "tpu-vm", "ssh"]:
        command = [a for a in argv if a.startswith("--command=")][0].split("=", 1)[1]
        sys.exit(subprocess.run(["bash", "-c", command], cwd=home).returncode)
    if argv[:4] == ["compute", "tpus", "tpu-vm", "scp"]:
        src, dest = [a for a in argv[4:] if not a.startswith("--")]
        shutil.copy(src, os.path.join(home, dest.split(":", 1)[1]))
"""

FAKE_TFPRETRAIN = """#!{python}
import json, os, sys
record = {{"argv": sys.argv[1:], "cwd": os.getcwd(),
           "env": {{k: os.environ.get(k) for k in ("TPU_NAME", "TPU_LOAD_LIBRARY", "TF_USE_LEGACY_KERAS", "MY_VAR")}}}}
with open(os.environ["FAKE_LOG_DIR"] + "/tfpretrain.jsonl", "a") as f:
    f.write(json.dumps(record) + "\\n")
print("fake tfpretrain ran")
sys.exit(int(os.environ.get("FAKE_TFPRETRAIN_EXIT", "0")))
"""

FAKE_UV = """#!{python}
import json, os, shutil, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_LOG_DIR"] + "/uv.jsonl", "a") as f:
    f.write(json.dumps({{"argv": argv, "cwd": os.getcwd()}}) + "\\n")
if argv[0] == "venv":
    bin_dir = os.path.join(argv[-1], "bin")
    os.makedirs(bin_dir, exist_ok=True)
    for name in ("python", "tfpretrain"):
        shutil.copy(os.path.join(os.path.dirname(__file__), "fake-tfpretrain"), os.path.join(bin_dir, name))
"""

# tmux stand-in: no session exists (unless FAKE_TMUX_BUSY=1); new-session runs its command in -c DIR, synchronously.
FAKE_TMUX = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_LOG_DIR/tmux.log"
case $1 in
    has-session) [[ ${FAKE_TMUX_BUSY:-0} == 1 ]]; exit $? ;;
    new-session)
        shift; dir=.
        while [[ $1 == -* ]]; do case $1 in -c) dir=$2; shift 2 ;; -d) shift ;; *) shift 2 ;; esac; done
        cd "$dir" && exec sh -c "$1" ;;
esac
exit 1
"""


def _write_exe(path, text):
    path.write_text(text.format(python=sys.executable) if "{python}" in text else text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def fake(tmp_path):
    """A sandbox: fake gcloud/uv/tmux first on PATH, a fake $HOME (the 'TPU worker'), log readers."""
    bin_dir, home, logs = tmp_path / "bin", tmp_path / "home", tmp_path / "logs"
    for d in (bin_dir, home, logs):
        d.mkdir()
    _write_exe(bin_dir / "gcloud", FAKE_GCLOUD)
    _write_exe(bin_dir / "uv", FAKE_UV)
    _write_exe(bin_dir / "tmux", FAKE_TMUX)
    _write_exe(bin_dir / "fake-tfpretrain", FAKE_TFPRETRAIN)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "FAKE_LOG_DIR": str(logs),
        "LC_ALL": "C.UTF-8",
    }

    class Sandbox:
        def __init__(self):
            self.home, self.logs, self.bin, self.env, self.tmp = home, logs, bin_dir, env, tmp_path

        def run(self, script, *args, execute=False, extra_env=None, check=True):
            env = {**self.env, "FAKE_GCLOUD_EXEC": "1" if execute else "0", **(extra_env or {})}
            proc = subprocess.run(["bash", str(TPU_DIR / script), *args], env=env, capture_output=True, text=True,
                                  cwd=self.tmp, timeout=60)
            if check:
                assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            return proc

        def records(self, name):
            path = self.logs / f"{name}.jsonl"
            return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

        def venv(self):
            """A 'setup' worker: ~/tfpretrain-venv with the fake tfpretrain, ~/tfpretrain as the workdir."""
            subprocess.run([str(self.bin / "uv"), "venv", str(self.home / "tfpretrain-venv")], env=self.env,
                           check=True)
            (self.home / "tfpretrain").mkdir(exist_ok=True)
            (self.logs / "uv.jsonl").unlink()

    return Sandbox()


def _commands(stdout):
    """Dry-run output -> one argv per line (each line must parse as shell words)."""
    return [shlex.split(line) for line in stdout.splitlines() if line.strip()]


def _command_flag(argv):
    return [a for a in argv if a.startswith("--command=")][0].split("=", 1)[1]


# ------------------------------------------------------------------------------------------------ static checks


@pytest.mark.parametrize("script", [*SCRIPTS, "lib.sh"])
def test_bash_syntax(script):
    subprocess.run(["bash", "-n", str(TPU_DIR / script)], check=True, timeout=30)


def test_shellcheck_clean():
    shellcheck = system_tools.require("shellcheck")
    proc = subprocess.run([shellcheck, "-x", *[str(TPU_DIR / s) for s in SCRIPTS], str(TPU_DIR / "lib.sh")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_strict_and_documented(script, fake):
    text = (TPU_DIR / script).read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert os.access(TPU_DIR / script, os.X_OK), f"tpu/{script} is not executable"
    proc = fake.run(script, "--help")
    assert proc.stdout.startswith("Usage: tpu/" + script) and "--dry-run" in proc.stdout
    assert fake.records("gcloud") == []


def test_quote_round_trips_through_the_shell():
    words = ["plain", "", "it's", 'say "hi"', "$HOME", "a b\tc\nd", "back\\slash", "*", "é ü", "--x=y z", "'"]
    out = subprocess.run(["bash", "-c", 'source tpu/lib.sh; quote "$@"', "_", *words], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=30).stdout
    assert shlex.split(out) == words
    assert out.split(" ")[0] == "plain"  # safe words stay unquoted


# --------------------------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("create.sh", ["--zone", ZONE, "--accelerator-type", "v4-8"], "missing required option --name"),
        ("create.sh", ["--name", "t", "--accelerator-type", "v4-8"], "missing required option --zone"),
        ("create.sh", ["--name", "t", "--zone", ZONE], "missing required option --accelerator-type"),
        ("create.sh", ["--name", "t", "--zone", ZONE, "--accelerator-type", "tpu8"], "does not look like a TPU type"),
        ("create.sh", ["--name", "My_TPU", "--zone", ZONE, "--accelerator-type", "v4-8"], "not a valid TPU name"),
        ("create.sh", ["--name", "t", "--zone", "central", "--accelerator-type", "v4-8"], "does not look like a zone"),
        ("create.sh", ["--name", "t", "--zone", ZONE, "--accelerator-type", "v4-8", "--spot", "--preemptible"],
         "exclude each other"),
        ("create.sh", ["--name", "--zone", ZONE], "option --name needs a value"),
        ("create.sh", ["--name", "t", "--zone", ZONE, "--accelerator-type", "v9x-8"], "no default --version"),
        ("delete.sh", ["--zone", ZONE], "missing required option --name"),
        ("delete.sh", ["--name", "t"], "missing required option --zone"),
        ("delete.sh", ["--name", "t", "--zone", ZONE, "--force"], "unknown argument '--force'"),
        ("setup.sh", ["--zone", ZONE], "missing required option --tpu"),
        ("setup.sh", ["--tpu", "t"], "missing required option --zone"),
        ("setup.sh", ["--tpu", "t", "--zone", ZONE, "--git", "u", "--wheel", "w.whl"], "exclude each other"),
        ("setup.sh", ["--tpu", "t", "--zone", ZONE, "--wheel", "missing.whl"], "is not a .whl file"),
        ("setup.sh", ["--tpu", "t", "--zone", ZONE, "--source", "/"], "not a tfpretrain checkout"),
        ("setup.sh", ["--tpu", "t", "--zone", ZONE, "--ref", "v1"], "--ref only applies to --git"),
        ("setup.sh", ["--tpu", "t", "--zone", ZONE, "--worker", "first"], "--worker 'first'"),
        ("launch.sh", ["--zone", ZONE, "--", "pretrain"], "missing required option --tpu"),
        ("launch.sh", ["--tpu", "t", "--", "pretrain"], "missing required option --zone"),
        ("launch.sh", ["--tpu", "t", "--zone", ZONE], "missing the tfpretrain command after --"),
        ("launch.sh", ["--tpu", "t", "--zone", ZONE, "--"], "missing the tfpretrain command after --"),
        ("launch.sh", ["--tpu", "t", "--zone", ZONE, "pretrain"], "the tfpretrain command goes after --"),
        ("launch.sh", ["--tpu", "t", "--zone", ZONE, "--", "--config", "c"], "not a tfpretrain subcommand"),
        ("launch.sh", ["--tpu", "t", "--zone", ZONE, "--env", "NOVALUE", "--", "pretrain"], "must be KEY=VALUE"),
        ("launch.sh", ["--tpu", "t", "--zone", ZONE, "--mode", "screen", "--", "pretrain"], "--mode 'screen'"),
        ("launch.sh", ["--tpu", "t", "--zone", ZONE, "--single-client", "--worker", "2", "--", "pretrain"],
         "worker 0 only"),
        ("launch.sh", ["--tpu", "t", "--zone", ZONE, "--session", "a b", "--", "pretrain"], "--session 'a b'"),
    ],
)
def test_usage_errors(script, args, message, fake):
    for dry in ([], ["--dry-run"]):
        proc = fake.run(script, *dry, *args, check=False, execute=True)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in proc.stderr and f"tpu/{script} --help" in proc.stderr
        assert proc.stdout == ""
    assert fake.records("gcloud") == []


# ----------------------------------------------------------------------------------------------- create/delete


@pytest.mark.parametrize(
    "accelerator, version",
    [("v4-8", "tpu-ubuntu2204-base"), ("v4-32", "tpu-ubuntu2204-base"), ("v5litepod-16", "v2-alpha-tpuv5-lite"),
     ("v5p-8", "v2-alpha-tpuv5"), ("v6e-8", "v2-alpha-tpuv6e")],
)
def test_create_default_runtime_per_generation(accelerator, version, fake):
    out = fake.run("create.sh", "--name", "my-tpu", "--zone", ZONE, "--accelerator-type", accelerator, "--dry-run")
    assert _commands(out.stdout) == [
        ["gcloud", "compute", "tpus", "tpu-vm", "create", "my-tpu", f"--zone={ZONE}",
         f"--accelerator-type={accelerator}", f"--version={version}"]
    ]


def test_create_dry_run_matches_the_real_invocation(fake):
    args = ["--name=bert-pod", "--zone", "us-east5-a", "--accelerator-type", "v5p-32", "--version",
            "tpu-vm-tf-2.20.0-pod-pjrt", "--project", "my-project-123", "--spot", "--", "--network=my net",
            "--tags=tpu"]
    expected = ["gcloud", "compute", "tpus", "tpu-vm", "create", "bert-pod", "--zone=us-east5-a",
                "--project=my-project-123", "--accelerator-type=v5p-32", "--version=tpu-vm-tf-2.20.0-pod-pjrt",
                "--spot", "--network=my net", "--tags=tpu"]
    dry = fake.run("create.sh", "--dry-run", *args)
    assert _commands(dry.stdout) == [expected]
    assert fake.records("gcloud") == []  # --dry-run runs nothing
    real = fake.run("create.sh", *args)
    assert fake.records("gcloud") == [expected[1:]]
    assert "+ gcloud compute tpus tpu-vm create bert-pod" in real.stderr


def test_delete_dry_run_and_real(fake):
    dry = fake.run("delete.sh", "--name", "my-tpu", "--zone", ZONE, "--dry-run")
    assert _commands(dry.stdout) == [["gcloud", "compute", "tpus", "tpu-vm", "delete", "my-tpu", f"--zone={ZONE}"]]
    fake.run("delete.sh", "--tpu=my-tpu", f"--zone={ZONE}", "--project=p-1", "--yes", "--async")
    assert fake.records("gcloud") == [
        ["compute", "tpus", "tpu-vm", "delete", "my-tpu", f"--zone={ZONE}", "--project=p-1", "--async", "--quiet"]
    ]


# ------------------------------------------------------------------------------------------------------ launch


def test_launch_dry_run_command_line(fake):
    out = fake.run("launch.sh", "--tpu", "my-v4-8", "--zone", ZONE, "--dry-run", "--", *TRICKY_ARGS)
    (argv,) = _commands(out.stdout)
    assert argv[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "my-v4-8"]
    assert f"--zone={ZONE}" in argv and "--worker=all" in argv and not any(a.startswith("--project") for a in argv)
    remote = _command_flag(argv)
    assert "tmux new-session -d -s tfpretrain" in remote and "nohup bash" in remote
    # The job script, as shown on stderr, holds the tfpretrain command with every argument intact.
    job = [line[4:] for line in out.stderr.splitlines() if line.startswith("#   ")]
    (tf_line,) = [line for line in job if "/bin/tfpretrain " in line]
    words = shlex.split(tf_line)
    assert words[0] == "$HOME/tfpretrain-venv/bin/tfpretrain" and words[1:] == TRICKY_ARGS
    assert fake.records("gcloud") == []


@pytest.mark.parametrize("mode", ["foreground", "tmux", "nohup"])
def test_launch_end_to_end_arguments_reach_tfpretrain_exactly(mode, fake):
    fake.venv()
    args = ["--tpu", "my-v4-8", "--zone", ZONE, "--project", "p-1", "--mode", mode, "--env", "MY_VAR=a b 'c'"]
    dry = fake.run("launch.sh", *args, "--dry-run", "--", *TRICKY_ARGS)
    proc = fake.run("launch.sh", *args, "--", *TRICKY_ARGS, execute=True)
    (gcloud_argv,) = fake.records("gcloud")
    assert ["gcloud", *gcloud_argv] == _commands(dry.stdout)[0]  # the dry run shows exactly what runs
    assert f"--zone={ZONE}" in gcloud_argv and "--project=p-1" in gcloud_argv and "--worker=all" in gcloud_argv

    log = fake.home / "tfpretrain-logs" / "tfpretrain.log"
    deadline = time.monotonic() + 20
    while "exit status" not in (log.read_text() if log.exists() else ""):  # nohup runs in the background
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.05)
    (record,) = fake.records("tfpretrain")
    assert record["argv"] == TRICKY_ARGS
    assert record["cwd"] == str(fake.home / "tfpretrain")
    assert record["env"] == {"TPU_NAME": None, "TPU_LOAD_LIBRARY": None, "TF_USE_LEGACY_KERAS": "1",
                             "MY_VAR": "a b 'c'"}
    text = log.read_text()
    assert "starting session tfpretrain" in text and "fake tfpretrain ran" in text and "exit status 0" in text
    assert "+ " in text and "data.train=gs://bucket/prepared/bert wordpiece" in text  # xtrace of the command
    if mode == "foreground":
        assert "fake tfpretrain ran" in proc.stdout
    else:
        assert f"started tfpretrain ({mode})" in proc.stdout
        assert "tail -f ~/tfpretrain-logs/tfpretrain.log" in proc.stderr
    tmux_calls = (fake.logs / "tmux.log").read_text() if (fake.logs / "tmux.log").exists() else ""
    assert ("new-session -d -s tfpretrain" in tmux_calls) == (mode == "tmux")


def test_launch_foreground_returns_the_exit_status(fake):
    fake.venv()
    proc = fake.run("launch.sh", "--tpu", "t", "--zone", ZONE, "--mode=foreground", "--", "pretrain", execute=True,
                    check=False, extra_env={"FAKE_TFPRETRAIN_EXIT": "3"})
    assert proc.returncode == 3
    assert "exit status 3" in (fake.home / "tfpretrain-logs" / "tfpretrain.log").read_text()


def test_launch_single_client_runs_on_worker_0_with_the_tpu_name(fake):
    fake.venv()
    fake.run("launch.sh", "--tpu", "my-v4-32", "--zone", ZONE, "--single-client", "--mode", "foreground",
             "--session", "bert", "--", "pretrain", "--out", "gs://b/run", "trainer.strategy=tpu", execute=True)
    (gcloud_argv,) = fake.records("gcloud")
    assert "--worker=0" in gcloud_argv and "--worker=all" not in gcloud_argv
    (record,) = fake.records("tfpretrain")
    assert record["argv"] == ["pretrain", "--out", "gs://b/run", "trainer.strategy=tpu"]
    assert record["env"]["TPU_NAME"] == "my-v4-32" and record["env"]["TPU_LOAD_LIBRARY"] == "0"
    logs = fake.home / "tfpretrain-logs"
    assert (logs / "bert.sh").exists() and (logs / "bert.log").exists()


def test_launch_never_replaces_a_running_session(fake):
    fake.venv()
    proc = fake.run("launch.sh", "--tpu", "t", "--zone", ZONE, "--", "pretrain", execute=True, check=False,
                    extra_env={"FAKE_TMUX_BUSY": "1"})
    assert proc.returncode == 1 and "tmux session tfpretrain is still running" in proc.stderr
    assert fake.records("tfpretrain") == []


def test_launch_with_real_tmux(fake):
    """The tmux command line works with the real tmux (a private server under TMUX_TMPDIR)."""
    tmux = shutil.which("tmux", path=os.environ["PATH"])
    if tmux is None:
        pytest.skip("tmux is not installed")
    (fake.bin / "tmux").unlink()
    fake.venv()
    sockets = fake.tmp / "tmux-sockets"
    sockets.mkdir()
    fake.run("launch.sh", "--tpu", "t", "--zone", ZONE, "--", *TRICKY_ARGS, execute=True,
             extra_env={"TMUX_TMPDIR": str(sockets)})
    log = fake.home / "tfpretrain-logs" / "tfpretrain.log"
    deadline = time.monotonic() + 20
    while "exit status" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.05)
    (record,) = fake.records("tfpretrain")
    assert record["argv"] == TRICKY_ARGS


# ------------------------------------------------------------------------------------------------------- setup


def _fake_checkout(root):
    (root / "configs" / "pretrain").mkdir(parents=True)
    (root / "setup.py").write_text("# fake\n")
    (root / "configs" / "pretrain" / "bert tiny.yaml").write_text("model: {}\n")
    for junk in (".venv/lib/big", ".git/HEAD", "runs/r1/ckpt", "pkg/__pycache__/m.pyc", "data/corpus/a.txt"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("x")
    return root


def test_setup_from_a_local_checkout(fake):
    src = _fake_checkout(fake.tmp / "my checkout")
    args = ["--tpu", "my-tpu", "--zone", ZONE, "--source", str(src), "--exclude=data"]
    dry = _commands(fake.run("setup.sh", *args, "--dry-run").stdout)
    archive = str(fake.tmp / "tfpretrain-my-tpu-src.tar.gz")
    assert [c[:2] for c in dry] == [["tar", "-czf"], ["gcloud", "compute"], ["gcloud", "compute"], ["rm", "-f"]]
    assert dry[0][:5] == ["tar", "-czf", archive, "-C", str(src)] and "--exclude=.venv" in dry[0]
    assert dry[1] == ["gcloud", "compute", "tpus", "tpu-vm", "scp", archive, "my-tpu:.tfpretrain-src.tar.gz",
                      f"--zone={ZONE}", "--worker=all"]
    assert dry[2][:9] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "my-tpu", f"--zone={ZONE}", "--worker=all",
                          dry[2][8]]
    assert dry[3] == ["rm", "-f", archive] and not Path(archive).exists()

    proc = fake.run("setup.sh", *args, execute=True)
    assert [c[:5] for c in fake.records("gcloud")] == [["compute", "tpus", "tpu-vm", "scp", archive],
                                                       ["compute", "tpus", "tpu-vm", "ssh", "my-tpu"]]
    assert fake.records("gcloud")[1] == dry[2][1:]
    work = fake.home / "tfpretrain"
    assert (work / "setup.py").exists() and (work / "configs" / "pretrain" / "bert tiny.yaml").exists()
    for junk in (".venv", ".git", "runs", "pkg/__pycache__", "data"):
        assert not (work / junk).exists(), junk
    assert not Path(archive).exists() and not (fake.home / ".tfpretrain-src.tar.gz").exists()
    venv_call, pip_call = fake.records("uv")
    assert venv_call["argv"] == ["venv", "--quiet", "--python", "3.11", str(fake.home / "tfpretrain-venv")]
    assert pip_call["argv"] == ["pip", "install", "--python", str(fake.home / "tfpretrain-venv" / "bin" / "python"),
                                "--find-links", LIBTPU_INDEX, ".[tpu]"]
    assert pip_call["cwd"] == str(work)
    assert fake.records("tfpretrain")[0]["argv"] == ["--help"]  # the install is checked
    assert "tfpretrain installed in" in proc.stdout

    # Again (code changed): the venv is reused, the copy and the install are refreshed.
    (fake.logs / "uv.jsonl").unlink()
    fake.run("setup.sh", *args, execute=True)
    assert [c["argv"][0] for c in fake.records("uv")] == ["pip"]


def test_setup_from_a_wheel_with_options(fake):
    wheel = fake.tmp / "tfpretrain-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    fake.run("setup.sh", "--tpu", "t", "--zone", ZONE, "--worker", "0,1", "--wheel", str(wheel), "--extras",
             "tpu,eval", "--python", "3.11", "--venv", "envs/tfp", "--workdir", str(fake.tmp / "tfp work"),
             "--find-links=", execute=True)
    scp, ssh = fake.records("gcloud")
    assert scp == ["compute", "tpus", "tpu-vm", "scp", str(wheel), f"t:{wheel.name}", f"--zone={ZONE}",
                   "--worker=0,1"]
    assert "--worker=0,1" in ssh
    _venv_call, pip_call = fake.records("uv")
    assert pip_call["argv"] == ["pip", "install", "--python", str(fake.home / "envs/tfp/bin/python"),
                                f"tfpretrain[tpu,eval] @ file://{fake.home}/{wheel.name}"]
    assert pip_call["cwd"] == str(fake.tmp / "tfp work")


def test_setup_git_and_package_dry_runs(fake):
    (cmd,) = _commands(fake.run("setup.sh", "--tpu", "t", "--zone", ZONE, "--git", "https://example.org/o/tfp.git",
                                "--ref", "v0.1.0", "--dry-run").stdout)
    remote = _command_flag(cmd)
    assert "git clone --quiet https://example.org/o/tfp.git \"$HOME\"/tfpretrain" in remote
    assert "fetch --quiet https://example.org/o/tfp.git v0.1.0" in remote
    assert "checkout --quiet --force FETCH_HEAD" in remote
    assert remote.index("git clone") < remote.index("pip install") and "'.[tpu]'" in remote

    spec = "tfpretrain[tpu] @ git+https://example.org/o/tfp.git@v0.1.0"
    (cmd,) = _commands(fake.run("setup.sh", "--tpu", "t", "--zone", ZONE, "--package", spec, "--dry-run").stdout)
    assert shlex.quote(spec) in _command_flag(cmd)


@pytest.mark.parametrize("worker", ["0", "3", "1-3", "0,2", "0-1,4"])
def test_worker_selections_pass_through(worker, fake):
    for script, args in (("launch.sh", ["--", "pretrain"]), ("setup.sh", ["--package", "tfpretrain[tpu]"])):
        commands = _commands(fake.run(script, "--tpu", "t", "--zone", ZONE, "--worker", worker, "--dry-run",
                                      *args).stdout)
        assert f"--worker={worker}" in commands[-1]
