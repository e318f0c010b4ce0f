"""NIR import and export against the real libraries (nir 1.0.8, Norse 1.1.0, snnTorch 1.0.0, nirtorch 2.6), no
mocks: networks built in Norse and snnTorch with random weights and exported by their own NIR export, the seven
files of ../shared/external/nir, and round trips IR -> NIR -> (neurodeploy | Norse). Spikes are compared step
for step with each library's own simulation at the same dt. docs/nir.md lists what the libraries get wrong."""
from __future__ import annotations

import contextlib
import io
import logging
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import leaky_snn
from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.frontend import load_model
from neurodeploy.frontend.nir_export import export_nir, nir_writer, to_nir_graph
from neurodeploy.frontend.nir_import import DEFAULT_DT, load_nir
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.ir.reference import run

torch = pytest.importorskip("torch")
nir = pytest.importorskip("nir")
nt = pytest.importorskip("norse.torch")
snn = pytest.importorskip("snntorch")

NIR_FILES = Path(__file__).resolve().parents[2] / "shared" / "external" / "nir"
needs_files = pytest.mark.skipif(not NIR_FILES.is_dir(), reason=f"external NIR files not found at {NIR_FILES}")
logging.getLogger().setLevel(logging.ERROR)  # Norse's from_nir logs a warning per r != 1


# --- running the libraries

def norse_steps(graph, x: np.ndarray, dt: float, keep=(), reset=None, state=None, batched: bool = True):
    """Norse's ``from_nir`` module stepped over x [T, N, ...]: (output spikes, {node: spikes}) as [T, N, ...].
    ``batched=False`` runs one sample at a time (Norse applies NIR's Flatten dims to the batched tensor)."""
    from norse.torch.functional.reset import reset_subtract, reset_value

    method = reset_subtract if reset == "subtract" else reset_value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = nt.from_nir(graph, dt=dt, reset_method=method)
    samples = [x] if batched else [x[:, n:n + 1] for n in range(x.shape[1])]
    outs, kept = [], {k: [] for k in keep}
    for sample in samples:
        s, out, hidden = state() if state else None, [], {k: [] for k in keep}
        with torch.no_grad():
            for t in range(sample.shape[0]):
                xt = torch.from_numpy(sample[t] if batched else sample[t, 0])
                z, s = module(xt, s)
                out.append(z.numpy().reshape(sample.shape[1], -1))
                for k in keep:
                    hidden[k].append(s.cache[k].numpy().reshape(sample.shape[1], -1))
        outs.append(np.stack(out))
        for k in keep:
            kept[k].append(np.stack(hidden[k]))
    return np.concatenate(outs, 1), {k: np.concatenate(v, 1) for k, v in kept.items()}


def ir_spikes(g: Graph, x: np.ndarray, *values: str) -> dict:
    """The reference run of g on x; the spikes feeding the readout under key 'last'."""
    last = g.producer(g.outputs[0]).inputs[0]
    out = run(g, {next(iter(g.inputs)): x}, keep=[last, *values])
    out["last"] = out[last]
    return out


def flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], a.shape[1], -1)


def spikes(rng, steps: int, batch: int, shape: tuple, rate: float) -> np.ndarray:
    return (rng.random((steps, batch) + tuple(shape)) < rate).astype(np.float32)


# --- the seven files of the NIR paper and rockpool

EXPECTED = {  # file: (input shape, op counts, output shape)
    "lif_norse": ((1,), {"Gemm": 1, "LIF": 1, "SpikeCount": 1}, (1,)),
    "two_lif_neurons": ((1,), {"Gemm": 2, "LIF": 2, "SpikeCount": 1}, (1,)),
    "cnn_sinabs": ((2, 34, 34), {"Conv": 3, "IF": 5, "AveragePool": 2, "Flatten": 1, "Gemm": 2, "SpikeCount": 1},
                   (10,)),
    "braille_noDelay_bias_zero": ((12,), {"Gemm": 2, "LIF": 2, "SpikeCount": 1}, (7,)),
    "braille_noDelay_noBias_subtract": ((12,), {"Gemm": 2, "LIF": 2, "SpikeCount": 1}, (7,)),
    "braille_rockpool": ((12,), {"Gemm": 2, "LIF": 2, "SpikeCount": 1}, (7,)),
}


def external(name: str, **options) -> Graph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_nir(NIR_FILES / f"{name}.nir", **options)


@needs_files
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_external_files_import_with_their_shapes(name):
    g = external(name, dt=1.0 if name == "braille_rockpool" else None)
    check_graph(g)
    shape, counts, out = EXPECTED[name]
    assert [t.shape for t in g.inputs.values()] == [shape] and all(t.timed for t in g.inputs.values())
    assert {op: len(g.find(op)) for op in counts} == counts and len(g.nodes) == sum(counts.values())
    assert g.types[g.outputs[0]].shape == out and not g.types[g.outputs[0]].timed
    time = g.meta["time"]
    assert time["integration"] == "euler" and time["reset"] == "zero" and time["fire_when"] == "gt"
    assert time["dt"] == (1.0 if name == "braille_rockpool" else DEFAULT_DT)
    if name.startswith("braille") and name != "braille_rockpool":  # the recurrent Affine became input 2
        lif = g.node("lif1.lif")
        assert len(lif.inputs) == 3 and g.params[lif.inputs[2]].shape == g.types["lif1.lif"].shape * 2


