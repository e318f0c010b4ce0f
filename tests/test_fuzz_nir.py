"""Fuzzing the NIR import: seeded byte-level corruptions of the real files in ../shared/external/nir (and of a
file neurodeploy exported), and semantic corruptions of three of them (NaN weights, wrong shapes, dangling
edges, missing nodes and fields, unknown node types, cycles, nesting). Every case either loads (when the
table says the mutation leaves a valid network, or a byte flip hit nothing that matters) or ends in an
InputError / UnsupportedError that names the file; no other exception escapes."""
from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import assert_clean_failure, byte_mutations, leaky_snn
from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.frontend.nir_import import MAX_DEPTH, load_nir

NIR_FILES = Path(__file__).resolve().parents[2] / "shared" / "external" / "nir"
REAL = ["lif_norse", "two_lif_neurons", "cnn_sinabs", "braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract",
        "braille_rockpool", "braille_noDelay_bias_zero_subgraph"]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def outcome(path: Path) -> str:
    """'ok' or 'refused'; any other exception fails the test."""
    try:
        load_nir(path)
    except (InputError, UnsupportedError) as e:
        assert str(path) in str(e), str(e)[:300]
        return "refused"
    return "ok"


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    files = {name: NIR_FILES / f"{name}.nir" for name in REAL if (NIR_FILES / f"{name}.nir").is_file()}
    pytest.importorskip("nir")
    from neurodeploy.frontend.nir_export import export_nir

    files["exported"] = tmp_path_factory.mktemp("export") / "exported.nir"
    export_nir(leaky_snn(0.5, True), files["exported"], dt=1e-3)
    return files


def copy(sources: dict, name: str, tmp_path: Path) -> Path:
    if name not in sources:
        pytest.skip(f"{name}: external NIR file not available")
    return Path(shutil.copy(sources[name], tmp_path / f"{name}.nir"))


# --- byte-level corruptions

@pytest.mark.parametrize("name", REAL + ["exported"])
def test_byte_corruptions_end_cleanly(sources, tmp_path, name):
    data = copy(sources, name, tmp_path).read_bytes()
    for i, damaged in enumerate(byte_mutations(data, seed=sum(map(ord, name)), count=16)):
        path = tmp_path / f"{name}_{i}.nir"
        path.write_bytes(damaged)
        assert outcome(path) in ("ok", "refused"), f"{name} byte mutation {i}"


def test_a_file_that_crashes_the_hdf5_library_is_refused(sources, tmp_path):
    """This corruption of lif_norse.nir makes h5py 3.16 / HDF5 segfault reading a string (its heap entry is
    broken); the reader runs in a forked process, so it ends as an InputError here."""
    data = copy(sources, "lif_norse", tmp_path).read_bytes()
    path = tmp_path / "crash.nir"
    path.write_bytes(byte_mutations(data, seed=1234 + len("lif_norse"), count=50)[49])
    with pytest.raises(InputError, match="damaged NIR file"):
        load_nir(path)


def test_cli_reports_a_damaged_file_cleanly(run_cli, sources, tmp_path):
    path = tmp_path / "cut.nir"
    path.write_bytes(copy(sources, "lif_norse", tmp_path).read_bytes()[:3000])
    assert_clean_failure(run_cli("inspect", path), None, "cut.nir")


# --- semantic corruptions, with the outcome each must have

ROLES = {  # file: (an Affine/Conv node, a neuron node) as HDF5 paths
    "braille_noDelay_bias_zero": ("node/nodes/fc1", "node/nodes/lif1.lif"),
    "cnn_sinabs": ("node/nodes/0", "node/nodes/1"),
    "braille_rockpool": ("node/nodes/fc1", "node/nodes/hidden/nodes/lif"),
}


def _set(f, element: str, value) -> None:
    if element in f:
        del f[element]
    f[element] = value


def _edges(f, change) -> None:
    edges = [(a.decode(), b.decode()) for a, b in f["node/edges"][()]]
    _set(f, "node/edges", np.array(change(edges), dtype=h5py.string_dtype()))


def _first_float(f, element: str, value) -> None:
    data = np.array(f[element][()], np.float64)
    data.reshape(-1)[0] = value
    _set(f, element, data)


def _time_field(f, neuron: str) -> str | None:
    return next((f"{neuron}/{k}" for k in ("tau_mem", "tau") if f"{neuron}/{k}" in f), None)


def _per_neuron_tau(f, neuron: str) -> None:
    key = _time_field(f, neuron)
    if key is None:
        pytest.skip("an IF neuron has no time constant")
    tau = np.array(f[key][()], np.float64)
    tau.reshape(-1)[0] *= 2
    _set(f, key, tau)


