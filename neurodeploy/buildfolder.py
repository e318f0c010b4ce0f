"""Build folders: checked before work starts, replaced atomically, verified when read back.

Writing (``staged_folder``): the new build is written into a hidden sibling ``.NAME.partial-PID`` and swapped
with the old one in a single ``renameat2(RENAME_EXCHANGE)``, so at every instant the ``-o`` path holds either the
whole old build or the whole new one; the old one is deleted afterwards. Where the file system cannot exchange,
the old build is first renamed aside to ``.NAME.old-PID`` and the next run puts it back if a kill came in between.
Writers to one path take an exclusive lock (``.NAME.lock``, released by the kernel when a process dies, even by
SIGKILL), and the lock holder removes what killed runs left behind before it writes.

Files that ``compile`` did not write (notes, earlier ``run`` results) are copied into the new build and the caller
is told which; nothing of the user's is deleted.

Reading (``read_report``, ``verify_files``): ``report.json`` lists the SHA-256 of every other file of the build
(``files``) and of its own content (``report_sha256``), so a file changed, replaced or deleted after the compile is
refused by name instead of being run or shown.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

from neurodeploy.errors import InputError

BUILD_MARKER = "report.json"
SWEEP_MARKER = "comparison.json"  # the folder of 'neurodeploy codings'
BENCHMARK_MARKER = "benchmark.json"  # the folder of 'neurodeploy benchmark'
TIMINGS_FILE = "timings.json"  # wall-clock figures: the one file that differs between two identical compiles
UNHASHED = (BUILD_MARKER, SWEEP_MARKER, BENCHMARK_MARKER, TIMINGS_FILE)
SELF_HASH = "report_sha256"
WRITTEN_BY_COMPILE = (BUILD_MARKER, SWEEP_MARKER, BENCHMARK_MARKER, TIMINGS_FILE, "report.md", "report.html",
                      "comparison.md", "benchmark.md", "passes.log", "ann.onnx", "snn.onnx", "deployed.onnx",
                      "network.net", "mapping.json", "pynn")  # builds with no manifest
SPECIAL_FILE_SYSTEMS = ("proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs",
                        "securityfs", "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "efivarfs")
_STAGING_SUFFIX = len("..partial-4194304")  # longest hidden sibling name beyond 'NAME'
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


# ---------------------------------------------------------------------------------------------------- checks

def _mount_types() -> list[tuple[str, str]]:
    """(mount point, file system type) of every mount, longest mount point first."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    mounts = [(fields[1].replace("\\040", " "), fields[2]) for fields in (line.split() for line in lines)
              if len(fields) >= 3]
    return sorted(mounts, key=lambda m: -len(m[0]))


def _file_system_type(path: Path) -> str | None:
    text = str(path)
    for point, kind in _mount_types():
        if text == point or text.startswith(point.rstrip("/") + "/"):
            return kind
    return None


def _writable_directory(folder: Path) -> str | None:
    """None when a folder can be created in ``folder``, else why not."""
    kind = _file_system_type(folder)
    if kind in SPECIAL_FILE_SYSTEMS:
        return f"{folder} is on a '{kind}' file system, which holds no files"
    try:
        probe = Path(os.path.join(folder, f".neurodeploy-probe-{os.getpid()}"))
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        return f"cannot create folders in {folder} ({e.strerror or e})"
    return None


def output_problems(out: Path, what: str = "build folder") -> list[str]:
    """Everything that would stop a build folder (or results file) from being written at ``out``."""
    out = Path(os.path.abspath(out))
    longest = 255 - _STAGING_SUFFIX
    problems = [f"'{part[:40]}...' is {len(os.fsencode(part))} bytes long; names of at most {longest} bytes fit "
                "beside their temporary copies" for part in out.parts if len(os.fsencode(part)) > longest]
    if problems:
        return problems
    here = Path(os.getcwd())
    if here == out or out in here.parents:
        return [f"the {what} {out} would replace the folder you are working in ({here})"]
    ancestor = out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return [f"{ancestor} is a file, so the {what} {out} cannot be created under it"]
    reason = _writable_directory(ancestor)
    return [f"the {what} {out} cannot be written: {reason}"] if reason else []


def check_output(out: Path) -> None:
    """Refuse an ``-o`` path before any work starts: one that cannot be written, or a folder that is not a build.

    Also repairs what a killed run left at ``out`` (see the module docstring), so the check sees the real state.
    """
    out = Path(os.path.abspath(out))
    problems = output_problems(out)
    if not problems and out.parent.is_dir():
        with build_lock(out):
            recover(out)
            problems = _existing_problems(out)
    if problems:
        raise InputError(f"cannot write the build to {out}; choose another -o:", problems)