@needs_files
def test_lif_norse_matches_norse_on_the_hardware_trace_input():
    trace = np.loadtxt(NIR_FILES / "lif_loihi2_hardware_trace.csv", delimiter=",")
    x = trace[:, 0].astype(np.float32).reshape(-1, 1, 1)
    g = external("lif_norse")
    ours = ir_spikes(g, x)["last"]
    theirs, _ = norse_steps(nir.read(NIR_FILES / "lif_norse.nir"), x, 1e-4)
    np.testing.assert_array_equal(ours, theirs)
    # one step before the chip's 461, 511, 711, 761: Loihi delivers a synaptic input one step later
    assert np.flatnonzero(ours[:, 0, 0]).tolist() == [460, 510, 710, 760]
    assert g.node("1").attrs["v_decay"] == pytest.approx(1e-4 / 2.5e-3)


@needs_files
def test_two_lif_neurons_start_at_rest_as_norse_does():
    x = spikes(np.random.default_rng(1), 300, 3, (1,), 0.5)
    g = external("two_lif_neurons")
    assert g.node("lif1").attrs["v_init"] == pytest.approx(1.2)  # v_leak: the neuron starts at rest
    ours = ir_spikes(g, x, "lif1")
    _, theirs = norse_steps(nir.read(NIR_FILES / "two_lif_neurons.nir"), x, 1e-4, keep=["lif1"])
    assert ours["lif1"].sum() > 0
    np.testing.assert_array_equal(flat(ours["lif1"]), theirs["lif1"])


@needs_files
def test_cnn_sinabs_matches_norse_in_every_layer():
    x = spikes(np.random.default_rng(2), 16, 2, (2, 34, 34), 0.2)
    g = external("cnn_sinabs")
    assert g.find("Mul") == []  # SumPool's k*k went into the next layer's weights
    ours = ir_spikes(g, x, "1", "6", "10")
    out, hidden = norse_steps(nir.read(NIR_FILES / "cnn_sinabs.nir"), x, 1e-4, keep=["1", "6", "10"], batched=False)
    assert ours["last"].sum() > 0
    np.testing.assert_array_equal(flat(ours["last"]), out)
    for k in ("1", "6", "10"):
        np.testing.assert_array_equal(flat(ours[k]), hidden[k])


@needs_files
@pytest.mark.parametrize("name,reset", [("braille_noDelay_noBias_subtract", "subtract"),
                                        ("braille_noDelay_bias_zero", "zero")])
def test_braille_srnn_matches_norse(name, reset):
    """nirtorch applies a recurrent Affine from step 1 on (its output of 'step -1' does not exist); the IR adds
    the Affine's bias from step 0, as the continuous-time graph (and snnTorch's RLeaky) does, so the Norse run
    starts with that bias in its cache."""
    from nirtorch.graph_executor import GraphExecutorState

    graph = nir.read(NIR_FILES / f"{name}.nir")
    x = spikes(np.random.default_rng(3), 200, 4, (12,), 0.3)
    rec = graph.nodes["lif1.w_rec"]
    bias = getattr(rec, "bias", None)
    prime = (lambda: GraphExecutorState(cache={"lif1_w_rec": torch.from_numpy(bias).float().expand(4, -1)})) \
        if bias is not None else None
    g = external(name, reset=reset)
    ours = ir_spikes(g, x, "lif1.lif")
    out, hidden = norse_steps(graph, x, 1e-4, keep=["lif1_lif"], reset=reset, state=prime)
    assert ours["last"].sum() > 0 and ours["lif1.lif"].sum() > 0
    np.testing.assert_array_equal(ours["last"], out)
    np.testing.assert_array_equal(ours["lif1.lif"], hidden["lif1_lif"])


@needs_files
def test_braille_rockpool_matches_norse_at_its_own_time_unit():
    """rockpool's file has time constants in steps (tau_mem 10, tau_syn 2.2: the others' 1 ms at dt = 0.1 ms) and
    a subgraph whose Input declares 12 where 38 arrive, which nir.read refuses; neurodeploy warns and reads it.
    Norse gets the same graph with the declared shape corrected. Graded inputs make the weak layer fire."""
    from nir.serialization import hdf2dict

    with pytest.warns(UserWarning, match="declares shape"):
        g = load_nir(NIR_FILES / "braille_rockpool.nir", dt=1.0)
    with h5py.File(NIR_FILES / "braille_rockpool.nir") as f:
        tree = hdf2dict(f["node"])
    tree["nodes"]["hidden"]["nodes"]["input"]["shape"] = np.array([38])
    graph = nir.dict2NIRNode({**tree, "type_check": False})
    x = spikes(np.random.default_rng(4), 100, 4, (12,), 0.3) * 30
    ours = ir_spikes(g, x, "hidden/lif")
    _, hidden = norse_steps(graph, x, 1.0, keep=["hidden"])
    assert ours["hidden/lif"].sum() > 0
    np.testing.assert_array_equal(ours["hidden/lif"], hidden["hidden"])


@needs_files
def test_dangling_edge_file_is_refused_naming_the_edge():
    with pytest.raises(InputError) as e:
        load_nir(NIR_FILES / "braille_noDelay_bias_zero_subgraph.nir")
    text = str(e.value)
    assert "braille_noDelay_bias_zero_subgraph.nir" in text
    assert "edge ('input', 'lif') in subgraph 'lif1': its destination 'lif' is not a node" in text
    assert "(nodes: input, lif1, lin, output)" in text


