"""`neurodeploy benchmark`'s pieces: the study table, the sweeps and their findings, the markdown, the CLI's checks.

The whole study (10 models trained and compiled for every target) is measured by running the command itself
(figures in the issue's closing note); here its parts run on the shipped digits checkpoints.
"""
from __future__ import annotations

import json

import pytest

from neurodeploy.benchmark import (STUDY, BenchmarkRequest, _study_row, compile_model_everywhere, scale_thresholds,
                                   sweep_findings, trade_off_sweeps)
from neurodeploy.models import ZOO
from helpers import benchmark_report, benchmark_row


def test_study_has_six_models_as_mlp_and_cnn():
    assert sorted({(m.number, m.architecture) for m in STUDY}) == [(n, a) for n in range(1, 7) for a in ("CNN", "MLP")]
    assert all(m.zoo in ZOO for m in STUDY)
    assert {m.kind for m in STUDY if m.number in (3, 6)} == {"snn"}


def _point(T, factor, accuracy, cadd):
    return {"T": T, "threshold_factor": factor, "accuracy": accuracy, "Cadd": cadd, "Cmul": 0.0,
            "spikes_per_inference": cadd / 10}


def test_findings_state_each_direction():
    by_t = [_point(4, 1, 0.80, 100), _point(8, 1, 0.90, 200), _point(16, 1, 0.95, 400)]
    by_th = [_point(8, 0.5, 0.85, 300), _point(8, 1.0, 0.90, 200), _point(8, 1.5, 0.92, 150), _point(8, 3.0, 0.5, 20)]
    lines = sweep_findings(by_t, by_th)
    assert all(line.startswith("reproduced") for line in lines), lines
    assert "100 at T=4 -> 400 at T=16" in lines[0] and "best 92.00 % at x1.5" in lines[3]
    flat = [_point(4, 1, 0.9, 100), _point(8, 1, 0.8, 90)]
    worse = sweep_findings(flat, [_point(8, 1.0, 0.9, 100), _point(8, 2.0, 0.8, 120)])
    assert [line.split(":")[0] for line in worse] == ["NOT reproduced"] * 4


def test_scale_thresholds_copies(digits):
    from neurodeploy.frontend import load_model

    g = load_model("digits_snn").graph
    scaled = scale_thresholds(g, 2.0)
    assert [n.attrs["v_th"] for n in scaled.find("LIF")] == [2 * n.attrs["v_th"] for n in g.find("LIF")]


def test_sweeps_of_the_converted_snn_on_shipped_weights(monkeypatch):
    """Converted digits_mlp: more steps cost more additions; a larger threshold fewer."""
    import neurodeploy.benchmark as benchmark

    monkeypatch.setattr(benchmark, "SWEEP_MODELS", {"converted": "digits_mlp"})
    monkeypatch.setattr(benchmark, "SWEEP_STEPS", (4, 16))
    monkeypatch.setattr(benchmark, "SWEEP_THRESHOLDS", (1.0, 2.0))
    sweeps = trade_off_sweeps({"digits_mlp": ZOO["digits_mlp"].checkpoint_path},
                              BenchmarkRequest(output=None, eval_samples=40), None, say=lambda s: None)
    converted = sweeps["converted"]
    low, high = converted["over_T"]
    assert high["Cadd"] > low["Cadd"] and high["accuracy"] >= low["accuracy"]
    unit, doubled = converted["over_threshold"]
    assert doubled["Cadd"] < unit["Cadd"] and len(converted["findings"]) == 4


def test_a_study_row_from_real_builds(tmp_path):
    """digits_snn (a directly trained SNN) compiled for ref and loihi2 makes a row with every metric and chip
    figure; TrueNorth's refusal (DirectEncode input) is kept in its words."""
    from neurodeploy.benchmark import StudyModel

    build = compile_model_everywhere("digits_snn", str(ZOO["digits_snn"].checkpoint_path), str(tmp_path / "b"), 30,
                                     ("ref", "loihi2", "truenorth"))
    row = _study_row(StudyModel(3, "SNN", "frames", "MLP", "digits_snn", "snn"), build)
    assert row["accuracy"] > 0.9 and row["memory_bits"]["Mw_bits"] == (64 * 128 + 128 * 64 + 64 * 10) * 32
    assert row["compute"]["Cadd"] > 0 and row["neurobench"]["effective_acs"] > 0
    loihi = row["chips"]["loihi2"]
    assert abs(loihi["accuracy"] - row["accuracy"]) <= 0.05 and loihi["energy_uj"] > 0 and loihi["cores"] >= 1
    assert "truenorth" in row["chips"] and "RateEncode" in row["chips"]["truenorth"]["error"]
    from neurodeploy.report.benchmark import render_benchmark_markdown

    text = render_benchmark_markdown({"rows": [row], "sweeps": None})
    assert "refused: " in text and "| 3 |" in text