def _existing_problems(out: Path) -> list[str]:
    """What is at ``out`` now that a build may not replace: a link, a file, a folder that is no build, a file of
    the user's that cannot be carried over (checked again under the lock, right before the swap)."""
    try:
        if out.is_symlink():
            return [f"{out} is a symbolic link (to {os.readlink(out)}); give the folder itself"]
        if out.exists() and not out.is_dir():
            return [f"{out} exists and is a file, not a build folder"]
        if out.is_dir() and any(out.iterdir()) and not _marker(out):
            return [f"{out} exists and is not a neurodeploy build folder (no {BUILD_MARKER})"]
        return [f"{path}: a file of yours that cannot be kept (not a regular, readable file); move it away"
                for path in _user_files(out) if not _carriable(path)]
    except OSError as e:
        return [f"{out}: cannot be read ({e.strerror or e})"]


# ---------------------------------------------------------------------------------------------- lock, recover

@contextlib.contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """Hold the exclusive writer lock of ``out`` (a sibling ``.NAME.lock``, removed on release)."""
    out = Path(os.path.abspath(out))
    path = out.parent / f".{out.name}.lock"
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise InputError(f"cannot lock {out} for writing: {path} cannot be opened ({e.strerror or e}); "
                             "remove it or choose another -o") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(f"another neurodeploy process is writing {out} right now (it holds {path}); "
                             "wait for it or choose another -o") from None
        if os.path.exists(path) and os.stat(path).st_ino == os.fstat(fd).st_ino:
            break  # the lock file we hold is still the one at the path (not one its last owner just removed)
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def _siblings(out: Path, kind: str) -> list[Path]:
    prefix = f".{out.name}.{kind}-"
    if not out.parent.is_dir():
        return []
    return sorted(p for p in out.parent.iterdir() if p.name.startswith(prefix) and p.name[len(prefix):].isdigit())


def recover(out: Path) -> list[str]:
    """With the lock held: put back an old build that a killed run had renamed aside, delete stale temporaries.

    Returns what was done, one line each.
    """
    done = []
    olds = _siblings(out, "old")
    if olds and not out.exists():
        os.rename(olds[-1], out)
        done.append(f"restored the previous build {out} from {olds[-1].name} (a run was killed while replacing it)")
        olds = olds[:-1]
    for stale in olds + _siblings(out, "partial"):
        _remove(stale)
        done.append(f"removed {stale.name}, left by a killed run")
    return done


def _remove(path: Path) -> None:
    """Delete a file, link or folder tree, whatever is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# ------------------------------------------------------------------------------------------- atomic replace

def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, f"cannot replace {b}: {os.strerror(code)}")


def _replace(tmp: Path, out: Path) -> None:
    """Put the complete build ``tmp`` at ``out``; the old build, if any, stays complete until the swap."""
    if not out.exists():
        os.rename(tmp, out)
    elif _exchange(tmp, out):
        shutil.rmtree(tmp)  # tmp now holds the old build
    else:
        aside = out.parent / f".{out.name}.old-{os.getpid()}"
        try:  # a SIGKILL between the two renames is undone by recover() in the next run
            os.rename(out, aside)
            os.rename(tmp, out)
        except BaseException:  # SIGINT/SIGTERM or an error: put the old build back at once
            if not out.exists() and aside.exists():
                os.rename(aside, out)
            raise
        shutil.rmtree(aside)


def _marker(folder: Path) -> Path | None:
    """The report file that makes ``folder`` a build (or a codings sweep), if any."""
    return next((folder / m for m in (BUILD_MARKER, SWEEP_MARKER, BENCHMARK_MARKER) if (folder / m).is_file()), None)


def _manifest(build: Path) -> set[str] | None:
    """Relative paths of the files an existing build's compile wrote, or None for a build without a manifest."""
    try:
        files = json.loads(_marker(build).read_text()).get("files")
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        return None
    return {name for name in files if isinstance(name, str)} if isinstance(files, dict) else None


def _is_temporary(name: str) -> bool:
    """A hidden '.NAME.partial-PID' / '.NAME.old-PID' / '.NAME.lock' a killed writer left."""
    stem, _, pid = name.rpartition("-")
    return name.startswith(".") and (name.endswith(".lock") or (pid.isdigit() and stem.endswith((".partial", ".old"))))


def _user_files(build: Path) -> list[Path]:
    """Files and links under an existing build that no compile wrote: the user's, or an earlier 'run's results."""
    if not build.is_dir() or build.is_symlink():
        return []
    listed = _manifest(build)
    ours = lambda rel: (rel.name == TIMINGS_FILE or (len(rel.parts) == 1 and rel.name in UNHASHED + WRITTEN_BY_COMPILE)
                        or (rel.as_posix() in listed if listed is not None else rel.parts[0] in WRITTEN_BY_COMPILE
                            or _marker(build / rel.parts[0]) is not None))
    found = []
    for path in sorted(build.rglob("*")):
        rel = path.relative_to(build)
        if (path.is_dir() and not path.is_symlink()) or ours(rel) or _is_temporary(path.name):
            continue
        found.append(path)
    return found