@needs_files
def test_load_model_reads_nir_as_a_spiking_model(tmp_path):
    loaded = load_model(str(NIR_FILES / "lif_norse.nir"), num_steps=40)
    assert loaded.spiking and not loaded.deployed and loaded.name == "lif_norse"
    assert loaded.graph.meta["num_steps"] == 40
    with pytest.raises(InputError, match="NIR .nir"):
        load_model(str(tmp_path / "model.xyz"))


# --- time semantics: options, metadata, exact integration

def small_graph(path: Path, lif: dict | None = None, meta: dict | None = None, node_meta: dict | None = None,
                kind: str = "LIF") -> Path:
    """input [3] -> Affine -> neuron [4] -> output, written with nir.write."""
    rng = np.random.default_rng(5)
    neuron = {"LIF": lambda: nir.LIF(**{"tau": np.full(4, 2e-3), "r": np.ones(4), "v_leak": np.zeros(4),
                                         "v_threshold": np.ones(4), **(lif or {})}, metadata=node_meta or {}),
              "Threshold": lambda: nir.Threshold(threshold=np.array([0.5, -0.2, 1.0, 0.0]))}[kind]()
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                                "fc": nir.Affine(weight=rng.normal(0, 1.5, (4, 3)).astype(np.float32),
                                                 bias=rng.normal(0, 0.3, 4).astype(np.float32)),
                                "lif": neuron, "output": nir.Output(output_type=np.array([4]))},
                         edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], metadata=meta or {})
    nir.write(path, graph)
    return path


def nir_lif_steps(x: np.ndarray, w, b, tau, r, v_leak, v_th, v_reset, dt, exact=False) -> np.ndarray:
    """NIR's LIF, integrated as docs/nir.md states: v += f (v_leak - v + r I), spike when v > v_th, v = v_reset."""
    f = -np.expm1(-dt / tau) if exact else dt / tau
    v = np.broadcast_to(v_leak, x.shape[1:2] + (len(b),)).astype(np.float64).copy()
    out = []
    for t in range(x.shape[0]):
        v = v + f * (v_leak - v + r * (x[t] @ w.T + b))
        z = v > v_th
        v = np.where(z, v_reset, v)
        out.append(z)
    return np.stack(out).astype(np.float32)


CASES = {  # per-neuron thresholds (a scale) with the rest at the reset value; or a leak and an offset reset
    "thresholds": {"v_threshold": np.array([0.8, 1.0, 1.3, 0.9]), "v_leak": np.full(4, -0.2)},
    "leak": {"v_threshold": np.full(4, 0.9), "v_leak": np.full(4, 0.3)},
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("exact", [False, True])
def test_thresholds_leak_and_reset_value_are_exact(tmp_path, case, exact):
    """Per-neuron thresholds become a per-neuron scale, v_leak a bias, a uniform v_reset an offset; the IR gives
    NIR's spikes (integrated by hand here) for both integration rules."""
    lif = {**CASES[case], "v_reset": np.full(4, -0.2), "r": np.array([1.0, 2.0, 0.5, 1.5]), "tau": np.full(4, 1e-3)}
    path = small_graph(tmp_path / "g.nir", lif)
    g = load_nir(path, dt=2e-4, integration="exact" if exact else "euler")
    x = spikes(np.random.default_rng(6), 120, 3, (3,), 0.5)
    fc = nir.read(path).nodes["fc"]
    want = nir_lif_steps(x, fc.weight, fc.bias, 1e-3, lif["r"], lif["v_leak"], lif["v_threshold"], -0.2, 2e-4, exact)
    got = ir_spikes(g, x)["last"]
    assert want.sum() > 20
    np.testing.assert_array_equal(got, want)
    assert any("per-neuron thresholds" in n for n in g.meta["time"]["notes"]) == (case == "thresholds")


def test_threshold_node_compares_each_input(tmp_path):
    """A Threshold is a memoryless LIF that resets to zero (v is replaced every step, so the reset changes nothing;
    Loihi 2 runs it as Lava's LIFReset, docs/trevsnn.md), and exports back as a Threshold."""
    g = load_nir(small_graph(tmp_path / "t.nir", kind="Threshold"))
    x = spikes(np.random.default_rng(7), 30, 2, (3,), 0.5)
    fc = nir.read(tmp_path / "t.nir").nodes["fc"]
    want = (x @ fc.weight.T + fc.bias > np.array([0.5, -0.2, 1.0, 0.0])).astype(np.float32)
    lif = g.node("lif").attrs
    assert (lif["reset"], lif["fire_when"], lif["v_decay"]) == ("zero", "gt", 1.0)
    np.testing.assert_array_equal(ir_spikes(g, x)["last"], want)
    export_nir(g, tmp_path / "back.nir", dt=1e-3)
    assert type(nir.read(tmp_path / "back.nir").nodes["lif"]).__name__ == "Threshold"
    np.testing.assert_array_equal(ir_spikes(load_nir(tmp_path / "back.nir"), x)["last"], want)


def test_reset_none_round_trips(tmp_path):
    """An IR neuron that never resets is exported with reset metadata 'none', which the import knows."""
    g = mixed_snn()
    g.node("lif1").attrs["reset"] = "none"
    export_nir(g, tmp_path / "n.nir", dt=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not a reset style neurodeploy knows"
        back = load_nir(tmp_path / "n.nir")
    assert back.node("lif1").attrs["reset"] == "none" and not back.meta["time"]["warnings"]
    x = spikes(np.random.default_rng(26), 40, 2, (2, 8, 8), 0.3)
    want, got = ir_spikes(g, x, "s1"), ir_spikes(back, x, "lif1")
    assert want["s1"].sum() > 0
    np.testing.assert_array_equal(got["lif1"], want["s1"])
    np.testing.assert_array_equal(got["last"], want["last"])
    g = load_nir(small_graph(tmp_path / "m.nir", meta={"reset": "none"}))
    assert g.meta["time"]["reset"] == "none" and g.node("lif").attrs["reset"] == "none"
    assert not g.meta["time"]["warnings"]


def test_metadata_sets_defaults_and_disagreements_warn(tmp_path):
    path = small_graph(tmp_path / "m.nir", meta={"dt": 5e-4, "reset": "subtract"})
    g = load_nir(path)
    time = g.meta["time"]
    assert time["dt"] == 5e-4 and "file metadata" in time["source"] and time["reset"] == "subtract"
    assert g.node("lif").attrs["reset"] == "subtract" and not time["warnings"]
    with pytest.warns(UserWarning, match="dt = 0.0005 s, but dt = 0.0001 s"):
        g = load_nir(path, dt=1e-4, reset="zero")
    assert len(g.meta["time"]["warnings"]) == 2 and g.node("lif").attrs["reset"] == "zero"


def test_euler_divergence_and_bad_options_are_refused(tmp_path):
    path = small_graph(tmp_path / "e.nir")
    with pytest.raises(InputError, match=r"lif/tau: dt / tau = 0.01 s / 0.002 s = 5 > 1"):
        load_nir(path, dt=1e-2)
    with pytest.raises(InputError, match=r"dt / tau = 0.0020000001 s / 0.002 s = 1.00000005 > 1"):
        load_nir(path, dt=2.0000001e-3)  # a ratio just above 1 is not printed as "1 > 1"
    assert not any("steps per sample" in n for n in load_nir(path).meta["time"]["notes"])
    assert load_nir(path, dt=1e-2, integration="exact").node("lif").attrs["v_decay"] == pytest.approx(
        1 - np.exp(-5), rel=1e-6)
    with pytest.raises(InputError, match="reset 'sometimes'") as e:
        load_nir(path, dt=-1, reset="sometimes", integration="rk4")
    assert len(e.value.problems) == 3 and "euler, exact, impulse" in str(e.value)


def test_a_partial_write_is_named_as_such(tmp_path):
    """nir.write that fails midway (here on a 0-d parameter with compression) leaves finished nodes, an empty
    group for the failed one, and no graph type or edges."""
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                                "fc": nir.Affine(weight=np.ones((2, 3), np.float32), bias=np.zeros(2, np.float32)),
                                "lif": nir.LIF(tau=np.array(1e-3), r=np.array(1.0), v_leak=np.array(0.0),
                                               v_threshold=np.array(1.0)),
                                "output": nir.Output(output_type=np.array([2]))},
                         edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)
    with pytest.raises(TypeError, match="Scalar datasets"):
        nir.write(tmp_path / "partial.nir", graph)
    with pytest.raises(InputError, match="partial.nir: holds no complete NIR graph.*partial write") as e:
        load_nir(tmp_path / "partial.nir")
    assert "node/nodes/lif: has no 'type' (0 entries)" in e.value.problems