def _scale_tau(f, neuron: str, factor: float) -> None:
    key = _time_field(f, neuron)
    if key is None:
        pytest.skip("an IF neuron has no time constant")
    _set(f, key, np.array(f[key][()]) * factor)


def _nest(f, depth: int) -> None:
    """Wrap the graph in ``depth`` subgraphs, each passing its input through."""
    f.move("node", "inner")
    for level in range(depth):
        outer = f.create_group(f"level{level}")
        outer["type"] = b"NIRGraph"
        nodes = outer.create_group("nodes")
        f.move("inner", f"level{level}/nodes/g")
        for port, kind in (("input", b"Input"), ("output", b"Output")):
            nodes.create_group(port)["type"] = kind
        nodes["input"]["shape"] = np.array([12])
        nodes["output"]["shape"] = np.array([7])
        outer["edges"] = np.array([("input", "g"), ("g", "output")], dtype=h5py.string_dtype())
        f.move(f"level{level}", "inner")
    f.move("inner", "node")


MUTATIONS = [  # (label, mutation(f, affine, neuron), valid: True / False)
    ("weight NaN", lambda f, a, n: _first_float(f, f"{a}/weight", np.nan), False),
    ("weight Inf", lambda f, a, n: _first_float(f, f"{a}/weight", np.inf), False),
    ("weight transposed", lambda f, a, n: _set(f, f"{a}/weight", np.swapaxes(f[f"{a}/weight"][()], 0, 1)), False),
    ("weight extra axis", lambda f, a, n: _set(f, f"{a}/weight", f[f"{a}/weight"][()][None]), False),
    ("weight as text", lambda f, a, n: _set(f, f"{a}/weight", "x"), False),
    ("weight empty", lambda f, a, n: _set(f, f"{a}/weight", np.zeros((0, 3))), False),
    ("weight deleted", lambda f, a, n: f.__delitem__(f"{a}/weight"), False),
    ("bias too long", lambda f, a, n: _set(f, f"{a}/bias", np.zeros(999)), False),
    ("type unknown", lambda f, a, n: _set(f, f"{n}/type", b"Frobnicator"), False),
    ("type Delay", lambda f, a, n: _set(f, f"{n}/type", b"Delay"), False),
    ("type as number", lambda f, a, n: _set(f, f"{n}/type", 3), False),
    ("type deleted", lambda f, a, n: f.__delitem__(f"{n}/type"), False),
    ("threshold deleted", lambda f, a, n: f.__delitem__(f"{n}/v_threshold"), False),
    ("threshold NaN", lambda f, a, n: _first_float(f, f"{n}/v_threshold", np.nan), False),
    ("threshold negative", lambda f, a, n: _set(f, f"{n}/v_threshold", -np.abs(f[f"{n}/v_threshold"][()])), False),
    ("threshold wrong shape", lambda f, a, n: _set(f, f"{n}/v_threshold", np.ones(5)), False),
    ("v_reset differs per neuron", lambda f, a, n: _set(f, f"{n}/v_reset",
                                                        np.arange(f[f"{n}/v_threshold"].size, dtype=float)
                                                        .reshape(f[f"{n}/v_threshold"].shape) * -0.1), False),
    ("v_reset uniform", lambda f, a, n: _set(f, f"{n}/v_reset", np.full(f[f"{n}/v_threshold"].shape, -0.5)), True),
    ("tau per neuron", lambda f, a, n: _per_neuron_tau(f, n), False),
    ("tau zero", lambda f, a, n: _scale_tau(f, n, 0.0), False),
    ("tau negative", lambda f, a, n: _scale_tau(f, n, -1.0), False),
    ("tau tiny (Euler diverges)", lambda f, a, n: _scale_tau(f, n, 1e-6), False),
    ("dangling edge", lambda f, a, n: _edges(f, lambda e: e + [("fc1", "nowhere")]), False),
    ("edge from nowhere", lambda f, a, n: _edges(f, lambda e: e + [("ghost", e[0][1])]), False),
    ("edges 1-D", lambda f, a, n: _set(f, "node/edges", np.array(["a", "b"], dtype=h5py.string_dtype())), False),
    ("edges numbers", lambda f, a, n: _set(f, "node/edges", np.zeros((3, 2))), False),
    ("edges emptied", lambda f, a, n: _edges(f, lambda e: []), False),
    ("edges deleted", lambda f, a, n: f.__delitem__("node/edges"), False),
    ("edge duplicated", lambda f, a, n: _edges(f, lambda e: e + e[:1]), True),
    ("cycle through layers", lambda f, a, n: _edges(f, lambda e: e + [(e[-1][0], e[0][1])]), False),
    ("node deleted", lambda f, a, n: f.__delitem__(a), False),
    ("nodes emptied", lambda f, a, n: [f["node/nodes"].__delitem__(k) for k in list(f["node/nodes"])], False),
    ("nodes a dataset", lambda f, a, n: (f.__delitem__("node/nodes"), _set(f, "node/nodes", 1)), False),
    ("root deleted", lambda f, a, n: f.__delitem__("node"), False),
    ("root a dataset", lambda f, a, n: (f.__delitem__("node"), _set(f, "node", 1)), False),
    ("input shape wrong", lambda f, a, n: _set(f, "node/nodes/input/shape", np.array([13])), False),
    ("input shape huge", lambda f, a, n: _set(f, "node/nodes/input/shape", np.array([1 << 30, 1 << 30])), False),
    ("input shape negative", lambda f, a, n: _set(f, "node/nodes/input/shape", np.array([-3])), False),
    ("output shape wrong", lambda f, a, n: _set(f, "node/nodes/output/shape", np.array([99])), False),
    ("second input", lambda f, a, n: f.copy("node/nodes/input", "node/nodes/input2"), False),
    ("metadata junk", lambda f, a, n: (f["node"].create_group("metadata").create_dataset("dt", data="soon"),
                                       f[n].create_group("metadata").create_dataset("reset", data=[1, 2])), True),
    ("metadata dt", lambda f, a, n: f["node"].create_group("metadata").create_dataset("dt", data=2e-4), True),
    ("unknown extra field", lambda f, a, n: _set(f, f"{a}/colour", b"blue"), True),
    ("nested too deep", lambda f, a, n: _nest(f, MAX_DEPTH + 1), False),
    ("nested a little", lambda f, a, n: _nest(f, 2), True),
]
SOURCES = sorted(ROLES)


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("label,mutate,valid", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_semantic_corruptions(sources, tmp_path, name, label, mutate, valid):
    path = copy(sources, name, tmp_path)
    affine, neuron = ROLES[name]
    if name == "cnn_sinabs" and label in ("dangling edge", "input shape wrong", "nested a little", "nested too deep"):
        pytest.skip("the mutation is written for the 12-input braille graphs")
    with h5py.File(path, "r+") as f:
        mutate(f, affine, neuron)
    expected = "ok" if valid else "refused"
    if name == "braille_rockpool" and label == "nested a little":
        expected = "ok"
    assert outcome(path) == expected, label


def test_recurrent_synapse_fields_are_checked(sources, tmp_path):
    for key, value in (("bias", np.zeros((2, 38))), ("weight", np.zeros((38, 12)))):
        path = copy(sources, "braille_noDelay_bias_zero", tmp_path)
        with h5py.File(path, "r+") as f:
            _set(f, f"node/nodes/lif1.w_rec/{key}", value)
        with pytest.raises(InputError, match=r"lif1.w_rec(/bias)?: .*\[38"):
            load_nir(path)


def test_conv_window_corruptions_are_refused(sources, tmp_path):
    cases = {"padding 'sideways'": ("padding", b"sideways"), "groups 0": ("groups", 0), "stride 0": ("stride", [0, 0]),
             "kernel larger than input": ("weight", np.zeros((16, 2, 60, 60), np.float32)),
             "'same' with stride 2": ("padding", b"same")}
    for label, (key, value) in cases.items():
        path = copy(sources, "cnn_sinabs", tmp_path)
        with h5py.File(path, "r+") as f:
            _set(f, f"node/nodes/0/{key}", value)
        assert outcome(path) == "refused", label


def _as_li(f, node: str) -> None:
    """Turn a spiking neuron into NIR LI (tau 1 ms, its r, v_leak 0)."""
    group = f[node]
    shape = group["r"].shape
    for key in [k for k in group if k not in ("r", "type")]:
        del group[key]
    _set(f, f"{node}/type", b"LI")
    group["tau"], group["v_leak"] = np.full(shape, 1e-3), np.zeros(shape)


def test_leaky_integrators_are_readouts_only(sources, tmp_path):
    path = copy(sources, "cnn_sinabs", tmp_path)
    with h5py.File(path, "r+") as f:
        _as_li(f, "node/nodes/10")
    with pytest.raises(UnsupportedError, match=r"10 \(LI\): feeds '11'"):
        load_nir(path)
    path = copy(sources, "braille_noDelay_bias_zero", tmp_path)
    with h5py.File(path, "r+") as f:
        _as_li(f, "node/nodes/lif1.lif")
    with pytest.raises(UnsupportedError, match=r"cycle through 'lif1.lif' \(LI\) -> 'lif1.w_rec' \(Affine\)"):
        load_nir(path)
    path = copy(sources, "braille_noDelay_bias_zero", tmp_path)
    with h5py.File(path, "r+") as f:
        _as_li(f, "node/nodes/lif2")
    g = load_nir(path)
    assert g.producer(g.outputs[0]).op == "MembraneReadout"
