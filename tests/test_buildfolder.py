"""Build folders: atomic replacement that survives SIGKILL at every step, stale temporaries removed by the next
run, the user's files kept, byte-identical rebuilds, and files verified when read back."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import assert_clean_failure
from neurodeploy.buildfolder import (build_lock, check_output, file_hashes, read_report, recover, verify_files,
                                     write_build)
from neurodeploy.errors import InputError


@pytest.fixture(autouse=True)
def _toy_reports(monkeypatch):
    """These tests write toy reports ({"model": ...}) to exercise the folder mechanics (atomic swaps, locks, kills),
    not report content, so the schema check that conftest.py turns on for every written report is off here; the
    subprocesses they start inherit that."""
    monkeypatch.delenv("NEURODEPLOY_CHECK_REPORTS", raising=False)


def _write(out: Path, version: str) -> None:
    write_build(out, {"a.txt": f"{version} a\n", "b.txt": f"{version} b\n" * 1000}, {"model": version,
                                                                                     "timings_s": {"x": 1.0}})


def _assert_complete(out: Path, version: str) -> None:
    report = read_report(out)
    verify_files(out, report)
    assert report["model"] == version and (out / "a.txt").read_text() == f"{version} a\n"


def _stale(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


# Each kill point names a function of neurodeploy.buildfolder and the call of it after which the process
# SIGKILLs itself; the exchange=False cases take the rename-aside path of file systems without RENAME_EXCHANGE.
KILL_POINTS = [
    ("write_files", 1, True),  # new build half written
    ("file_hashes", 1, True),  # new build written, report not yet
    ("_carry_user_files", 1, True),  # right before the swap
    ("_exchange", 1, True),  # swapped, old build not yet deleted
    ("rename", 1, False),  # old build renamed aside, new one not yet in place
    ("rename", 2, False),  # new one in place, old one not yet deleted
]

_KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import neurodeploy.buildfolder as bf
    name, after, exchange = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    if not exchange:
        bf._exchange = lambda a, b: False
    owner = bf.os if name == "rename" else bf
    original, calls = getattr(owner, name), [0]
    def killing(*args, **kwargs):
        result = original(*args, **kwargs)
        calls[0] += 1
        if calls[0] == after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, killing)
    bf.write_build(Path(sys.argv[1]), {"a.txt": "new a\\n", "b.txt": "new b\\n" * 1000}, {"model": "new"})
""")