def test_lowering_table_covers_every_node_type():
    from neurodeploy.frontend.nir_import import _SCHEMA, _Lowering

    assert set(_Lowering.LOWER) == set(_SCHEMA) - {"Input"}


def if_steps(current: np.ndarray, v_th: float) -> np.ndarray:
    """NIR's IF with r folded into ``current``: v += current, spike when v > v_th, then v = 0."""
    v, out = np.zeros(current.shape[1:]), []
    for t in range(current.shape[0]):
        v = v + current[t]
        out.append(v > v_th)
        v = np.where(out[-1], 0.0, v)
    return np.stack(out).astype(np.float32)


def test_conv1d_scale_and_a_neuron_fed_by_the_input(tmp_path):
    """Input [2, 12] -> Scale -> Conv1d (stride 2, padding 1) -> IF -> Flatten -> Linear -> IF, and an IF read
    straight from the input (its r becomes an inserted Mul): the NIR equations by hand give the same spikes."""
    rng = np.random.default_rng(8)
    scale, w, b = rng.uniform(0.5, 2, (2, 12)), rng.normal(0, 1, (3, 2, 3)), rng.normal(0, 0.2, 3)
    lin_w = rng.normal(0, 1, (4, 18))
    nodes = {"input": nir.Input(input_type=np.array([2, 12])), "scale": nir.Scale(scale=scale),
             "conv": nir.Conv1d(input_shape=12, weight=w, stride=2, padding=1, dilation=1, groups=1, bias=b),
             "if1": nir.IF(r=np.full((3, 6), 0.8), v_threshold=np.ones((3, 6))),
             "flat": nir.Flatten(input_type={"input": np.array([3, 6])}, start_dim=0, end_dim=-1),
             "fc": nir.Linear(weight=lin_w), "if2": nir.IF(r=np.ones(4), v_threshold=np.full(4, 0.5)),
             "output": nir.Output(output_type=np.array([4]))}
    order = ["input", "scale", "conv", "if1", "flat", "fc", "if2", "output"]
    nir.write(tmp_path / "c.nir", nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:]))))
    g = load_nir(tmp_path / "c.nir")
    x = spikes(rng, 40, 3, (2, 12), 0.4)
    current = torch.nn.functional.conv1d(torch.from_numpy(x * scale).reshape(-1, 2, 12).double(),
                                         torch.from_numpy(w), torch.from_numpy(b), stride=2, padding=1)
    s1 = if_steps(0.8 * current.numpy().reshape(40, 3, 3, 6), 1.0)
    s2 = if_steps(s1.reshape(40, 3, 18) @ lin_w.T, 0.5)
    got = ir_spikes(g, x, "if1")
    assert s1.sum() > 20 and s2.sum() > 5
    np.testing.assert_array_equal(got["if1"], s1)
    np.testing.assert_array_equal(got["last"], s2)

    direct = {"input": nir.Input(input_type=np.array([5])), "if": nir.IF(r=np.full(5, 0.7), v_threshold=np.ones(5)),
              "output": nir.Output(output_type=np.array([5]))}
    nir.write(tmp_path / "d.nir", nir.NIRGraph(nodes=direct, edges=[("input", "if"), ("if", "output")]))
    g = load_nir(tmp_path / "d.nir")
    assert [n.op for n in g.nodes] == ["Mul", "IF", "SpikeCount"]
    x = spikes(rng, 30, 2, (5,), 0.6)
    np.testing.assert_array_equal(ir_spikes(g, x)["last"], if_steps(0.7 * x, 1.0))


