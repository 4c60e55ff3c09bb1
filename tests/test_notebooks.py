"""notebooks/*.ipynb: executed top to bottom with nbclient in a fresh kernel (this venv's Python), with
TFPRETRAIN_NOTEBOOK_SMOKE=1 (tiny sizes) in a scratch directory; then their files and outputs are checked.

The notebooks are committed without outputs; the test runs an in-memory copy and never writes them back.
"""

import json
import os
import re
import sys

import pytest

from tests.support import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = ROOT / "notebooks"
NAMES = ("pretrain_bert_tpu.ipynb", "gpt2_pretrain_and_generate.ipynb", "finetune_and_fairness.ipynb")
SMOKE_LINE = 'SMOKE = os.environ.get("TFPRETRAIN_NOTEBOOK_SMOKE") == "1"'
CELL_TIMEOUT = 600


def _read(name):
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def _code(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _resolved_kernel_python(manager):
    """The executable the kernel spec `python3` starts (jupyter_client runs bare `python` as sys.executable)."""
    try:
        argv = manager.get_kernel_spec("python3").argv
    except Exception:  # no such kernel spec
        return None
    names = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    return sys.executable if argv[0] in names else argv[0]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """Make sure kernel `python3` is this interpreter: if the installed spec starts another Python, put a spec
    for sys.executable first on JUPYTER_PATH. Also: smoke sizes, this checkout first on sys.path, no GPU."""
    from jupyter_client.kernelspec import KernelSpecManager

    saved = dict(os.environ)
    if _resolved_kernel_python(KernelSpecManager()) != sys.executable:
        spec_dir = tmp_path_factory.mktemp("jupyter") / "kernels" / "python3"
        spec_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (tfpretrain tests)", "language": "python"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [str(spec_dir.parent.parent), *filter(None, [os.environ.get("JUPYTER_PATH")])])
        assert _resolved_kernel_python(KernelSpecManager()) == sys.executable
    os.environ.update({
        "TFPRETRAIN_NOTEBOOK_SMOKE": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
    })
    yield
    os.environ.clear()
    os.environ.update(saved)


def _execute(name, cwd):
    """Run the notebook in `cwd`; returns the executed (in-memory) notebook. A failing cell fails the test with
    the cell's traceback."""
    nb = _read(name)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _outputs(nb):
    """All text a notebook printed or displayed, and the MIME types of its rich outputs."""
    text, mimes = [], set()
    for cell in _code(nb):
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{out.ename}: {out.evalue}"
            if out.output_type == "stream":
                text.append(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                mimes.update(out.data)
                text.append(out.data.get("text/plain", ""))
    return "".join(text), mimes


# -------------------------------------------------------------------------------------------------- static


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean(name):
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = _code(nb)
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "commit notebooks with outputs cleared"
    assert SMOKE_LINE in code[0].source, "the first code cell defines SMOKE"
    source = "\n".join(cell.source for cell in code)
    # Public API only: no private names from tfpretrain, no test helpers.
    assert not re.search(r"from tfpretrain[\w.]* import [^\n]*\b_\w", source)
    assert not re.search(r"tfpretrain(\.\w+)*\._\w", source) and "from tests" not in source
    # The install cell is guarded: pip runs only where tfpretrain is not importable.
    install = next(cell.source for cell in code if "!pip install" in cell.source)
    assert 'importlib.util.find_spec("tfpretrain") is None' in install


# ------------------------------------------------------------------------------------------------ executed


def test_01_pretrain_bert(kernel_env, tmp_path):
    nb = _execute(NAMES[0], tmp_path)
    text, _ = _outputs(nb)
    run = tmp_path / "bert_on_tpu" / "runs" / "bert"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [5, 10] and "val_loss" in metrics[-1]
    assert all(m["loss"] > 0 for m in metrics)
    assert (run / "final" / "config.json").exists() and (run / "tokenizer.json").exists()
    assert (tmp_path / "bert_on_tpu" / "prepared" / "bert" / "manifest.json").exists()
    assert "tfpretrain is already installed" in text  # the pip cell was skipped
    assert re.search(r"_DefaultDistributionStrategy|OneDeviceStrategy|MirroredStrategy", text)
    assert "train:" in text and "NSP pairs" in text
    assert re.search(r"^\s+10\s+\d+\.\d{4}", text, re.M), "the metrics table (or plot) of the loss"
    assert "[MASK]" in text and "parameters" in text
    assert "bert_base 12 768 gs://YOUR_BUCKET/prepared/bert_wordpiece tpu mixed_bfloat16 1024" in text


def test_02_gpt2_pretrain_and_generate(kernel_env, tmp_path):
    nb = _execute(NAMES[1], tmp_path)
    text, _ = _outputs(nb)
    run = tmp_path / "gpt2_pretrain" / "runs" / "gpt2"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [5, 10]
    assert (run / "final" / "config.json").exists() and (run / "tokenizer.json").exists()
    samples = re.findall(r"^\[sample\] '(.+?)' -> '(.*)'$", text, re.M)
    assert len(samples) == 6, text[-3000:]  # 3 prompts, greedy and sampled
    for prompt, generated in samples:
        assert generated.startswith(prompt) and len(generated) > len(prompt)
    assert "== greedy" in text and "== sampling" in text
    assert "gpt2_124m 12 768 gs://YOUR_BUCKET/prepared/gpt2_bpe tpu" in text


def test_finetune_and_fairness(kernel_env, tmp_path):
    from tfpretrain.reporting.report.page import read_report_data

    nb = _execute(NAMES[2], tmp_path)
    text, mimes = _outputs(nb)
    out = tmp_path / "fairness_report"
    assert (out / "predictions.csv").exists() and (out / "metrics.csv").exists() and (out / "metrics.json").exists()
    rows = read_report_data(out / "report.html")["rows"]
    fpr = {r["slice"]: r["value"] for r in rows if r["metric"] == "false_positive_rate" and r["threshold"] == 0.5}
    assert fpr["group=B"] - fpr["group=A"] > 0.1  # the planted gap is found
    assert abs(fpr["region=north"] - fpr["region=south"]) < 0.1
    assert "fairness gate FAILED" in text and "group=B" in text
    assert "image/svg+xml" in mimes and "text/html" in mimes
    assert "synthetic" in (out / "report.html").read_text().lower()
    # part A: the fine-tuned, exported classifier evaluated by TFMA per group
    assert (out / "classifier" / "export" / "saved_model.pb").exists()
    counts = {r["slice"]: r["value"] for r in read_report_data(out / "classifier_fairness" / "report.html")["rows"]
              if r["metric"] == "example_count"}
    assert counts["overall"] == 200 and {"gender=female", "religion=muslim"} <= set(counts)