def _carriable(path: Path) -> bool:
    return path.is_symlink() or (path.is_file() and os.access(path, os.R_OK))


def _carry_user_files(old: Path, new: Path) -> list[str]:
    """Copy the user's files of ``old`` (at any depth) into ``new`` where ``new`` has nothing of that name;
    returns their relative paths."""
    kept = []
    for path in _user_files(old):
        rel = path.relative_to(old)
        target = new / rel
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target, follow_symlinks=False)
        kept.append(rel.as_posix())
    return kept


@contextlib.contextmanager
def _staging(out: Path, say: Callable[[str], None] | None) -> Iterator[tuple[Path, Path]]:
    """Under the writer lock of ``out`` (its parent created, what killed writers left removed): yield the absolute
    ``out`` and the path of its temporary ``.NAME.partial-PID``, which is removed afterwards whatever happens."""
    out = Path(os.path.abspath(out))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the folder {out.parent} ({e.strerror or e})") from None
    with build_lock(out):
        for line in recover(out):
            if say:
                say(line)
        tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
        _remove(tmp)
        try:
            yield out, tmp
        finally:
            _remove(tmp)


@contextlib.contextmanager
def staged_folder(out: Path, say: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Yield a hidden temporary folder that replaces ``out`` atomically when the block succeeds (and is deleted
    when it fails); files of the user's in the old ``out`` are carried over, and ``say`` is told so."""
    with _staging(out, say) as (out, tmp):
        tmp.mkdir()
        yield tmp
        _swap_in(tmp, out, say)


def _swap_in(tmp: Path, out: Path, say: Callable[[str], None] | None) -> None:
    """Carry the user's files over and swap the finished build in, with what changed at ``out`` since the check
    refused and file-system errors reported as the user's (a full disk, a file system that cannot rename)."""
    problems = _existing_problems(out)
    if problems:
        raise InputError(f"cannot replace {out}:", problems)
    try:
        kept = _carry_user_files(out, tmp)
        _replace(tmp, out)
    except OSError as e:
        raise InputError(f"cannot replace {out}: {e.strerror or e}; the previous build, if any, is unchanged") from None
    if kept and say:
        say(f"kept {len(kept)} file(s) in {out} that compile did not write: {', '.join(kept)}")


# --------------------------------------------------------------------------------------- write and read back

def write_file(out: Path, content: str | Callable[[Path], None]) -> None:
    """Write one file (e.g. results of 'run') whole or not at all: ``content`` (text, or a function writing the path it
    is given) goes to a temporary renamed over ``out`` under the writer lock of its path, after removing what a
    killed writer left; missing parent folders are created."""
    with _staging(out, None) as (out, tmp):
        try:
            tmp.write_text(content) if isinstance(content, str) else content(tmp)
            os.replace(tmp, out)
        except OSError as e:
            raise InputError(f"cannot write {out} ({e.strerror or e})") from None


def results_path_problems(out: Path) -> list[str]:
    """Why a results file may not be written at ``out``: unwritable, a folder, or a file of a build."""
    problems = output_problems(out, "results file")
    if problems:
        return problems
    out = Path(os.path.abspath(out))
    if out.is_dir():
        return [f"{out} is a folder; give a file name for the results"]
    if _marker(out.parent) is not None and (out.name in UNHASHED + WRITTEN_BY_COMPILE
                                            or out.name in (_manifest(out.parent) or ())):
        return [f"{out} is a file of the build in {out.parent}; write the results elsewhere"]
    return []


def file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative POSIX paths, sorted), except the folder's own report and
    every timings file (the reports of sub-builds, e.g. of --target all, are covered)."""
    hashes = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        if path.name == TIMINGS_FILE or (path.parent == Path(folder) and path.name in UNHASHED):
            continue
        hashes[path.relative_to(folder).as_posix()] = _sha256(path)
    return hashes


def _sha256(path: Path) -> str | None:
    """The file's SHA-256, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def write_files(folder: Path, files: dict) -> None:
    """Write ``files`` (name -> text, a Graph, or a function writing the path it is given) into ``folder``."""
    from neurodeploy.ir.onnx_file import save_onnx

    for name, content in files.items():
        if isinstance(content, str):
            (folder / name).write_text(content)
        elif callable(content):
            content(folder / name)
        else:
            save_onnx(content, folder / name)