@needs_files
def test_per_neuron_thresholds_scale_recurrent_weights(tmp_path):
    """The braille SRNN with a threshold per hidden neuron: scaling v by v_th / threshold_j scales the rows of
    the recurrent weights too; Norse (per-neuron v_th tensors, reset by subtraction) agrees."""
    path = Path(shutil.copy(NIR_FILES / "braille_noDelay_noBias_subtract.nir", tmp_path / "t.nir"))
    with h5py.File(path, "r+") as f:
        th = np.random.default_rng(9).uniform(0.7, 1.4, 40)
        del f["node/nodes/lif1.lif/v_threshold"]
        f["node/nodes/lif1.lif/v_threshold"] = th
    g = load_nir(path, reset="subtract")
    assert g.node("lif1.lif").attrs["v_th"] == pytest.approx(th.max())
    x = spikes(np.random.default_rng(10), 150, 3, (12,), 0.3)
    ours = ir_spikes(g, x, "lif1.lif")
    out, hidden = norse_steps(nir.read(path), x, 1e-4, keep=["lif1_lif"], reset="subtract")
    assert ours["lif1.lif"].sum() > 50
    np.testing.assert_array_equal(ours["lif1.lif"], hidden["lif1_lif"])
    np.testing.assert_array_equal(ours["last"], out)


# --- networks built in Norse 1.1.0 and exported by norse.torch.to_nir

DT = 1e-3


def lin(i: int, o: int, gain: float = 2.0):
    layer = torch.nn.Linear(i, o)
    with torch.no_grad():
        layer.weight.mul_(gain)
    return layer


def conv(i: int, o: int, k: int, gain: float, **kw):
    layer = torch.nn.Conv2d(i, o, k, **kw)
    with torch.no_grad():
        layer.weight.mul_(gain)
    return layer


def box(n: int, tau: float, v_th: float):
    """A LIFBoxCell with per-neuron parameters (scalars export as 0-d arrays that nir.write cannot compress)."""
    p = nt.LIFBoxParameters(tau_mem_inv=torch.full((n,), 1 / tau), v_th=torch.full((n,), v_th),
                            v_leak=torch.zeros(n))
    return nt.LIFBoxCell(p, dt=DT)


def norse_export(net, sample, path: Path, compression: str | None = "gzip", conv_inputs=None) -> Path:
    """Norse 1.1.0's to_nir writes tau = dt / tau_mem_inv: only dt = 1 gives the time constant in seconds. It
    leaves Conv2d.input_shape None, which nir.write cannot store: ``conv_inputs`` {node: (H, W)} fills it in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = nt.to_nir(net, sample, dt=1.0)
    for name, hw in (conv_inputs or {}).items():
        graph.nodes[name].input_shape = np.array(hw)
    nir.write(path, graph, compression=compression)
    return path


def norse_module_steps(net, x: np.ndarray) -> list:
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            z, state = net(torch.from_numpy(x[t]), state)
            out.append(z.numpy())
    return out


def test_norse_lifbox_mlp_matches_norse(tmp_path):
    torch.manual_seed(11)
    net = nt.SequentialState(lin(7, 11, 3.0), box(11, 4e-3, 0.4), lin(11, 5, 3.0), box(5, 9e-3, 0.3))
    path = norse_export(net, torch.zeros(1, 7), tmp_path / "box.nir")  # batched sample: Input shape [1, 7]
    x = spikes(np.random.default_rng(12), 90, 3, (7,), 0.5)
    g = load_nir(path, dt=DT)
    assert any("batch axis" in n for n in g.meta["time"]["notes"])
    want = np.stack(norse_module_steps(net, x))
    assert want.sum() > 20
    np.testing.assert_array_equal(ir_spikes(g, x)["last"], want)


def test_norse_scalar_parameters_and_li_readout(tmp_path):
    """Scalar (0-d) parameters: nir.write's compression fails on them, compression=None writes them."""
    torch.manual_seed(13)
    li = nt.LIBoxCell(nt.LIBoxParameters(tau_mem_inv=torch.full((4,), 60.0), v_leak=torch.zeros(4)), dt=DT)
    net = nt.SequentialState(lin(6, 9, 4.0), nt.LIFBoxCell(nt.LIFBoxParameters(v_th=torch.tensor(0.3)), dt=DT),
                             lin(9, 4), li)
    with pytest.raises(TypeError, match="Scalar datasets"):
        norse_export(net, torch.zeros(6), tmp_path / "fails.nir")
    path = norse_export(net, torch.zeros(6), tmp_path / "li.nir", compression=None)
    g = load_nir(path, dt=DT)
    x = spikes(np.random.default_rng(14), 60, 3, (6,), 0.5)
    want = norse_module_steps(net, x)[-1]  # the leaky integrator's value after the last step
    got = run(g, {"input": x}, keep=["1"])
    assert g.producer(g.outputs[0]).op == "MembraneReadout" and got["1"].sum() > 0
    np.testing.assert_allclose(got[g.outputs[0]], want, rtol=1e-5, atol=1e-6)