def test_cli_refuses_unknown_targets(tmp_path, capsys):
    from neurodeploy.cli import main

    assert main(["benchmark", "--targets", "loihi9", "-o", str(tmp_path / "b")]) == 2
    assert "loihi9" in capsys.readouterr().err and not (tmp_path / "b").exists()


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--eval-samples", "-3"]])
def test_cli_checks_its_options(argv, capsys):
    from neurodeploy.cli import main

    assert main(["benchmark"] + argv) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b'{"reports": []}', b'{"reports": {"loihi2": {}}}'])
def test_damaged_cached_results_are_recomputed(tmp_path, content):
    from neurodeploy.benchmark import _cached_reports

    path = tmp_path / "reports.json"
    path.write_bytes(content)
    said = []
    assert _cached_reports(path, said.append) is None and "compiling again" in said[0]
    assert _cached_reports(tmp_path / "absent.json", said.append) is None and len(said) == 1


def test_a_sweep_variant_is_trained_at_its_setting(tmp_path):
    """The directly trained SNN is trained again at each sweep setting (here T = 4, thresholds x2): a checkpoint
    of the zoo model's layout with weights of its own."""
    import torch

    from neurodeploy.benchmark import train_variant

    path = tmp_path / "v.pt"
    result = train_variant("bench_snn_frames_mlp", 4, 2.0, str(path))
    assert (result["T"], result["threshold_factor"]) == (4, 2.0) and result["float_test_accuracy"] > 0.8
    state = torch.load(path, weights_only=True)
    shipped = torch.load(ZOO["bench_snn_frames_mlp"].checkpoint_path, weights_only=True)
    assert state.keys() == shipped.keys() and any((state[k] != shipped[k]).any() for k in state)


def test_a_benchmark_folder_can_be_written_again_keeping_the_users_files(tmp_path):
    from neurodeploy.buildfolder import check_output, file_hashes, report_json, staged_folder

    out = tmp_path / "bench"
    for note in ("first", "second"):
        check_output(out)
        with staged_folder(out) as tmp:
            (tmp / "benchmark.md").write_text(note)
            (tmp / "benchmark.json").write_text(report_json({**benchmark_report(), "files": file_hashes(tmp)}))
        (out / "mine.txt").write_text("kept")
    assert (out / "benchmark.md").read_text() == "second" and (out / "mine.txt").read_text() == "kept"


def test_stopping_the_workers_does_not_wait_for_running_jobs():
    """An error or a signal in the benchmark drops the queued jobs and ends the workers at once."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    from neurodeploy.benchmark import _stop

    # starting a spawn worker fixes this process's default start method; lava-dl sets its own when imported later
    # in the same test session (and refuses an already fixed one), so the default is put back afterwards
    before = multiprocessing.get_start_method(allow_none=True)
    try:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(4):
            pool.submit(time.sleep, 60)
        time.sleep(1.0)
        workers = list(pool._processes.values())
        start = time.perf_counter()
        _stop(pool)
        for worker in workers:
            worker.join(15)
        # the four jobs would take 240 s; stopping takes well under that even on a loaded machine
        assert time.perf_counter() - start < 20 and workers and not any(w.is_alive() for w in workers)
    finally:
        multiprocessing.set_start_method(before, force=True)


def test_report_prints_a_benchmark_folder_and_refuses_an_edited_one(tmp_path, run_cli, monkeypatch):
    from neurodeploy.buildfolder import file_hashes, report_json, staged_folder
    from neurodeploy.report.benchmark import render_benchmark_markdown

    report = {**benchmark_report(), "rows": [benchmark_row()], "sweeps": None}
    out = tmp_path / "bench"
    with staged_folder(out) as tmp:
        (tmp / "benchmark.md").write_text(render_benchmark_markdown(report))
        (tmp / "benchmark.json").write_text(report_json({**report, "files": file_hashes(tmp)}))
    code, stdout, _ = run_cli("report", out)
    assert code == 0 and "refused: 2 (LIF): a voltage leak" in stdout
    assert "95.00 %, 1 µJ (0.5-1.5), 2 µs, 1 cores, 0.1 kbit" in stdout
    (out / "benchmark.md").write_text("edited")
    code, _, stderr = run_cli("report", out)
    assert code == 2 and "benchmark.md" in stderr and "Traceback" not in stderr
    bad = json.loads((out / "benchmark.json").read_text())
    del bad["rows"][0]["chips"]
    monkeypatch.delenv("NEURODEPLOY_CHECK_REPORTS")  # an invalid report on purpose, to see it refused when read
    (out / "benchmark.json").write_text(report_json({k: v for k, v in bad.items() if k != "report_sha256"}))
    code, _, stderr = run_cli("report", out)
    assert code == 2 and "rows[0].chips: missing" in stderr
