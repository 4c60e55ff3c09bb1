"""The command line: a fast --help, every command's flags, exit statuses, and bad input as one line on stderr
(exit 2, no traceback, nothing half-written) for every command; --debug and real bugs keep their traceback."""

import json
import os
import subprocess
import sys
import types

import pytest

from tests.support import ROOT
from tfpretrain import cli
from tfpretrain.errors import UserError

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # C++ logs of TensorFlow go to the process's stderr, not to capsys


def _bad_input(argv, capsys):
    """Run the CLI in-process on bad input; -> the one stderr line that starts with 'tfpretrain'."""
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("tfpretrain")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tfpretrain {argv[0]}: error: ")
    return lines[0]


def _tree(path):
    """{relative path: bytes} of everything under path, or None when it does not exist."""
    if not path.exists():
        return None
    return {str(p.relative_to(path)): p.read_bytes() if p.is_file() else None for p in sorted(path.rglob("*"))}


# --------------------------------------------------------------------------------------------- parser and help


def test_help_imports_neither_tensorflow_nor_beam():
    script = ("import sys\nfrom tfpretrain import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit as e:\n"
              "    assert e.code == 0\nheavy = sorted(m for m in sys.modules if m.split('.')[0] in "
              "('tensorflow', 'tf_keras', 'apache_beam', 'tensorflow_model_analysis'))\nprint('HEAVY', heavy)\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "HEAVY []" in run.stdout
    for command in cli.COMMANDS:
        assert command in run.stdout


def _parse(argv):
    args, unknown = cli.build_parser(argv[0]).parse_known_args(argv)
    return vars(args), unknown


def test_every_documented_flag_parses():
    """The flags the README documents, per command, reach the command with their values."""
    args, _ = _parse(["prepare", "--config", "c.yaml", "--input", "a/*.txt", "--input", "b.jsonl", "--output", "o",
                      "num_shards=2"])
    assert (args["config"], args["input"], args["output"], args["overrides"]) == ("c.yaml", ["a/*.txt", "b.jsonl"],
                                                                                  "o", ["num_shards=2"])
    args, _ = _parse(["pretrain", "--config", "c.yaml", "--out", "r", "--resume", "--verbose", "2", "x=1"])
    assert (args["out"], args["resume"], args["verbose"], args["overrides"]) == ("r", True, 2, ["x=1"])
    args, _ = _parse(["finetune", "--config", "c.yaml", "--out", "r", "--resume", "--verbose", "0", "init=runs/bert"])
    assert (args["out"], args["resume"], args["verbose"], args["overrides"]) == ("r", True, 0, ["init=runs/bert"])
    args, _ = _parse(["evaluate", "--model", "m", "--data", "d", "--label-column", "l", "--score-column", "s",
                      "--config", "c", "--slices", "a,b", "--intersection", "a&b", "--thresholds", "0.5",
                      "--confidence", "none", "--min-slice-size", "5", "--probes", "p", "--audit", "q",
                      "--explain", "2", "--explain-steps", "8", "--out", "o"])
    assert (args["model"], args["intersection"], args["min_slice_size"], args["probes"], args["audit"],
            args["explain"], args["explain_steps"]) == ("m", ["a&b"], 5, ["p"], ["q"], 2, 8)
    args, _ = _parse(["probe", "--model", "m", "--probe", "stereoset", "--data", "d", "--out", "o", "--batch-size",
                      "8", "--confidence", "jackknife"])
    assert (args["probe"], args["batch_size"], args["confidence"]) == ("stereoset", 8, "jackknife")
    args, _ = _parse(["audit", "--model", "m", "--canaries", "c.json", "--out", "o", "--candidates", "30", "--seed",
                      "1", "--batch-size", "4"])
    assert (args["canaries"], args["candidates"], args["seed"], args["batch_size"]) == ("c.json", 30, 1, 4)
    args, _ = _parse(["export", "--run", "r", "--out", "o"])
    assert (args["run"], args["out"]) == ("r", "o")
    args, _ = _parse(["generate", "--run", "r", "--prompt", "a", "--prompt", "b", "--max-length", "9", "--sampler",
                      "greedy", "--temperature", "1.5", "--top-k", "3", "--top-p", "0.5", "--seed", "2"])
    assert (args["prompt"], args["max_length"], args["sampler"], args["top_k"]) == (["a", "b"], 9, "greedy", 3)
    args, _ = _parse(["demo", "--out", "o", "--bert-steps", "3", "--gpt2-steps", "4", "--finetune-steps", "5",
                      "--seed", "6"])
    assert (args["bert_steps"], args["gpt2_steps"], args["finetune_steps"], args["seed"]) == (3, 4, 5, 6)


def test_unknown_flags_go_to_beam_only_for_prepare_and_evaluate(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["export", "--run", "r", "--out", "o", "--runner=DirectRunner"])
    assert caught.value.code == 2 and "unrecognized arguments: --runner=DirectRunner" in capsys.readouterr().err
    args, unknown = _parse(["prepare", "--config", "c.yaml", "--runner=DataflowRunner", "--project=p"])
    assert unknown == ["--runner=DataflowRunner", "--project=p"] and args["unknown_flags_to_beam"]


# ------------------------------------------------------------------------------------ exit status of evaluate


def _fake_evaluate(monkeypatch, gate):
    from tfpretrain.commands import evaluate as command

    seen = {}

    def evaluate(out, **kwargs):
        seen.update(kwargs, out=out)
        return [], gate, {"report": os.path.join(out, "report.html")}

    monkeypatch.setattr(command, "evaluate", evaluate)
    return seen


@pytest.mark.parametrize("exit_code", [0, 1, 3])
def test_evaluate_exits_with_the_gate_status(monkeypatch, capsys, tmp_path, exit_code):
    gate = types.SimpleNamespace(exit_code=exit_code, passed=exit_code == 0, message=lambda: f"gate says {exit_code}")
    seen = _fake_evaluate(monkeypatch, gate)
    argv = ["evaluate", "--predictions", "p.csv", "--out", str(tmp_path / "o"), "--thresholds", "0.25,0.5",
            "--slices", "gender,religion", "--intersection", "gender&religion", "--confidence", "none",
            "--direct_running_mode=in_memory"]
    if exit_code:
        with pytest.raises(SystemExit) as caught:
            cli.main(argv)
        assert caught.value.code == exit_code
    else:
        assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"gate says {exit_code}" in out and f"report: {tmp_path / 'o' / 'report.html'}" in out
    assert seen["thresholds"] == [0.25, 0.5] and seen["slices"] == ["gender", "religion"]
    assert seen["intersections"] == [["gender", "religion"]] and seen["confidence"] is None
    assert seen["pipeline_options"] == ["--direct_running_mode=in_memory"]


def test_evaluate_without_a_gate_exits_0(monkeypatch, tmp_path):
    _fake_evaluate(monkeypatch, None)
    assert cli.main(["evaluate", "--predictions", "p.csv", "--out", str(tmp_path)]) == 0


# ------------------------------------------------------------------------- bad input: one line, exit 2, no mess


def test_prepare_bad_input(tmp_path, capsys):
    out = tmp_path / "prepared"
    line = _bad_input(["prepare", "--config", str(ROOT / "configs" / "data" / "bert_wordpiece.yaml"), "--input",
                       str(tmp_path / "nothing" / "*.txt"), "--output", str(out)], capsys)
    assert str(tmp_path / "nothing" / "*.txt") in line  # the pattern that matched nothing
    assert not out.exists()  # prepare had created it before reading the sources


def test_prepare_bad_input_leaves_an_earlier_corpus_as_it_was(tmp_path, capsys):
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "manifest.json").write_text('{"splits": {}}')  # an earlier, finished run
    (out / "train-00000-of-00001.tfrecord").write_bytes(b"records")
    before = _tree(out)
    _bad_input(["prepare", "--config", str(ROOT / "configs" / "data" / "bert_wordpiece.yaml"), "--input",
                str(tmp_path / "typo" / "*.txt"), "--output", str(out)], capsys)
    assert _tree(out) == before