def test_norse_lifcell_file_matches_norse_from_nir(tmp_path):
    """LIFCell exports as CubaLIF with w_in = 1: Norse's own from_nir of that file (the NIR equations) and
    neurodeploy agree; LIFCell itself adds its input undamped, i.e. the file lacks w_in = tau_syn / dt."""
    torch.manual_seed(15)
    cell = nt.LIFCell(nt.LIFParameters(v_th=torch.tensor(0.2)), dt=DT)
    net = nt.SequentialState(lin(5, 8, 30.0), cell, lin(8, 3), box(3, 1e-2, 0.1))
    path = norse_export(net, torch.zeros(5), tmp_path / "cell.nir", compression=None)
    x = spikes(np.random.default_rng(16), 80, 3, (5,), 0.5)
    g = load_nir(path, dt=DT)
    ours = ir_spikes(g, x, "1")
    out, hidden = norse_steps(nir.read(path, type_check=False), x, DT, keep=["1"])
    assert ours["1"].sum() > 0 and ours["last"].sum() > 0
    np.testing.assert_array_equal(ours["last"], out)
    np.testing.assert_array_equal(ours["1"], hidden["1"])
    with h5py.File(path, "r+") as f:  # the input gain LIFCell applies: then neurodeploy reproduces LIFCell itself
        del f["node/nodes/1/w_in"]
        f["node/nodes/1/w_in"] = float(f["node/nodes/1/tau_syn"][()]) / DT
    np.testing.assert_array_equal(ir_spikes(load_nir(path, dt=DT), x)["last"], np.stack(norse_module_steps(net, x)))


def lif_cell(rng, n: int, tau_mem: float, tau_syn: float, v_th: tuple, v_leak: float = 0.0):
    """A Norse LIFCell with per-neuron parameter tensors: thresholds drawn from ``v_th``, the rest uniform."""
    p = nt.LIFParameters(tau_syn_inv=torch.full((n,), 1 / tau_syn), tau_mem_inv=torch.full((n,), 1 / tau_mem),
                         v_leak=torch.full((n,), v_leak), v_th=torch.from_numpy(rng.uniform(*v_th, n)).float(),
                         v_reset=torch.zeros(n))
    return nt.LIFCell(p, dt=DT)


def test_norse_lifcell_network_matches_the_cells_under_impulse(tmp_path):
    """Norse's LIFCell adds its synaptic input to the current undamped (i = i + x) and its to_nir writes
    w_in = 1: read with integration='impulse' at the cells' dt, the file gives the module's own spikes."""
    torch.manual_seed(27)
    rng = np.random.default_rng(27)
    net = nt.SequentialState(lin(6, 12, 2.0), lif_cell(rng, 12, 6e-3, 3e-3, (0.15, 0.4)), lin(12, 4, 2.0),
                             lif_cell(rng, 4, 9e-3, 2e-3, (0.1, 0.1), v_leak=0.02))
    path = norse_export(net, torch.zeros(6), tmp_path / "cells.nir")
    assert (np.asarray(nir.read(path, type_check=False).nodes["1"].w_in) == 1.0).all()
    x = spikes(np.random.default_rng(28), 100, 3, (6,), 0.4)
    want = np.stack(norse_module_steps(net, x))
    g = load_nir(path, dt=DT, integration="impulse")
    assert g.meta["time"]["integration"] == "impulse"
    assert not any("--integration impulse" in n for n in g.meta["time"]["notes"])
    got = ir_spikes(g, x, "1")
    assert want.sum() > 20 and 0 < got["1"].mean() < 0.5
    np.testing.assert_array_equal(got["last"], want)
    euler = load_nir(path, dt=DT)
    assert sum("--integration impulse" in n for n in euler.meta["time"]["notes"]) == 2
    assert not np.array_equal(ir_spikes(euler, x)["last"], want)


def test_norse_conv_network_matches_norse(tmp_path):
    """Norse 1.1.0's to_nir has no Flatten (it writes None and nir.write fails), so the net stays convolutional."""
    torch.manual_seed(17)
    net = nt.SequentialState(conv(2, 5, 3, 4.0, padding=1), box(1, 5e-3, 0.3), conv(5, 3, 3, 4.0, stride=2),
                             box(1, 8e-3, 0.2))
    path = norse_export(net, torch.zeros(2, 9, 9), tmp_path / "conv.nir", compression=None,
                        conv_inputs={"0": (9, 9), "2": (9, 9)})
    x = spikes(np.random.default_rng(18), 40, 2, (2, 9, 9), 0.4)
    g = load_nir(path, dt=DT)
    want = np.stack(norse_module_steps(net, x))
    assert want.sum() > 10
    np.testing.assert_array_equal(ir_spikes(g, x)["last"], want)


# --- networks built in snnTorch 1.0.0 and exported by snntorch.export_nir.export_to_nir

