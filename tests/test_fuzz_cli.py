"""Fuzzing the command line: bad option values for every sub-command, and damaged or foreign build folders given
to ``run`` and ``report``. Each must end in exit 2 with an ``error:`` line, no traceback and nothing written."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import assert_clean_failure, byte_mutations

BAD_COUNTS = ["0", "-1", "-100", "abc", "1.5", "", "1e3", "nan"]  # (more samples than a split has: all of it)
BAD_FLOATS = ["nan", "inf", "-inf", "abc", "", "1e400"]
COMPILE_OPTIONS = {
    "--steps": BAD_COUNTS + ["1000001", "99999999999999999999"],
    "--calibration-samples": BAD_COUNTS,
    "--eval-samples": BAD_COUNTS,
    "--finetune-epochs": ["-1", "abc", "2.5", ""],
    "--percentile": BAD_FLOATS + ["0", "-5", "100.01", "1000"],
    "--v-init": BAD_FLOATS + ["1.5", "-2", "1e30"],
    "--input-shape": ["0", "-1,8,8", "a,b", "", "1,0,8", "100000,100000,100"],
    "--coding": ["bogus", "", "RATE"],
    "--encoding": ["morse", ""],
    "--maxpool": ["max", ""],
    "--reset": ["never", ""],
}
OTHER_COMMANDS = [
    ("codings", "--rate-steps", "0"), ("codings", "--rate-steps", "a,b"), ("codings", "--ttfs-steps", ""),
    ("codings", "--sc-ttfs-steps", "4,-1"), ("codings", "--tolerance", "-1"), ("codings", "--tolerance", "nan"),
    ("codings", "--tolerance", "101"), ("codings", "--codings", "morse"), ("codings", "--eval-samples", "0"),
    ("codings", "--finetune-epochs", "-3"), ("run", "--samples", "0"), ("run", "--samples", "-5"),
    ("run", "--samples", "x"), ("run", "--backend", "fpga"), ("run", "--backend", ""),
    ("run", "--sanafe-network", ""),
]


def _cases():
    cases = [(option, value) for option, values in COMPILE_OPTIONS.items() for value in values]
    rng = np.random.default_rng(0)  # seeded pairs of bad options: every problem still ends cleanly
    options = sorted(COMPILE_OPTIONS)
    for _ in range(12):
        a, b = rng.choice(options, 2, replace=False)
        cases.append((a, str(rng.choice(COMPILE_OPTIONS[a])), b, str(rng.choice(COMPILE_OPTIONS[b]))))
    return cases


@pytest.mark.parametrize("case", _cases(), ids=lambda c: " ".join(c))
def test_bad_compile_options_are_refused_before_work(run_cli, tmp_path, case):
    out = tmp_path / "o"
    result = run_cli("compile", "digits_mlp", "-o", out, *case)
    assert_clean_failure(result, out, "error: neurodeploy compile: argument")


@pytest.mark.parametrize("command,option,value", OTHER_COMMANDS)
def test_bad_options_of_the_other_commands(run_cli, tmp_path, command, option, value):
    out = tmp_path / "o"
    target = ["digits_mlp", "-o", out] if command == "codings" else [tmp_path]
    assert_clean_failure(run_cli(command, *target, option, value), out, f"error: neurodeploy {command}: argument")


@pytest.mark.parametrize("argv,fragment", [
    (["compile", "--target", "fpga"], "unknown target 'fpga'"),
    (["compile", "nonexistent_model"], "unknown model"),
    (["compile", "missing.onnx"], "no such file"),
    (["compile", "--dataset", "missing.npz"], "no such data set file"),
    (["compile", "--dataset", "mnist"], "unknown data set"),
    (["inspect", "missing.onnx"], "no such file"),
    (["inspect", "notes.txt"], "inspect reads"),
    (["report", "nowhere"], "no such build folder"),
    (["run", "nowhere"], "no such build folder"),
    (["run", "nowhere", "--backend", "sanafe"], "no such build folder"),
])
def test_bad_names_and_paths(run_cli, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    assert_clean_failure(run_cli(*argv, *(["-o", tmp_path / "o"] if argv[0] == "compile" else [])),
                         tmp_path / "o", fragment)


def test_debug_before_or_after_the_command_and_version(run_cli, tmp_path):
    for argv in (["--debug", "report", tmp_path], ["report", tmp_path, "--debug"]):
        with pytest.raises(Exception, match="not a build folder"):
            run_cli(*argv)
    code, stdout, _ = run_cli("--version")
    assert code == 0 and stdout.startswith("neurodeploy ")


# ------------------------------------------------------------------------------------ damaged build folders

@pytest.fixture(scope="module")
def loihi_build(tmp_path_factory):
    from neurodeploy.cli import main

    out = tmp_path_factory.mktemp("fuzz") / "loihi2"
    assert main(["compile", "digits_mlp", "-o", str(out), "--target", "loihi2", "--steps", "8",
                 "--eval-samples", "20"]) == 0
    return out


def _damaged(loihi_build, tmp_path, damage):
    build = tmp_path / "build"
    shutil.copytree(loihi_build, build)
    damage(build)
    return build


def _report(build):
    return json.loads((build / "report.json").read_text())


def _set_report(build, report):
    (build / "report.json").write_text(json.dumps(report))


def _set_key(key, value):
    return lambda b: _set_report(b, {**_report(b), key: value})


def _drop_key(key):
    return lambda b: _set_report(b, {k: v for k, v in _report(b).items() if k != key})


def _write(name, content):
    return lambda b: (b / name).write_bytes(content if isinstance(content, bytes) else content.encode())


DAMAGES = {
    "no report": lambda b: (b / "report.json").unlink(),
    "empty report": _write("report.json", ""),
    "report not JSON": _write("report.json", "{\"model\": "),
    "report a list": _write("report.json", "[1, 2]"),
    "report null": _write("report.json", "null"),
    "report binary": _write("report.json", b"\xff\xfe\x00garbage"),
    "report with NaN": lambda b: (b / "report.json").write_text(
        (b / "report.json").read_text().replace('"accuracy_gap_points": ', '"accuracy_gap_points": NaN, "x": ', 1)),
    "no deployed graph": lambda b: (b / "deployed.onnx").unlink(),
    "float graph as deployed": lambda b: shutil.copy(b / "snn.onnx", b / "deployed.onnx"),
    "ANN as deployed": lambda b: shutil.copy(b / "ann.onnx", b / "deployed.onnx"),
    "deployed graph emptied": _write("deployed.onnx", b""),
    "no file list": _drop_key("files"),
    "file list a string": _set_key("files", "all"),
    "target truenorth": _set_key("target", "truenorth"),
    "target unknown": _set_key("target", "loihi9"),
    "target a number": _set_key("target", 2),
    "layers a dict": _set_key("layers", {}),
    "layer rows of text": _set_key("layers", ["a", "b"]),
    "deployed block missing": _drop_key("deployed"),
    "deployed accuracy text": lambda b: _set_report(b, {**_report(b), "deployed": {
        **_report(b)["deployed"], "accuracy": "high"}}),
    "test samples text": _set_key("test_samples", "450"),
    "estimate a list": _set_key("estimate", []),
    "energy breakdown a list": lambda b: _set_report(b, {**_report(b), "estimate": {
        **_report(b)["estimate"], "energy_breakdown_uj": [1, 2]}}),
    "dataset source missing file": _set_key("dataset_source", "gone.npz"),
    "report a folder": lambda b: ((b / "report.json").unlink(), (b / "report.json").mkdir()),
}
DAMAGES.update({f"deployed graph bytes {i}": _write("deployed.onnx", data) for i, data in enumerate(
    byte_mutations(b"\x08\x09" * 40 + b"neurodeploy", seed=3, count=4))})


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("command", ["run", "report"])
def test_damaged_builds_are_refused_by_name(run_cli, loihi_build, tmp_path, damage, command):
    build = _damaged(loihi_build, tmp_path, DAMAGES[damage])
    argv = ["run", build, "--backend", "golden", "--samples", "2"] if command == "run" else ["report", build]
    assert_clean_failure(run_cli(*argv))
    assert not (build / "run-golden.json").exists()


def test_an_intact_build_runs_and_reports(run_cli, loihi_build, tmp_path):
    build = _damaged(loihi_build, tmp_path, lambda b: None)
    assert run_cli("report", build)[0] == 0
    code, stdout, stderr = run_cli("run", build, "--backend", "golden", "--samples", "2")
    assert code == 0, stderr
    assert json.loads((build / "run-golden.json").read_text())["samples"] == 2
    # results of run are the user's files as far as a recompile is concerned: kept, and said so
    assert run_cli("report", build)[0] == 0


NETX = str(Path(__file__).resolve().parents[2] / "shared" / "external" / "netx" / "tiny.net")


@pytest.mark.parametrize("argv,fragment", [
    ([NETX, "--coding", "ttfs"], "--coding: a netx .net network already spikes"),
    ([NETX, "--dt", "1e-3"], "--dt: a netx .net network"),
    ([NETX, "--percentile", "99"], "--percentile: a netx"),
    ([NETX, "--definition", "digits_cnn"], "--definition: a netx"),
    ([NETX, "--calibration-samples", "10"], "--calibration-samples: a netx"),
    (["digits_mlp", "--definition", "digits_cnn"], "--definition: digits_mlp brings its own definition"),
    (["digits_mlp", "--finetune-epochs", "3"], "--finetune-epochs: fine-tuning trains the thresholds"),
    (["digits_mlp", "--coding", "rate", "--finetune-epochs", "0"], "--finetune-epochs: fine-tuning"),
])
def test_options_the_model_would_ignore_are_refused(run_cli, tmp_path, argv, fragment):
    if argv[0] == NETX and not Path(NETX).is_file():
        pytest.skip(f"{NETX} is not here")
    out = tmp_path / "o"
    assert_clean_failure(run_cli("compile", *argv, "-o", out), out, "options that do not apply", fragment)


def test_empty_names_are_refused(run_cli, tmp_path):
    out = tmp_path / "o"
    for option in ("--dataset", "--target", "--definition", "-o"):
        assert_clean_failure(run_cli("compile", "digits_mlp", *(["-o", out] if option != "-o" else []), option, ""),
                             out, "is empty")
