"""Progress bars: tqdm with counts and ETA on a terminal, nothing otherwise or with --quiet."""
from __future__ import annotations

from neurodeploy import progress


def test_bar_counts_and_eta_when_enabled(capsys):
    progress.enable(True)
    try:
        with progress.bar(5, "simulate g") as bar:
            for _ in range(5):
                bar.update()
        assert list(progress.bar_range(3, "lava")) == [0, 1, 2]
    finally:
        progress.enable(False)
    err = capsys.readouterr().err
    # tqdm draws at most every 0.1 s and clears its line at the end: the first frame is certain
    assert "simulate g:" in err and "0/5 [00:00<?" in err and "lava:" in err and "0/3" in err


def test_silent_when_off_or_for_one_unit(capsys):
    with progress.bar(5, "off") as bar:
        bar.update(5)
    progress.enable(True)
    try:
        with progress.bar(1, "single") as bar:
            bar.update()
    finally:
        progress.enable(False)
    assert capsys.readouterr().err == ""


def test_cli_quiet_prints_the_report_only(run_cli, tmp_path):
    code, stdout, stderr = run_cli("compile", "digits_mlp", "-o", tmp_path / "b", "--steps", "4", "--eval-samples",
                                   "10", "--quiet")
    assert code == 0 and "digits_mlp -> ref" in stdout and stderr == ""
    code, _, stderr = run_cli("compile", "digits_mlp", "-o", tmp_path / "c", "--steps", "4", "--eval-samples", "10")
    assert code == 0 and "[1/" in stderr and "it/s" not in stderr  # step lines; no bar when stderr is no terminal
    assert not progress.enabled()