def full(shape, value):
    return torch.full(shape if isinstance(shape, tuple) else (shape,), value)


def _leaky(n, beta: float, th: float, **kw):
    return snn.Leaky(beta=full(n, beta), threshold=full(n, th), init_hidden=True, **kw)


SNNTORCH = {  # name: (module factory, input shape, reset option)
    "leaky": (lambda: torch.nn.Sequential(
        lin(6, 10), _leaky(10, 0.8, 0.5), lin(10, 4), _leaky(4, 0.9, 0.5, output=True)), (6,), "snntorch-subtract"),
    "leaky_zero": (lambda: torch.nn.Sequential(
        lin(6, 10, 4.0), _leaky(10, 0.85, 0.2, reset_mechanism="zero"), lin(10, 4, 4.0),
        _leaky(4, 0.9, 0.1, output=True, reset_mechanism="zero")), (6,), "snntorch-zero"),
    "synaptic": (lambda: torch.nn.Sequential(
        lin(6, 9), snn.Synaptic(alpha=full(9, 0.7), beta=full(9, 0.8), threshold=full(9, 0.5), init_hidden=True),
        lin(9, 3), _leaky(3, 0.9, 0.5, output=True)), (6,), "snntorch-subtract"),
    "rleaky": (lambda: torch.nn.Sequential(
        lin(6, 8), snn.RLeaky(beta=0.8, threshold=0.5, linear_features=8, init_hidden=True), lin(8, 3),
        _leaky(3, 0.9, 0.5, output=True)), (6,), "snntorch-subtract"),
    "rsynaptic": (lambda: torch.nn.Sequential(
        lin(6, 8), snn.RSynaptic(alpha=0.6, beta=0.8, threshold=0.5, linear_features=8, init_hidden=True),
        lin(8, 3), _leaky(3, 0.9, 0.5, output=True)), (6,), "snntorch-subtract"),
    "conv": (lambda: torch.nn.Sequential(
        conv(2, 4, 3, 3.0), _leaky((4, 7, 7), 0.8, 0.5), torch.nn.AvgPool2d(2, stride=1), torch.nn.Flatten(),
        lin(4 * 6 * 6, 3, 4.0), _leaky(3, 0.9, 0.5, output=True)), (2, 9, 9), "snntorch-subtract"),
}


@pytest.mark.parametrize("name", sorted(SNNTORCH))
def test_snntorch_networks_match_snntorch(tmp_path, name):
    """Per-neuron parameter tensors: snnTorch 1.0.0 exports a scalar beta/threshold as 0-d arrays that nir's type
    check refuses. export_to_nir with ignore_dims=[0] (else the sample's batch axis breaks the type check).
    snnTorch writes dt = 1e-4 into its time constants, and resets one step late (reset_delay)."""
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(19)
    factory, shape, reset = SNNTORCH[name]
    net = factory()
    with contextlib.redirect_stdout(io.StringIO()):
        graph = export_to_nir(net, torch.zeros((1,) + shape), ignore_dims=[0])
    nir.write(tmp_path / f"{name}.nir", graph)
    x = spikes(np.random.default_rng(20), 60, 3, shape, 0.4)
    utils.reset(net)
    want = []
    with torch.no_grad():
        for t in range(60):
            want.append(net(torch.from_numpy(x[t]))[0].numpy())
    g = load_nir(tmp_path / f"{name}.nir", reset=reset)
    assert g.meta["time"]["dt"] == DEFAULT_DT
    got = ir_spikes(g, x)["last"]
    assert np.stack(want).sum() > 10
    np.testing.assert_array_equal(got, np.stack(want))
    if name.startswith("r"):
        assert any(len(n.inputs) == 3 for n in g.find("LIF"))  # the recurrent Linear is the LIF's input 2


# --- export: IR -> NIR -> neurodeploy and Norse

def mixed_snn() -> Graph:
    """Spike input [2, 8, 8] -> Conv -> LIF (subtract) -> AveragePool -> Flatten -> Gemm -> recurrent LIF with
    current decay and bias -> Gemm -> IF -> SpikeCount: what Norse can run."""
    rng = np.random.default_rng(21)
    g = Graph([], {"x": TensorType((2, 8, 8), timed=True)}, ["out"])
    p = lambda name, shape, scale: g.add_param(name, rng.normal(0, scale, shape).astype(np.float32))
    g.nodes = [
        Node("Conv", "conv", ["x", p("cw", (4, 2, 3, 3), 1.0), p("cb", (4,), 0.1)], ["c"],
             {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1)}),
        Node("LIF", "lif1", ["c"], ["s1"], {"v_th": 1.0, "reset": "subtract", "v_decay": 0.2, "fire_when": "gt",
                                            "dt": 1e-3}),
        Node("AveragePool", "pool", ["s1"], ["pl"], {"kernel_shape": (2, 2), "strides": (2, 2)}),
        Node("Flatten", "flat", ["pl"], ["f"], {"axis": 1}),
        Node("Gemm", "fc1", ["f", p("w1", (12, 64), 0.6), p("b1", (12,), 0.1)], ["i1"], {"transB": 1}),
        Node("LIF", "lif2", ["i1", p("bias2", (12,), 0.05), p("rec", (12, 12), 0.4)], ["s2"],
             {"v_th": 0.8, "reset": "zero", "v_decay": 0.25, "i_decay": 0.5, "fire_when": "gt"}),
        Node("Gemm", "fc2", ["s2", p("w2", (12, 5), 0.8)], ["i2"], {"transB": 0}),
        Node("IF", "if3", ["i2", p("bias3", (5,), 0.05)], ["s3"], {"v_th": 1.0, "reset": "zero", "fire_when": "gt"}),
        Node("SpikeCount", "count", ["s3"], ["out"]),
    ]
    check_graph(g)
    return g