def content_hash(report: dict) -> str:
    """SHA-256 of a report's content (canonical JSON, without its own hash field)."""
    body = {k: v for k, v in report.items() if k != SELF_HASH}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str, allow_nan=False).encode()).hexdigest()


def readable_json(value, level: int = 0) -> str:
    """JSON indented by objects, with every list of numbers or texts (and list of such lists: a raster, a core map's
    cells) on one line: two spaces and a newline per number would make a report several times its size."""
    if isinstance(value, dict) and value:
        pad = "  " * (level + 1)
        items = [f"{pad}{json.dumps(k)}: {readable_json(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    flat = lambda v: not isinstance(v, (dict, list)) or (isinstance(v, list) and all(not isinstance(x, (dict, list))
                                                                                     for x in v))
    if isinstance(value, list) and value and not all(flat(v) for v in value):
        pad = "  " * (level + 1)
        return "[\n" + ",\n".join(pad + readable_json(v, level + 1) for v in value) + "\n" + "  " * level + "]"
    return json.dumps(value, allow_nan=False)


def report_json(report: dict) -> str:
    """Report text: strict JSON (a NaN or infinity is a bug, never written), ending with its own content hash.

    With NEURODEPLOY_CHECK_REPORTS=1 (the tests set it) the text is read back and checked against
    report.schema.json, unknown fields too: a report that does not follow it raises AssertionError naming every
    problem, so whatever writes it fails its test."""
    report = json.loads(json.dumps(report, default=str, allow_nan=False))  # the values as they will read back
    report[SELF_HASH] = content_hash(report)
    text = readable_json(report) + "\n"
    if os.environ.get("NEURODEPLOY_CHECK_REPORTS") == "1":
        from neurodeploy.report.schema import assert_valid

        assert_valid(json.loads(text))
    return text


def write_build(out: Path, files: dict, report: dict, say: Callable[[str], None] | None = None) -> None:
    """Write a whole build folder atomically: ``files``, then ``report.json`` holding their hashes, and the
    report's ``timings_s`` in ``timings.json`` of their own."""
    with staged_folder(out, say) as tmp:
        write_files(tmp, files)
        stored = {k: v for k, v in report.items() if k != "timings_s"}
        stored["files"] = file_hashes(tmp)
        (tmp / BUILD_MARKER).write_text(report_json(stored))
        (tmp / TIMINGS_FILE).write_text(json.dumps(report.get("timings_s", {}), indent=2) + "\n")
    report["files"] = stored["files"]


def read_report(build: Path, marker: str = BUILD_MARKER) -> dict:
    """The parsed ``report.json`` (or another ``marker``) of ``build``; a clean error when it is missing, empty, not
    a JSON object or changed after it was written."""
    build = Path(build)
    path = build / marker
    if not build.is_dir():
        raise InputError(f"{build}: no such build folder" if not build.exists() else
                         f"{build}: is a file, not a build folder")
    if not path.is_file():
        raise InputError(f"{build}: not a build folder (no {marker}); run 'neurodeploy compile' first")
    try:
        text = path.read_text()
        report = json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a report") from None
    except ValueError as e:
        raise InputError(f"{path}: {'empty' if not text.strip() else f'not valid JSON ({e})'}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not isinstance(report, dict):
        raise InputError(f"{path}: holds a JSON {type(report).__name__}, not a report object")
    if SELF_HASH not in report:
        raise InputError(f"{path}: has no '{SELF_HASH}'; it was not written by this version of neurodeploy: "
                         "compile again")
    if report[SELF_HASH] != content_hash(report):
        raise InputError(f"{path}: was changed after the compile (its content no longer matches its "
                         f"'{SELF_HASH}'); compile again")
    return report


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def verify_files(build: Path, report: dict, needed: tuple[str, ...] = (), marker: str = BUILD_MARKER) -> None:
    """Every file ``report.json`` lists must be there unchanged, and every ``needed`` file must be listed."""
    files = report.get("files")
    path = Path(build) / marker
    if not isinstance(files, dict) or not files or not all(isinstance(v, str) for v in files.values()):
        raise InputError(f"{path}: has no list of the build's files ('files'); it was not written by this "
                         "version of neurodeploy: compile again")
    actual = {name: _sha256(Path(build) / name) for name in files if (Path(build) / name).is_file()}
    problems = [f"{name}: missing (report.json lists it)" for name in files if name not in actual]
    problems += [f"{name}: changed after the compile (its SHA-256 differs from the one report.json records); "
                 "it may come from another build" for name, digest in files.items()
                 if name in actual and actual[name] != digest]
    problems += [f"{name}: not part of this build (report.json does not list it)" for name in needed
                 if name not in files]
    if problems:
        raise InputError(f"{build}: the build folder is damaged or mixed with another build; compile again:",
                         problems)