@pytest.mark.parametrize("name,after,exchange", KILL_POINTS)
def test_sigkill_at_every_step_of_a_replacement_keeps_a_complete_build(tmp_path, name, after, exchange):
    out = tmp_path / "build"
    _write(out, "old")
    killed = subprocess.run([sys.executable, "-c", _KILLER, str(out), name, str(after), "1" if exchange else "0"],
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if exchange:  # the swap is one system call: the path always holds a whole build
        assert out.is_dir()
    check_output(out)  # what the next run does first: put back a build renamed aside, delete temporaries
    version = read_report(out)["model"]
    _assert_complete(out, version)
    assert version == ("new" if (name, after) in (("_exchange", 1), ("rename", 2)) else "old")
    assert _stale(out) == []


def test_the_next_write_removes_what_a_killed_run_left(tmp_path):
    out = tmp_path / "build"
    _write(out, "old")
    (tmp_path / ".build.partial-123").mkdir()
    (tmp_path / ".build.partial-123" / "half.onnx").write_text("x")
    said = []
    write_build(out, {"a.txt": "new a\n"}, {"model": "new"}, said.append)
    assert _stale(out) == [] and any("partial-123" in line for line in said)
    _assert_complete(out, "new")


def test_a_build_renamed_aside_by_a_killed_run_is_restored(tmp_path):
    out = tmp_path / "build"
    _write(out, "old")
    os.rename(out, tmp_path / ".build.old-4242")
    with build_lock(out):
        assert recover(out)[0].startswith("restored the previous build")
    _assert_complete(out, "old")
    assert _stale(out) == []


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    out = tmp_path / "build"
    with build_lock(out):
        with pytest.raises(InputError, match="another neurodeploy process is writing"):
            _write(out, "new")
    assert not out.exists() and _stale(out) == []


def test_the_users_files_survive_a_recompile_and_are_named(tmp_path):
    out = tmp_path / "build"
    _write(out, "old")
    (out / "notes.txt").write_text("mine")
    (out / "plots").mkdir()
    (out / "plots" / "p.png").write_bytes(b"png")
    said = []
    write_build(out, {"a.txt": "new a\n"}, {"model": "new"}, said.append)
    assert (out / "notes.txt").read_text() == "mine" and (out / "plots" / "p.png").read_bytes() == b"png"
    assert not (out / "b.txt").exists()  # written by the old compile, not the user's
    assert any("kept 2 file(s)" in line and "notes.txt" in line for line in said)


def test_changed_missing_and_foreign_files_are_named(tmp_path):
    out = tmp_path / "build"
    _write(out, "old")
    (out / "a.txt").write_text("edited")
    (out / "b.txt").unlink()
    with pytest.raises(InputError) as e:
        verify_files(out, read_report(out), needed=("deployed.onnx",))
    assert e.value.problems == ["b.txt: missing (report.json lists it)",
                                "a.txt: changed after the compile (its SHA-256 differs from the one report.json "
                                "records); it may come from another build",
                                "deployed.onnx: not part of this build (report.json does not list it)"]


def test_timings_stay_out_of_the_report(tmp_path):
    out = tmp_path / "build"
    _write(out, "old")
    assert "timings_s" not in read_report(out)
    assert json.loads((out / "timings.json").read_text()) == {"x": 1.0}
    assert set(file_hashes(out)) == {"a.txt", "b.txt"}


@pytest.mark.parametrize("make,fragment", [
    (lambda p: p.write_text("x"), "is a file, not a build folder"),
    (lambda p: (p.mkdir(), (p / "thesis.tex").write_text("x")), "is not a neurodeploy build folder"),
    (lambda p: p.symlink_to(p.parent), "is a symbolic link"),
    (lambda p: p.symlink_to(p.parent / "nowhere"), "is a symbolic link"),
])
def test_output_paths_that_are_not_builds_are_refused(tmp_path, make, fragment):
    out = tmp_path / "o"
    make(out)
    with pytest.raises(InputError, match=fragment):
        check_output(out)


@pytest.mark.parametrize("out,fragment", [
    ("/proc/neurodeploy-build", "'proc' file system"),
    ("/sys/kernel/neurodeploy", "'sysfs' file system"),
    ("FILE/sub/build", "is a file, so the build folder"),
    ("x" * 250, "bytes long"),
])
def test_unwritable_output_paths_are_refused_before_work(run_cli, tmp_path, out, fragment):
    (tmp_path / "FILE").write_text("x")
    path = Path(out) if out.startswith("/") else tmp_path / out
    result = run_cli("compile", "digits_mlp", "-o", path, "--steps", "4")
    assert_clean_failure(result, None, "cannot write the build", fragment)
    assert "[1/" not in result[2]  # refused before the import started


def test_two_compiles_are_byte_identical_apart_from_the_timings(run_cli, tmp_path):
    """ref, loihi2 and truenorth: every file but timings.json is equal, wherever the build is written."""
    for target in ("ref", "loihi2", "truenorth"):
        builds = [tmp_path / f"{target}-{i}" for i in (1, 2)]
        for out in builds:
            assert run_cli("compile", "digits_mlp", "-o", out, "--target", target, "--eval-samples", "40",
                           "--steps", "16")[0] == 0
        hashes = [file_hashes(out) | {"report.json": (out / "report.json").read_text()} for out in builds]
        assert hashes[0] == hashes[1], target
        assert json.loads((builds[0] / "timings.json").read_text())["steps"]


def _compile(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "neurodeploy", "compile", "digits_mlp", "-o", str(out),
                             "--eval-samples", "40", "--steps", "8", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


PHASES = [(signal.SIGINT, "[1/6]"), (signal.SIGTERM, "[3/6]"), (signal.SIGKILL, "[2/6]"), (signal.SIGKILL, "[5/6]"),
          (signal.SIGTERM, "[5/6]")]  # signal, and the progress line after which it comes ([5/6]: while writing)


@pytest.mark.slow
def test_killing_real_compiles_keeps_the_old_build(tmp_path):
    """SIGINT, SIGTERM and SIGKILL at different phases of real compiles: the path holds the old build or the new
    one, each complete, and the next compile leaves nothing stale."""
    out = tmp_path / "build"
    assert _compile(out).wait() == 0
    for steps, (sig, phase) in enumerate(PHASES, start=9):
        old = file_hashes(out)
        process = _compile(out, "--steps", str(steps))
        for line in process.stderr:
            if line.startswith(phase):
                break
        process.send_signal(sig)
        code = process.wait()
        assert out.is_dir()
        check_output(out)
        current = read_report(out)
        verify_files(out, current)  # complete, whichever it is
        assert file_hashes(out) == old or current["conversion"]["num_steps"] == steps
        if sig != signal.SIGKILL:  # these unwind: nothing is left even before the next run
            assert code in (0, 130, 143) and _stale(out) == [], (sig, code, process.stderr.read())
    assert _compile(out).wait() == 0
    assert _stale(out) == []


def test_user_files_deep_inside_a_build_survive(tmp_path):
    out = tmp_path / "all"
    with staged_folder_of_targets(out):
        pass
    (out / "loihi2" / "run-both.json").write_text("{}")
    (out / "loihi2" / ".run-both.json.partial-77").write_text("stale")
    said = []
    with staged_folder_of_targets(out, said.append):
        pass
    assert (out / "loihi2" / "run-both.json").read_text() == "{}"
    assert not (out / "loihi2" / ".run-both.json.partial-77").exists()
    assert any("loihi2/run-both.json" in line for line in said)


def staged_folder_of_targets(out, say=None):
    """A --target all-like folder: a sub-build per target inside the staged top folder."""
    import contextlib

    from neurodeploy.buildfolder import report_json, staged_folder

    @contextlib.contextmanager
    def build():
        with staged_folder(out, say) as tmp:
            _write(tmp / "loihi2", "sub")
            (tmp / "report.json").write_text(report_json({"model": "top", "files": file_hashes(tmp)}))
            yield
    return build()


def test_special_files_of_the_user_are_refused_before_work(tmp_path):
    out = tmp_path / "build"
    _write(out, "old")
    os.mkfifo(out / "pipe")
    with pytest.raises(InputError, match="pipe: a file of yours that cannot be kept"):
        check_output(out)
    _assert_complete(out, "old")


@pytest.mark.parametrize("name", ["report.json", "deployed.onnx", "a.txt", "timings.json"])
def test_run_results_may_not_overwrite_a_file_of_the_build(tmp_path, name):
    from neurodeploy.buildfolder import results_path_problems

    out = tmp_path / "build"
    _write(out, "old")
    assert "is a file of the build" in results_path_problems(out / name)[0]
    assert results_path_problems(out / "run-golden.json") == []


def test_odd_output_paths_are_refused_cleanly(run_cli, tmp_path, monkeypatch):
    out = tmp_path / "build"
    _write(out, "old")
    monkeypatch.chdir(out)
    assert_clean_failure(run_cli("compile", "digits_mlp", "-o", "."), None, "would replace the folder you are working in")
    _assert_complete(out, "old")
    assert_clean_failure(run_cli("compile", "digits_mlp", "-o", tmp_path / "bad\udcffname" / ("x" * 250)), None,
                         "bytes long")


def test_deeply_nested_report_is_refused(run_cli, tmp_path):
    out = tmp_path / "build"
    out.mkdir()
    (out / "report.json").write_text("[" * 100000 + "]" * 100000)
    assert_clean_failure(run_cli("report", out), None, "nested too deeply")