def test_export_round_trips_through_neurodeploy_and_norse(tmp_path):
    g = mixed_snn()
    notes = export_nir(g, tmp_path / "snn.nir", dt=1e-3)
    assert any("tau_syn = dt" in n for n in notes) and any("v_leak" in n for n in notes)
    graph = nir.read(tmp_path / "snn.nir")  # nir's own type check passes
    assert graph.metadata["dt"] == 1e-3 and graph.metadata["integration"] == "euler"
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"Conv2d", "CubaLIF", "SumPool2d", "IF", "Linear"}
    x = spikes(np.random.default_rng(22), 50, 2, (2, 8, 8), 0.3)
    want = ir_spikes(g, x, "s1", "s2")
    back = load_nir(tmp_path / "snn.nir")
    assert back.meta["time"]["dt"] == 1e-3 and not back.meta["time"]["warnings"]
    got = ir_spikes(back, x, "lif1", "lif2")
    assert want["s2"].sum() > 0 and want["last"].sum() > 0
    for a, b in (("s1", "lif1"), ("s2", "lif2"), ("last", "last")):
        np.testing.assert_array_equal(got[b], want[a])
    # Norse: lif1 subtracts (reset_method applies to its CubaLIF), lif2 starts at v_leak = bias / v_decay, not 0,
    # and its v_leak also enters its synaptic current: only the layer before it is compared
    _, hidden = norse_steps(nir.read(tmp_path / "snn.nir"), x, 1e-3, keep=["lif1"], reset="subtract",
                            batched=False)
    np.testing.assert_array_equal(flat(want["s1"]), hidden["lif1"])


def test_export_of_a_norse_runnable_graph_matches_norse(tmp_path):
    """Without per-neuron biases on current-decaying neurons every layer matches Norse."""
    g = mixed_snn()
    g.node("lif2").inputs[1] = ""
    g.node("lif2").attrs["reset"] = "subtract"  # Norse's from_nir takes one reset_method for all its CubaLIFs
    notes = export_nir(g, tmp_path / "n.nir", dt=1e-3)
    x = spikes(np.random.default_rng(23), 50, 2, (2, 8, 8), 0.3)
    want = ir_spikes(g, x, "s2")
    out, hidden = norse_steps(nir.read(tmp_path / "n.nir"), x, 1e-3, keep=["lif2"], reset="subtract", batched=False)
    assert want["s2"].sum() > 0 and not any("v_leak" in n for n in notes)
    np.testing.assert_array_equal(flat(want["s2"]), hidden["lif2"])
    np.testing.assert_array_equal(flat(want["last"]), out)


def test_export_keeps_what_nir_cannot_say_in_metadata(tmp_path):
    """DirectEncode, v_init, fire 'ge', a MembraneReadout: written, noted, and read back exactly by neurodeploy."""
    g = leaky_snn(0.5, True)
    g.node("lif2").attrs.update(reset="subtract", reset_timing="next_step", refractory=2)
    notes = export_nir(g, tmp_path / "l.nir", dt=2e-3)
    text = " ".join(notes)
    for fragment in ("starts after the encoder", "v >= v_th", "refractory", "next step", "written as NIR I"):
        assert fragment in text, fragment
    back = load_nir(tmp_path / "l.nir")
    lif = back.node("lif2").attrs
    assert (lif["reset"], lif["reset_timing"], lif["refractory"], lif["fire_when"]) == ("subtract", "next_step", 2,
                                                                                       "ge")
    x = np.random.default_rng(24).random((4, 6)).astype(np.float32)
    want = run(g, {"x": x}, keep=["s1", "s2"])
    got = run(back, {"input": np.broadcast_to(x, (64, 4, 6)).copy()}, keep=["if1", "lif2"])
    np.testing.assert_array_equal(got["if1"], want["s1"])
    np.testing.assert_array_equal(got["lif2"], want["s2"])
    np.testing.assert_allclose(got[back.outputs[0]], want["out"], rtol=1e-5)


@needs_files
def test_imported_files_export_back_to_norse(tmp_path):
    g = external("braille_noDelay_bias_zero")
    export_nir(g, tmp_path / "b.nir")
    x = spikes(np.random.default_rng(25), 120, 3, (12,), 0.3)
    out, _ = norse_steps(nir.read(tmp_path / "b.nir"), x, DEFAULT_DT)  # the recurrent bias now is feed-forward
    np.testing.assert_array_equal(out, ir_spikes(g, x)["last"])


def test_nir_writer_builds_now_and_writes_later(tmp_path):
    write, notes = nir_writer(mixed_snn(), 1e-3)
    write(tmp_path / "w.nir")
    assert set(nir.read(tmp_path / "w.nir").nodes) >= {"input", "conv", "lif1", "lif2", "lif2.w_rec", "output"}
    with pytest.raises(TypeError, match="nir_writer"):
        export_nir(mixed_snn(), 1e-3)


def test_export_refuses_what_has_no_nir_form():
    g = mixed_snn()
    g.nodes.insert(3, Node("Relu", "relu", ["pl"], ["pr"]))
    g.node("flat").inputs = ["pr"]
    check_graph(g)
    with pytest.raises(UnsupportedError, match=r"relu \(Relu\): no NIR form"):
        to_nir_graph(g, 1e-3)
