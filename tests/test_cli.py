"""The command line: the main job, inspect, targets, and every kind of bad input (clear error, exit != 0,
no traceback, no partial output)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from helpers import assert_clean_failure
from neurodeploy.cli import EXIT_USER_ERROR


def test_main_job_compiles_the_default_model(run_cli, tmp_path):
    out = tmp_path / "build"
    code, stdout, stderr = run_cli("compile", "-o", out, "--steps", "32")
    assert code == 0, stderr
    assert "ANN accuracy" in stdout and "SNN accuracy (float, rate, T=32)" in stdout
    assert "[6/6] write" in stderr  # numbered progress lines
    assert sorted(p.name for p in out.iterdir()) == ["ann.onnx", "passes.log", "report.html", "report.json", "report.md",
                                                     "snn.onnx", "timings.json"]
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == "digits_cnn" and report["test_samples"] == 450
    assert report["ann"]["accuracy"] >= 0.97 and report["accuracy_gap_points"] <= 1.0
    assert report["spec"]["name"] == "ref"
    # recompiling into the same build folder replaces it
    assert run_cli("compile", "-o", out, "--steps", "8", "--eval-samples", "20")[0] == 0
    assert json.loads((out / "report.json").read_text())["snn"]["num_steps"] == 8


def test_inspect_build_and_targets(run_cli, tmp_path):
    out = tmp_path / "b"
    assert run_cli("compile", "digits_mlp", "-o", out, "--steps", "8", "--eval-samples", "10")[0] == 0
    code, stdout, _ = run_cli("inspect", out)
    assert code == 0
    assert "IF" in stdout and "neurons" in stdout and "total: 202 neurons" in stdout
    code, stdout, _ = run_cli("inspect", out / "ann.onnx")
    assert code == 0 and "Gemm" in stdout and "total: 202 neurons, 17024 synapses" in stdout
    code, stdout, _ = run_cli("targets")
    assert code == 0 and "ref" in stdout and "spec.yaml" in stdout


def test_corrupt_onnx(run_cli, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01 definitely not protobuf")
    assert_clean_failure(run_cli("compile", bad, "--dataset", "digits", "-o", tmp_path / "o"), tmp_path / "o",
                          "bad.onnx: not a valid ONNX model")


def test_unsupported_layer(run_cli, tmp_path):
    path = tmp_path / "sig.onnx"
    torch.onnx.export(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.Sigmoid()), torch.rand(1, 1, 8, 8), str(path))
    assert_clean_failure(run_cli("compile", path, "--dataset", "digits", "-o", tmp_path / "o"), tmp_path / "o",
                          "1 unsupported node(s)", "op Sigmoid")


def test_missing_and_corrupt_checkpoint(run_cli, tmp_path):
    assert_clean_failure(run_cli("compile", tmp_path / "none.pt", "--definition", "digits_cnn", "-o", tmp_path / "o"),
                          tmp_path / "o", "none.pt: checkpoint not found")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"garbage" * 20)
    assert_clean_failure(run_cli("compile", corrupt, "--definition", "digits_cnn", "-o", tmp_path / "o"),
                          tmp_path / "o", "corrupt.pt: cannot load checkpoint")
    assert_clean_failure(run_cli("compile", corrupt, "-o", tmp_path / "o"), tmp_path / "o", "needs --definition")


def test_wrong_input_shape(run_cli, tmp_path):
    assert_clean_failure(run_cli("compile", "digits_cnn", "--input-shape", "3,32,32", "-o", tmp_path / "o"),
                          tmp_path / "o", "does not accept input shape [3, 32, 32]", "0 (Conv)")
    path = tmp_path / "wide.onnx"
    torch.onnx.export(nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10)), torch.rand(1, 3, 32, 32), str(path))
    assert_clean_failure(run_cli("compile", path, "--dataset", "digits", "-o", tmp_path / "o"), tmp_path / "o",
                          "per-sample shape [3, 32, 32] but data set 'digits' has [1, 8, 8]")


def test_unknown_target_and_model(run_cli, tmp_path):
    assert_clean_failure(run_cli("compile", "--target", "loihi9", "-o", tmp_path / "o"), tmp_path / "o",
                          "unknown target 'loihi9'; registered targets: loihi1, loihi2, ref, spinnaker1, spinnaker2, truenorth")
    assert_clean_failure(run_cli("compile", "alexnet", "-o", tmp_path / "o"), tmp_path / "o",
                          "unknown model 'alexnet'")


def test_model_without_data_and_bad_dataset(run_cli, tmp_path):
    assert_clean_failure(run_cli("compile", "vgg16", "-o", tmp_path / "o"), tmp_path / "o", "needs a data set")
    bad = tmp_path / "data.npz"
    np.savez(bad, x_train=np.zeros((4, 1, 8, 8)), y_train=np.zeros(3, np.int64))
    assert_clean_failure(run_cli("compile", "--dataset", bad, "-o", tmp_path / "o"), tmp_path / "o",
                          "missing array 'x_test'", "missing array 'y_test'")


def test_maxpool_refusal_names_layers(run_cli, tmp_path):
    path = tmp_path / "pool.onnx"
    module = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    torch.onnx.export(module, torch.rand(1, 1, 8, 8), str(path))
    assert_clean_failure(run_cli("compile", path, "--dataset", "digits", "-o", tmp_path / "o"), tmp_path / "o",
                          "pass 'replace_maxpool' failed", "/2/MaxPool (MaxPool)", "--maxpool avg")
    code, stdout, _ = run_cli("compile", path, "--dataset", "digits", "--maxpool", "avg", "--eval-samples", "20",
                              "--steps", "8", "-o", tmp_path / "o")
    assert code == 0 and "MaxPool replaced by AveragePool: /2/MaxPool" in stdout


def test_output_folder_that_is_not_a_build_is_refused(run_cli, tmp_path):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    code, _, stderr = run_cli("compile", "-o", precious)
    assert code == EXIT_USER_ERROR and "is not a neurodeploy build folder" in stderr
    assert (precious / "notes.txt").read_text() == "keep me"


def test_debug_shows_the_traceback(run_cli, tmp_path):
    from neurodeploy.errors import InputError

    with pytest.raises(InputError):
        run_cli("compile", "alexnet", "--debug", "-o", tmp_path / "o")


def test_entry_point_runs_as_a_program(tmp_path):
    result = subprocess.run([sys.executable, "-m", "neurodeploy", "compile", "--target", "nope", "-o", tmp_path / "o"],
                            capture_output=True, text=True)
    assert result.returncode == EXIT_USER_ERROR
    assert result.stderr.strip() == "error: unknown target 'nope'; registered targets: loihi1, loihi2, ref, spinnaker1, spinnaker2, truenorth"


def test_target_all_exits_non_zero_and_names_each_error_once(run_cli, tmp_path):
    out = tmp_path / "all"
    code, stdout, stderr = run_cli("compile", "digits_mlp", "--target", "all", "-o", out, "--coding", "ttfs",
                                   "--finetune-epochs", "0", "--steps", "8", "--eval-samples", "20")
    assert code == EXIT_USER_ERROR
    failed = ["loihi1", "truenorth", "spinnaker1", "spinnaker2"]
    assert f"error: 4 of 6 targets failed ({', '.join(failed)})" in stderr
    for target in failed:  # each error once, in the table's error list
        assert (stdout + stderr).count(f"digits_mlp as a ttfs SNN cannot run on target '{target}'") == 1
    summary = json.loads((out / "report.json").read_text())
    assert summary["failed_targets"] == failed and (out / "loihi2" / "report.json").is_file()
    assert run_cli("report", out)[0] == 0


def test_steps_that_do_not_fit_in_memory_are_refused_with_the_need(run_cli, tmp_path, monkeypatch):
    import neurodeploy.pipeline as driver

    monkeypatch.setattr(driver, "available_memory_bytes", lambda: 2**30)
    out = tmp_path / "o"
    code, _, stderr = run_cli("compile", "digits_mlp", "-o", out, "--steps", "1000000")
    assert code == EXIT_USER_ERROR and not out.exists()
    assert "--steps 1000000: one sample of digits_mlp at T=1000000 needs about" in stderr
    assert "more than the 1.0 GiB of memory available" in stderr and "[2/" not in stderr


def test_outputs_that_overflow_and_spiking_graphs_are_refused(run_cli, tmp_path):
    path = tmp_path / "huge.onnx"
    linear = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        linear[1].weight.fill_(3e38)
    torch.onnx.export(linear, torch.rand(1, 1, 8, 8), str(path))
    out = tmp_path / "o"
    assert_clean_failure(run_cli("compile", path, "--dataset", "digits", "-o", out), out,
                         "is NaN or Inf for 450 of 450 samples")
    build = tmp_path / "b"
    assert run_cli("compile", "digits_mlp", "-o", build, "--steps", "4", "--eval-samples", "10")[0] == 0
    assert_clean_failure(run_cli("compile", build / "snn.onnx", "--dataset", "digits", "-o", out), out,
                         "snn is already a spiking network (ops DirectEncode, IF, MembraneReadout)")
