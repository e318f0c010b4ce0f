"""Fuzzing the netx front-end through the command line: seeded byte-level corruptions and structural HDF5
mutations of real lava-dl netx files (../shared/external/netx) and of a file exported from slayer blocks, each
given to ``compile`` and ``inspect``. A run either succeeds because the mutation left a valid network (the
table says which do), or ends the way users are promised: exit 2, an ``error:`` line, no traceback, nothing
written."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import assert_clean_failure, byte_mutations
from test_netx import NETX, export_slayer

REAL_FILES = ["tiny", "mnist_dense", "oxford"]
SOURCES = REAL_FILES + ["slayer_conv"]
STRUCTURAL_SOURCES = ["tiny", "mnist_dense", "slayer_conv"]  # an input + conv file, a dense-first, slayer's


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    files = {name: NETX / f"{name}.net" for name in REAL_FILES if (NETX / f"{name}.net").is_file()}
    try:
        import lava.lib.dl.slayer  # noqa: F401
    except ImportError:
        pass
    else:
        files["slayer_conv"] = export_slayer(tmp_path_factory.mktemp("slayer") / "slayer_conv.net", "conv")
    return files


def source(sources: dict, name: str, tmp_path: Path, label: str = "mutated") -> Path:
    if name not in sources:
        pytest.skip(f"{name}: not available (external networks or lava-dl missing)")
    return Path(shutil.copy(sources[name], tmp_path / f"{name}_{label}.net"))


def check_run(run_cli, path: Path, out: Path, valid: bool | None, what: str) -> None:
    """compile and inspect ``path``: exit 0 when ``valid`` (None: either is fine), else a clean failure."""
    for argv, out_dir in ((("compile", path, "-o", out, "--target", "loihi2"), out), (("inspect", path), None)):
        result = run_cli(*argv)
        try:
            if result[0] == 0 and valid is not False:
                assert out_dir is None or (out_dir / "report.json").is_file()
            else:
                assert valid is not True, f"expected a valid network, got exit {result[0]}: {result[2][-600:]}"
                assert_clean_failure(result, out_dir)
        except AssertionError as e:
            raise AssertionError(f"{what}, {argv[0]}: {e}") from None
        if out_dir is not None:
            shutil.rmtree(out_dir, ignore_errors=True)


# --- byte-level corruptions

@pytest.mark.parametrize("name", SOURCES)
def test_byte_corruptions_end_cleanly(run_cli, sources, tmp_path, name):
    data = source(sources, name, tmp_path).read_bytes()
    for i, damaged in enumerate(byte_mutations(data, seed=sum(map(ord, name)), count=16)):
        path = tmp_path / f"{name}_{i}.net"
        path.write_bytes(damaged)
        check_run(run_cli, path, tmp_path / "out", None, f"{name} byte mutation {i} ({i % 4 = })")


# --- structural mutations, with the outcome each must have

@dataclass(frozen=True)
class Roles:
    """Where a mutation applies in one file: the first conv/dense layer and its type, and the layer names."""
    first: str
    kind: str
    layers: tuple[str, ...]


def roles(f: h5py.File) -> Roles:
    layers = tuple(sorted(f["layer"], key=int))
    kinds = {name: f["layer"][name]["type"][()].reshape(-1)[0].decode() if f["layer"][name]["type"].shape
             else f["layer"][name]["type"][()].decode() for name in layers}
    first = next(name for name in layers if kinds[name] in ("dense", "conv"))
    return Roles(f"layer/{first}", kinds[first], layers)


def _set(f, element: str, value) -> None:
    if element in f:
        del f[element]
    f[element] = value


def _change(f, element: str, change) -> None:
    _set(f, element, change(f[element][()]))


def _delete(f, element: str) -> None:
    if element in f:
        del f[element]


def _empty_layers(f, r: Roles) -> None:
    for name in r.layers:
        del f["layer"][name]


def _nan_at_first(w: np.ndarray) -> np.ndarray:
    w = np.array(w, np.float32)
    w.reshape(-1)[0] = np.nan
    return w


DENSE = lambda r: r.kind == "dense"  # noqa: E731
MUTATIONS = [  # (label, mutation(f, roles), whether the network stays valid: a bool or a function of the roles)
    ("delete weight", lambda f, r: _delete(f, f"{r.first}/weight"), False),
    ("delete shape", lambda f, r: _delete(f, f"{r.first}/shape"), False),
    ("delete type", lambda f, r: _delete(f, f"{r.first}/type"), False),
    ("delete neuron", lambda f, r: _delete(f, f"{r.first}/neuron"), DENSE),  # dense: netx's default neuron
    ("delete vThMant", lambda f, r: _delete(f, f"{r.first}/neuron/vThMant"), False),
    ("delete iDecay", lambda f, r: _delete(f, f"{r.first}/neuron/iDecay"), False),
    ("delete tSample", lambda f, r: _delete(f, "simulation/tSample"), True),
    ("delete simulation", lambda f, r: _delete(f, "simulation"), True),
    ("delete the last layer", lambda f, r: _delete(f, f"layer/{r.layers[-1]}"), True),
    ("delete layer 0", lambda f, r: _delete(f, "layer/0"), False),
    ("weight as a string", lambda f, r: _set(f, f"{r.first}/weight", "x"), False),
    ("shape as a string", lambda f, r: _set(f, f"{r.first}/shape", "x"), False),
    ("iDecay as a string", lambda f, r: _set(f, f"{r.first}/neuron/iDecay", "1024"), False),
    ("type swapped", lambda f, r: _set(f, f"{r.first}/type", np.array([b"conv" if DENSE(r) else b"dense"])), False),
    ("shape as floats", lambda f, r: _change(f, f"{r.first}/shape", lambda s: s.astype(float)), False),
    ("vThMant a fraction", lambda f, r: _set(f, f"{r.first}/neuron/vThMant", 64.5), False),
    ("weight fractions", lambda f, r: _change(f, f"{r.first}/weight", lambda w: w + 0.5), False),
    ("shape negative", lambda f, r: _change(f, f"{r.first}/shape", lambda s: -s), False),
    ("vDecay negative", lambda f, r: _set(f, f"{r.first}/neuron/vDecay", -1), False),
    ("weight NaN", lambda f, r: _change(f, f"{r.first}/weight", _nan_at_first), False),
    ("vThMant NaN", lambda f, r: _set(f, f"{r.first}/neuron/vThMant", np.nan), False),
    ("vThMant huge", lambda f, r: _set(f, f"{r.first}/neuron/vThMant", 1e30), False),
    ("shape huge", lambda f, r: _change(f, f"{r.first}/shape", lambda s: s * 100000), False),
    ("weight huge", lambda f, r: _change(f, f"{r.first}/weight", lambda w: w * 1000 + 1000), False),
    ("weight transposed", lambda f, r: _change(f, f"{r.first}/weight", lambda w: w.T), False),
    ("weight flattened", lambda f, r: _change(f, f"{r.first}/weight", lambda w: w.reshape(-1)), DENSE),  # netx
    ("weight with an extra axis", lambda f, r: _change(f, f"{r.first}/weight", lambda w: w[None]), False),
    ("layer renamed", lambda f, r: f["layer"].move(r.layers[0], "zero"), False),
    ("layers emptied", _empty_layers, False),
    ("layer group a dataset", lambda f, r: (_delete(f, "layer"), _set(f, "layer", 3)), False),
    ("tSample 0", lambda f, r: _set(f, "simulation/tSample", 0), False),
    ("tSample -1", lambda f, r: _set(f, "simulation/tSample", -1), False),
    ("tSample 1e12", lambda f, r: _set(f, "simulation/tSample", 1e12), False),
    ("tSample x", lambda f, r: _set(f, "simulation/tSample", "x"), False),
    ("tSample 2.5", lambda f, r: _set(f, "simulation/tSample", 2.5), False),
    ("tSample 20", lambda f, r: _set(f, "simulation/tSample", 20), True),
    ("pooling layer", lambda f, r: _set(f, f"{r.first}/type", np.array([b"pool"])), False),
    ("sigma-delta neuron", lambda f, r: _set(f, f"{r.first}/neuron/type", b"SDNN"), False),
    ("delays", lambda f, r: _set(f, f"{r.first}/delay", np.zeros(4)), False),
    ("graded spikes", lambda f, r: _set(f, f"{r.first}/neuron/gradedSpike", True), False),
]


@pytest.mark.parametrize("name", STRUCTURAL_SOURCES)
@pytest.mark.parametrize("label,mutate,valid", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_structural_mutations(run_cli, sources, tmp_path, name, label, mutate, valid):
    path = source(sources, name, tmp_path)
    with h5py.File(path, "r+") as f:
        r = roles(f)
        mutate(f, r)
    check_run(run_cli, path, tmp_path / "out", valid(r) if callable(valid) else valid, f"{name}: {label}")


JUNK = {"text": "x", "NaN": np.nan, "negative": -7, "huge": 1e18, "fraction": 0.5, "empty": np.zeros(0),
        "matrix": np.ones((3, 3)), "bool": True}


@pytest.mark.parametrize("name", SOURCES)
def test_seeded_junk_in_random_datasets(run_cli, sources, tmp_path, name):
    """Any dataset of the file, replaced by seeded junk: whatever it was, the run ends cleanly or validly."""
    path = source(sources, name, tmp_path, "original")
    with h5py.File(path) as f:
        datasets = []
        f.visititems(lambda key, item: datasets.append(key) if isinstance(item, h5py.Dataset) else None)
    rng = np.random.default_rng(sum(map(ord, name)))
    for i in range(12):
        element, junk = str(rng.choice(datasets)), str(rng.choice(list(JUNK)))
        damaged = Path(shutil.copy(path, tmp_path / f"{name}_{i}.net"))
        with h5py.File(damaged, "r+") as f:
            _set(f, element, JUNK[junk])
        check_run(run_cli, damaged, tmp_path / "out", None, f"{name}: {element} = {junk}")