def test_pretrain_bad_input(tmp_path, capsys):
    out = tmp_path / "run"
    line = _bad_input(["pretrain", "--config", str(ROOT / "configs" / "pretrain" / "bert_tiny.yaml"), "--out",
                       str(out), f"data.train={tmp_path / 'no_corpus'}"], capsys)
    assert "no_corpus" in line
    assert not out.exists()


def test_pretrain_config_error_names_the_key(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model: {preset: bert_tiny}\ndata: {train: x}\ntrainer: {train_stepz: 3}\n")
    line = _bad_input(["pretrain", "--config", str(config), "--out", str(tmp_path / "run")], capsys)
    assert str(config) in line and "train_stepz" in line
    assert not (tmp_path / "run").exists()


def test_finetune_bad_input(tmp_path, capsys):
    out = tmp_path / "run"
    line = _bad_input(["finetune", "--config", str(ROOT / "configs" / "finetune" / "civil_comments.yaml"), "--out",
                       str(out), f"init={tmp_path / 'no_run'}"], capsys)
    assert f"{tmp_path / 'no_run'}: neither a pretraining run" in line
    assert not out.exists()


def test_evaluate_bad_input(tmp_path, capsys):
    table = tmp_path / "scores.csv"
    table.write_text("label,score,gender\n1,0.9,female\n0,0.2,male\n")
    out = tmp_path / "fairness"
    line = _bad_input(["evaluate", "--predictions", str(table), "--label-column", "toxic", "--slices", "gender",
                       "--out", str(out)], capsys)
    assert "scores.csv" in line and "toxic" in line
    assert not out.exists()


def test_evaluate_needs_exactly_one_model_source(tmp_path, capsys):
    line = _bad_input(["evaluate", "--out", str(tmp_path / "o")], capsys)
    assert "exactly one of --model and --predictions" in line
    assert not (tmp_path / "o").exists()


def test_evaluate_leaves_an_existing_out_unchanged(tmp_path, capsys):
    out = tmp_path / "fairness"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    before = _tree(out)
    line = _bad_input(["evaluate", "--model", str(tmp_path / "no_model"), "--out", str(out)], capsys)
    assert "no_model" in line
    assert _tree(out) == before


def test_probe_bad_input(tmp_path, capsys):
    data = tmp_path / "probe.csv"
    data.write_text("first,second\nA,B\n")
    out = tmp_path / "probe"
    line = _bad_input(["probe", "--model", str(tmp_path / "no_model"), "--probe", "crows_pairs", "--data", str(data),
                       "--out", str(out)], capsys)
    assert "probe.csv" in line
    assert not out.exists()


def test_audit_bad_input(tmp_path, capsys):
    out = tmp_path / "audit"
    line = _bad_input(["audit", "--model", str(tmp_path / "no_model"), "--canaries", str(tmp_path / "canaries.json"),
                       "--out", str(out)], capsys)
    assert "canaries.json" in line
    assert not out.exists()


def test_export_bad_input(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    out = tmp_path / "exported"
    line = _bad_input(["export", "--run", str(tmp_path / "run"), "--out", str(out)], capsys)
    assert f"{tmp_path / 'run'}: no final/config.json" in line
    assert not out.exists()


def test_generate_bad_input(tmp_path, capsys):
    line = _bad_input(["generate", "--run", str(tmp_path / "no_run"), "--prompt", "hello"], capsys)
    assert f"{tmp_path / 'no_run'}: neither a pretraining run" in line


def test_demo_bad_input(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    before = _tree(out)
    line = _bad_input(["demo", "--out", str(out)], capsys)
    assert "is not empty" in line and str(out) in line
    assert _tree(out) == before


# ------------------------------------------------------------------------------------------------ tracebacks


def test_debug_shows_the_traceback_of_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a pretraining run"):
        cli.main(["--debug", "generate", "--run", str(tmp_path / "no_run"), "--prompt", "hello"])


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    from tfpretrain.commands import export

    def broken(run, out):
        raise KeyError("a bug, not bad input")

    monkeypatch.setattr(export, "export_run", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["export", "--run", str(tmp_path), "--out", str(tmp_path / "o")])


def test_a_user_error_on_several_lines_is_printed_on_one(monkeypatch, tmp_path, capsys):
    from tfpretrain.commands import export

    def refuse(run, out):
        os.makedirs(out)
        with open(os.path.join(out, "partial"), "w") as f:
            json.dump({}, f)
        raise UserError(f"{run}: first problem\n  second problem")

    monkeypatch.setattr(export, "export_run", refuse)
    line = _bad_input(["export", "--run", str(tmp_path), "--out", str(tmp_path / "o")], capsys)
    assert line == f"tfpretrain export: error: {tmp_path}: first problem; second problem"
    assert not (tmp_path / "o").exists()  # what this invocation created is gone


# ------------------------------------------------------------------------------- checkpoints that cannot serve


def test_generate_refuses_a_bert_checkpoint(minilm, capsys):
    line = _bad_input(["generate", "--run", minilm, "--prompt", "hello"], capsys)
    assert minilm in line and "'bert'" in line


def test_generate_refuses_a_gpt2_checkpoint_without_an_lm_head(tmp_path, capsys):
    from tests.support import factories

    run = factories.language_model_run(tmp_path / "gpt2", "gpt2")
    config = tmp_path / "gpt2" / "final" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "tie_word_embeddings": False}))
    line = _bad_input(["generate", "--run", run, "--prompt", "hello"], capsys)
    assert "LM head" in line and "generation" in line and str(tmp_path / "gpt2" / "final") in line


@pytest.mark.parametrize("argv, flag", [
    (["audit", "--model", "m", "--canaries", "c", "--out", "o", "--candidates", "0"], "--candidates"),
    (["generate", "--run", "r", "--prompt", "p", "--top-p", "1.5"], "--top-p"),
    (["probe", "--model", "m", "--probe", "stereoset", "--data", "d", "--out", "o", "--batch-size", "x"],
     "--batch-size"),
])
def test_bad_numbers_are_argparse_errors(capsys, argv, flag):
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("tfpretrain")]
    assert len(lines) == 1 and f"error: argument {flag}: " in lines[0], lines


def test_debug_may_follow_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a pretraining run"):
        cli.main(["generate", "--run", str(tmp_path / "no_run"), "--prompt", "hello", "--debug"])
