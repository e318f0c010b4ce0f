"""netx import without Lava: structure, semantics of the mapping, content validation (every problem named with
its file and element, all at once), and files written by lava-dl slayer's own ``export_hdf5``."""
from __future__ import annotations

import copy
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.frontend.netx import DEFAULT_STEPS, MAX_STEPS, load_netx, netx_dense_weights
from neurodeploy.ir import reference

NETX = Path(__file__).resolve().parents[2] / "shared" / "external" / "netx"
needs_files = pytest.mark.skipif(not NETX.is_dir(), reason=f"external networks not found at {NETX}")
DELETE = object()  # a mutation that removes the element


# --- building files

def write_tree(path: Path, tree: dict) -> Path:
    """Write nested dicts as HDF5 groups, everything else as datasets."""
    def write(group, items):
        for key, value in items.items():
            if isinstance(value, dict):
                write(group.create_group(key), value)
            else:
                group.create_dataset(key, data=value)

    with h5py.File(path, "w") as f:
        write(f, tree)
    return path


def mutated(tree: dict, element: str, value) -> dict:
    """A copy of ``tree`` with ``element`` ('layer/1/weight') set to ``value`` (or removed: DELETE)."""
    tree = copy.deepcopy(tree)
    *parents, key = element.split("/")
    node = tree
    for name in parents:
        node = node[name]
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return tree


def _neuron(v_th: int = 8) -> dict:
    return {"type": b"CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": v_th, "refDelay": 1, "gradedSpike": False}


def _weights(rows: int, cols: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).integers(-40, 40, (rows, cols)) * 2).astype(np.float32)


def dense_tree() -> dict:
    """Spike input 6 -> dense 4 -> dense 3 (with bias), as slayer writes dense blocks."""
    return {"simulation": {"Ts": 1, "tSample": 8}, "layer": {
        "0": {"type": np.array([b"dense"]), "shape": np.array([4]), "weight": _weights(4, 6, 0), "neuron": _neuron()},
        "1": {"type": np.array([b"dense"]), "shape": np.array([3]), "weight": _weights(3, 4, 1),
              "bias": np.array([2.0, -4.0, 0.0], np.float32), "inFeatures": 4, "outFeatures": 3, "neuron": _neuron()},
    }}


def conv_tree() -> dict:
    """input 2x6x6 -> conv 4 k3 p1 -> flatten -> dense 5."""
    rng = np.random.default_rng(2)
    return {"simulation": {"Ts": 1, "tSample": 8}, "layer": {
        "0": {"type": np.array([b"input"]), "shape": np.array([2, 6, 6]), "weight": np.float32(64),
              "bias": np.float32(0), "neuron": _neuron(40)},
        "1": {"type": np.array([b"conv"]), "shape": np.array([4, 6, 6]),
              "weight": (rng.integers(-20, 20, (4, 2, 3, 3)) * 2).astype(np.float32),
              "bias": np.array([0.0, 2.0, -2.0, 4.0], np.float32), "stride": np.array([1, 1]),
              "padding": np.array([1, 1]), "dilation": np.array([1, 1]), "groups": 1, "kernelSize": np.array([3, 3]),
              "inChannels": 2, "outChannels": 4, "neuron": _neuron()},
        "2": {"type": np.array([b"flatten"]), "shape": np.array([144, 1, 1])},
        "3": {"type": np.array([b"dense"]), "shape": np.array([5]), "weight": _weights(5, 144, 3), "neuron": _neuron()},
    }}


SLAYER_NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03, "requires_grad": False}
SLAYER_INPUTS = {"conv": (2, 8, 8), "dense": (40,)}


def slayer_blocks(kind: str, seed: int = 0, bias: bool = True):
    """Random lava-dl slayer CUBA blocks, run once on random spikes (which sets their shapes for export):
    'conv': conv 4 k3 s2 p1 -> conv 6 k3 p1 (2 groups) -> flatten -> dense 10 -> dense 3 on 2x8x8 spikes;
    'dense': dense 24 -> dense 12 -> dense 4 on 40 spike inputs. ``bias`` adds a mean-only batch norm to the
    first and the fourth block, which slayer exports as a per-channel / per-neuron bias."""
    import functools

    import torch
    from lava.lib.dl import slayer

    torch.manual_seed(seed)
    cuba = slayer.block.cuba

    def neuron(norm_features: int = 0) -> dict:
        norm = functools.partial(slayer.neuron.norm.MeanOnlyBatchNorm, num_features=norm_features)
        return {**SLAYER_NEURON, **({"norm": norm} if bias and norm_features else {})}

    if kind == "conv":
        blocks = [cuba.Conv(neuron(4), 2, 4, 3, stride=2, padding=1, weight_scale=2),
                  cuba.Conv(neuron(), 4, 6, 3, padding=1, groups=2, weight_scale=3),
                  cuba.Flatten(),
                  cuba.Dense(neuron(10), 6 * 4 * 4, 10, weight_scale=3),
                  cuba.Dense(neuron(), 10, 3, weight_scale=3)]
    else:
        blocks = [cuba.Dense(neuron(24), 40, 24, weight_scale=2), cuba.Dense(neuron(), 24, 12, weight_scale=3),
                  cuba.Dense(neuron(), 12, 4, weight_scale=3)]
    blocks = torch.nn.ModuleList(blocks).eval()
    with torch.no_grad():
        for block in blocks:
            if hasattr(block, "synapse"):  # more excitation than a zero-mean init, so that every layer spikes
                block.synapse.weight.add_(block.synapse.weight.abs().mean() * 0.2)
            if getattr(block, "neuron", None) is not None and block.neuron.norm is not None:
                mean = block.neuron.norm.running_mean
                mean.copy_(torch.rand(mean.shape) * 0.2 - 0.1)
        x = (torch.rand((1,) + SLAYER_INPUTS[kind] + (16,)) < 0.3).float()
        for block in blocks:
            x = block(x)
    return blocks


def export_slayer(path: Path, kind: str, seed: int = 0, steps: int = 16, bias: bool = True) -> Path:
    """A netx file written the way lava-dl's tutorials do: one ``export_hdf5`` per block, plus ``simulation``."""
    blocks = slayer_blocks(kind, seed, bias)
    with h5py.File(path, "w") as h:
        simulation = h.create_group("simulation")
        simulation["Ts"], simulation["tSample"] = 1, steps
        layer = h.create_group("layer")
        for i, block in enumerate(blocks):
            block.export_hdf5(layer.create_group(f"{i}"))
    return path


def refused(path: Path, error=InputError, **kwargs):
    with pytest.raises(error) as caught:
        load_netx(path, **kwargs)
    assert type(caught.value) is error, caught.value
    return caught.value


# --- the shipped networks

@needs_files
def test_pilotnet_structure():
    g = load_netx(NETX / "pilotnet_lif.net")
    assert [n.op for n in g.nodes].count("LoihiConv") == 5 and [n.op for n in g.nodes].count("LoihiDense") == 4
    assert g.inputs["x"].shape == (3, 66, 200) and g.meta["num_steps"] == 16
    conv4 = g.node("layer4_synapses")
    assert conv4.attrs["strides"] == (2, 1) and conv4.attrs["pads"] == (1, 0, 1, 0)
    last = g.node("layer10")
    assert (last.attrs["vth"], last.attrs["dv"], last.attrs["du"], last.attrs["bias_exp"]) == (131071, 0, 4095, 6)
    assert g.types["layer5_spikes"].shape == (64, 2, 20) and g.types["layer6_flat"].shape == (2560,)


@needs_files
def test_dense_without_neuron_gets_the_netx_default():
    g = load_netx(NETX / "mnist_bootstrap.net")
    readout = g.node("layer3")
    assert (readout.attrs["du"], readout.attrs["dv"], readout.attrs["vth"]) == (-1, 4096, 1 << 17)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 784)).astype(np.float32)
    out = reference.run(g, {"x": x})[g.outputs[0]]
    assert out.shape == (16, 3, 10)


@needs_files
def test_sigma_delta_network_is_refused_with_every_layer():
    err = refused(NETX / "pilotnet_sdnn.net", UnsupportedError)
    assert len(err.problems) >= 9
    assert all("neuron type SDNN" in p for p in err.problems)


@needs_files
@pytest.mark.parametrize("file", ["mnist_dense", "tiny", "pilotnet_lif"])
def test_import_export_import_is_identical(tmp_path, file):
    from neurodeploy.backends.loihi.netx_export import export_netx
    from neurodeploy.sim.evaluate import seeded_input

    g = load_netx(NETX / f"{file}.net")
    again = load_netx(export_netx(g, tmp_path / f"{file}.net"))
    synapses = lambda graph: [(n.op, n.attrs) for n in graph.nodes if n.op in ("LoihiDense", "LoihiConv")]  # noqa
    assert synapses(again) == synapses(g)
    x = seeded_input(g, 1)
    name = next(iter(g.inputs))
    a = reference.run(g, {name: x}, keep=[n.outputs[0] for n in g.find("LoihiLIF")])
    b = reference.run(again, {name: x}, keep=[n.outputs[0] for n in again.find("LoihiLIF")])
    for value in a:
        np.testing.assert_array_equal(a[value], b[value])


# --- dense weights exactly as netx hands them to Lava

def test_dense_weights_keep_what_lava_computes_with():
    w, exp, bits, mode = netx_dense_weights(np.array([[3, -5, 255]]))  # netx clips mixed weights to 254
    assert (w.tolist(), exp, bits, mode) == ([[3, -5, 254]], 0, 9, "mixed")
    w, exp, bits, mode = netx_dense_weights(np.array([[4, -6, 2]]))
    assert (w.tolist(), exp, bits, mode) == ([[4, -6, 2]], 0, 8, "mixed")
    w, exp, _, mode = netx_dense_weights(np.array([[3, 255]]))
    assert (w.tolist(), exp, mode) == ([[3, 255]], 0, "excitatory")
    w, exp, _, mode = netx_dense_weights(np.array([[0, -1]]))  # shifted to -256, clipped to -255, truncated
    assert (w.tolist(), exp, mode) == ([[0, -128]], -8, "inhibitory")
    assert netx_dense_weights(np.array([[-2, -2]]))[0].tolist() == [[0, 0]]  # netx loses a constant -2 matrix


def _lava_effective(w: np.ndarray, spikes: np.ndarray) -> np.ndarray:
    """What lava-dl's netx + Lava's Dense compute for binary ``spikes`` [K, in], by their own functions."""
    from lava.lib.dl.netx.utils import optimize_weight_bits
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    weights, bits, exp, _ = optimize_weight_bits(w)
    mode = determine_sign_mode(weights)
    weights = truncate_weights(clip_weights(weights, mode, num_bits=8), mode, bits)
    acc = spikes.astype(np.int64) @ weights.T.astype(np.int64)
    return np.left_shift(acc, exp) if exp > 0 else np.right_shift(acc, -exp)


@pytest.mark.filterwarnings("ignore:divide by zero")  # netx's own scale for weights without a positive one
@pytest.mark.parametrize("seed", range(12))
def test_dense_weights_agree_with_lava_dl_functions(seed):
    pytest.importorskip("lava.lib.dl.netx.utils")
    rng = np.random.default_rng(seed)
    low, high = [(-256, 256), (0, 256), (-256, 0), (-3, 4), (-1, 1), (-8, 1), (0, 2), (-129, -127),
                 (-4, 1), (-256, -255), (-40, 41), (100, 256)][seed]
    w = rng.integers(low, high, (5, 7)) * (2 if seed % 3 == 0 else 1)
    w = np.clip(w, -256, 255)
    if not w.any():
        w[0, 0] = -1
    spikes = (rng.random((64, 7)) < 0.5).astype(np.int64)
    ours, exp, _, _ = netx_dense_weights(w)
    acc = spikes @ ours.T
    mine = np.left_shift(acc, exp) if exp > 0 else np.right_shift(acc, -exp)
    np.testing.assert_array_equal(mine, _lava_effective(w, spikes))


# --- files written by lava-dl slayer blocks

@pytest.fixture(scope="module")
def slayer_files(tmp_path_factory):
    pytest.importorskip("lava.lib.dl.slayer")
    folder = tmp_path_factory.mktemp("slayer")
    return {kind: export_slayer(folder / f"{kind}.net", kind) for kind in SLAYER_INPUTS}


def test_slayer_conv_blocks_import(slayer_files):
    g = load_netx(slayer_files["conv"])
    assert [n.op for n in g.nodes] == ["LoihiConv", "LoihiLIF", "LoihiConv", "LoihiLIF", "Flatten", "LoihiDense",
                                       "LoihiLIF", "LoihiDense", "LoihiLIF"]
    assert g.inputs["spikes"] == g.types["spikes"] and g.inputs["spikes"].timed
    assert g.inputs["spikes"].shape == (2, 8, 8) and g.meta["num_steps"] == 16
    assert "layer/0: input size [2, 8, 8]" in g.meta["netx_assumptions"][0]
    first, second = g.node("layer0_synapses"), g.node("layer1_synapses")
    assert (first.attrs["strides"], first.attrs["pads"], first.attrs["kernel_shape"]) == ((2, 2), (1, 1, 1, 1), (3, 3))
    assert second.attrs["group"] == 2 and g.param_of(second, 1).shape == (6, 2, 3, 3)
    assert [g.types[f"layer{i}_spikes"].shape for i in (0, 1, 3, 4)] == [(4, 4, 4), (6, 4, 4), (10,), (3,)]
    with h5py.File(slayer_files["conv"]) as f:
        np.testing.assert_array_equal(g.param_of(first, 1), f["layer/0/weight"][()])
        bias = f["layer/0/bias"][()]
        neuron = {k: int(f["layer/0/neuron"][k][()]) for k in ("iDecay", "vDecay", "vThMant")}
    assert bias.any()
    np.testing.assert_array_equal(g.param_of(g.node("layer0"), 1), np.broadcast_to(bias[:, None, None], (4, 4, 4)))
    lif = g.node("layer0").attrs
    assert (lif["du"], lif["dv"], lif["vth"]) == (neuron["iDecay"] - 1, neuron["vDecay"], neuron["vThMant"])
    spikes = (np.random.default_rng(0).random((16, 2, 2, 8, 8)) < 0.3).astype(np.float32)
    assert reference.run(g, {"spikes": spikes})[g.outputs[0]].shape == (16, 2, 3)


def test_slayer_dense_blocks_import(slayer_files):
    g = load_netx(slayer_files["dense"])
    assert [n.op for n in g.nodes] == ["LoihiDense", "LoihiLIF"] * 3
    assert g.inputs["spikes"].shape == (40,) and g.inputs["spikes"].timed
    with h5py.File(slayer_files["dense"]) as f:
        for i in range(3):
            synapse = g.node(f"layer{i}_synapses")
            expected, exp, _, _ = netx_dense_weights(f[f"layer/{i}/weight"][()].astype(np.int64))
            np.testing.assert_array_equal(g.param_of(synapse, 1), expected)
            assert synapse.attrs["weight_exp"] == exp
        assert g.param_of(g.node("layer0"), 1).tolist() == f["layer/0/bias"][()].astype(int).tolist()


def test_slayer_export_round_trips_through_neurodeploys_exporter(slayer_files, tmp_path):
    from neurodeploy.backends.loihi.netx_export import export_netx

    g = load_netx(slayer_files["conv"])
    again = load_netx(export_netx(g, tmp_path / "again.net"))
    assert again.inputs == g.inputs
    synapses = lambda graph: [(n.op, n.attrs) for n in graph.nodes if n.op in ("LoihiDense", "LoihiConv")]  # noqa
    assert synapses(again) == synapses(g)
    spikes = (np.random.default_rng(1).random((16, 2, 2, 8, 8)) < 0.3).astype(np.float32)
    lifs = [n.outputs[0] for n in g.find("LoihiLIF")]
    a, b = reference.run(g, {"spikes": spikes}, keep=lifs), reference.run(again, {"spikes": spikes}, keep=lifs)
    for value in lifs:
        np.testing.assert_array_equal(a[value], b[value])


def test_one_bias_for_all_neurons_of_a_conv(tmp_path):
    """slayer's mean-only batch norm without num_features writes a single bias; it applies to every neuron."""
    g = load_netx(write_tree(tmp_path / "shared.net", mutated(conv_tree(), "layer/1/bias", np.array([6.0]))))
    assert (g.param_of(g.node("layer1"), 1) == 6).all() and g.param_of(g.node("layer1"), 1).shape == (4, 6, 6)


def test_conv_input_size_from_the_caller_or_a_shape_only_input_layer(tmp_path):
    tree = mutated(conv_tree(), "layer/0", {"type": np.array([b"input"]), "shape": np.array([2, 6, 6])})
    g = load_netx(write_tree(tmp_path / "shape_only.net", tree))
    assert g.inputs["spikes"].shape == (2, 6, 6) and g.inputs["spikes"].timed and not g.meta["netx_assumptions"]
    layers = conv_tree()["layer"]
    strided = {"0": {**layers["1"], "stride": np.array([2, 2]), "shape": np.array([4, 3, 3])},
               "1": layers["2"], "2": {**layers["3"], "weight": _weights(5, 36, 3)}}
    path = write_tree(tmp_path / "conv_first.net", {"layer": strided})
    assert load_netx(path).inputs["spikes"].shape == (2, 6, 6)  # 5 or 6 give 3 rows: the larger is taken
    assert load_netx(path, input_shape=(2, 5, 5)).inputs["spikes"].shape == (2, 5, 5)
    err = refused(path, input_shape=(2, 9, 9))
    assert "conv_first.net" in str(err) and "layer/0/shape: [4, 3, 3], but this conv on an input of shape " \
                                                "[2, 9, 9] gives [4, 5, 5]" in str(err)


# --- validation: one case per kind of damage, each naming the file and the element

VALIDATION_CASES = [
    # missing groups and keys
    ("dense", "layer/1/type", DELETE, "layer/1/type: missing"),
    ("dense", "layer/0/shape", DELETE, "layer/0/shape: missing"),
    ("dense", "layer/0/weight", DELETE, "layer/0/weight: missing"),
    ("dense", "layer/0/neuron/iDecay", DELETE, "layer/0/neuron/iDecay: missing"),
    ("dense", "layer/0/neuron/vDecay", DELETE, "layer/0/neuron/vDecay: missing"),
    ("dense", "layer/0/neuron/vThMant", DELETE, "layer/0/neuron/vThMant: missing"),
    ("dense", "layer/0/neuron/type", DELETE, "layer/0/neuron/type: missing"),
    ("conv", "layer/1/neuron", DELETE, "layer/1/neuron: missing"),
    ("conv", "layer/0/neuron/vThMant", DELETE, "layer/0/neuron/vThMant: missing"),
    ("conv", "layer/1/stride", DELETE, "layer/1/stride: missing"),
    ("conv", "layer/1/padding", DELETE, "layer/1/padding: missing"),
    ("conv", "layer/1/groups", DELETE, "layer/1/groups: missing"),
    # wrong types
    ("dense", "layer/0/weight", "abc", "layer/0/weight: holds text ('abc'), expected numbers"),
    ("dense", "layer/0/neuron/vThMant", "64", "layer/0/neuron/vThMant: holds text"),
    ("dense", "layer/1/type", 3, "layer/1/type: holds values of type int64 [], expected one string"),
    ("dense", "layer/0/shape", np.array([4.0]), "layer/0/shape: holds float64 values, expected integers"),
    ("conv", "layer/1/stride", np.array([1.0, 1.0]), "layer/1/stride: holds float64 values, expected integers"),
    ("dense", "layer/0/weight", _weights(4, 6, 0) + 0.5, "layer/0/weight: holds non-integer values"),
    ("dense", "layer/0/neuron/vDecay", 12.5, "layer/0/neuron/vDecay: holds non-integer values (e.g. 12.5)"),
    ("conv", "layer/0/weight", np.float32(2.5), "layer/0/weight: holds non-integer values"),
    ("dense", "layer/0/neuron/vThMant", np.array([8, 8]), "layer/0/neuron/vThMant: holds 2 values [2], expected one"),
    ("dense", "layer/0/neuron", np.array(1), "layer/0/neuron: is a dataset, expected a group"),
    ("dense", "layer/0/weight", {"x": 1}, "layer/0/weight: is a group, expected a dataset"),
    ("dense", "layer/0/weight", np.ones((4, 6), bool), "layer/0/weight: holds booleans"),
    # shapes that do not match
    ("dense", "layer/1/weight", _weights(5, 4, 1), "layer/1/weight: shape [5, 4] does not give 3 rows"),
    ("dense", "layer/1/weight", _weights(3, 5, 1), "layer/1/weight: takes inputs of shape [5], but layer/0 gives [4]"),
    ("dense", "layer/0/weight", _weights(2, 3, 0)[None], "layer/0/weight: shape [1, 2, 3] has 3 dimensions"),
    ("dense", "layer/1/inFeatures", 7, "layer/1/inFeatures: 7, but the weights give 4"),
    ("conv", "layer/3/weight", _weights(5, 100, 3), "layer/3/weight: takes inputs of shape [100], but layer/2 gives "
                                                    "[144]"),
    ("conv", "layer/1/shape", np.array([4, 5, 5]), "layer/1/shape: [4, 5, 5], but this conv on an input of shape "
                                                   "[2, 6, 6] gives [4, 6, 6]"),
    ("conv", "layer/1/weight", np.zeros((4, 2, 3)), "layer/1/weight: shape [4, 2, 3] has 3 dimensions"),
    ("conv", "layer/1/weight", np.zeros((4, 2, 3, 3, 2)), "layer/1/weight: shape [4, 2, 3, 3, 2]: a 5-D conv"),
    ("conv", "layer/1/weight", np.zeros((4, 3, 3, 3)), "layer/1/weight: takes 3 input channels"),
    ("conv", "layer/1/kernelSize", np.array([5, 5]), "layer/1/kernelSize: [5, 5], but the weights have [3, 3]"),
    ("conv", "layer/1/bias", np.zeros(3), "layer/1/bias: shape [3] does not give one value for all, a channel"),
    ("dense", "layer/1/bias", np.zeros((2, 2)), "layer/1/bias: shape [2, 2] does not give one value"),
    ("conv", "layer/1/groups", 3, "layer/1/weight: 4 output channels"),
    # dimensions
    ("dense", "layer/0/shape", np.array([0]), "layer/0/shape: values 0..0 are outside [1,"),
    ("dense", "layer/0/shape", np.array([-4]), "layer/0/shape: values -4..-4 are outside [1,"),
    ("conv", "layer/0/shape", np.array([2, 6, 6, 1]), "layer/0/shape: [2, 6, 6, 1] has 4 dimensions"),
    ("conv", "layer/0/shape", np.array([3, 100000, 100000]), "layer/0/shape: [3, 100000, 100000] is more than"),
    ("conv", "layer/1/stride", np.array([0, 1]), "layer/1/stride: values 0..1 are outside [1,"),
    ("conv", "layer/1/padding", np.array([-1, -1]), "layer/1/padding: values -1..-1 are outside [0,"),
    ("conv", "layer/1/dilation", np.array([1, 1, 1]), "layer/1/dilation: [1, 1, 1] has 3 values"),
    # NaN and Inf
    ("dense", "layer/0/weight", np.where(np.eye(4, 6) > 0, np.nan, 2.0), "layer/0/weight: holds NaN or infinite"),
    ("conv", "layer/1/bias", np.array([0, np.inf, 0, 0]), "layer/1/bias: holds NaN or infinite"),
    ("dense", "layer/0/neuron/vThMant", np.nan, "layer/0/neuron/vThMant: holds NaN or infinite"),
    ("conv", "layer/0/bias", -np.inf, "layer/0/bias: holds NaN or infinite"),
    # values Loihi's registers cannot hold
    ("dense", "layer/0/neuron/iDecay", 4097, "layer/0/neuron/iDecay: values 4097..4097 are outside [0, 4096]"),
    ("dense", "layer/0/neuron/vDecay", -1, "layer/0/neuron/vDecay: values -1..-1 are outside [0, 4096]"),
    ("dense", "layer/0/neuron/vThMant", 1 << 17, "layer/0/neuron/vThMant: values 131072..131072 are outside "
                                                  "[0, 131071] (17-bit threshold mantissa)"),
    ("dense", "layer/0/neuron/vThMant", 1e30, "layer/0/neuron/vThMant: values 1e+30..1e+30 are outside"),
    ("dense", "layer/0/neuron/vInit", 1 << 23, "layer/0/neuron/vInit: values 8388608..8388608 are outside"),
    ("dense", "layer/1/bias", np.array([40000.0, 0, 0]), "layer/1/bias: values 0..40000 are outside [-32768, 32767]"),
    ("dense", "layer/0/weight", _weights(4, 6, 0) * 4, "layer/0/weight: values"),
    ("conv", "layer/1/weight", np.full((4, 2, 3, 3), -258.0), "layer/1/weight: values -258..-258 are outside "
                                                              "[-256, 255]"),
    # the layer type
    ("dense", "layer/1/type", np.array([b"bogus"]), "layer/1/type: unknown layer type 'bogus'"),
]


@pytest.mark.parametrize("base,element,value,message", VALIDATION_CASES,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(VALIDATION_CASES)])
def test_invalid_content_is_named(tmp_path, base, element, value, message):
    tree = dense_tree() if base == "dense" else conv_tree()
    path = write_tree(tmp_path / f"{base}_bad.net", mutated(tree, element, value))
    err = refused(path)
    assert str(err).startswith(f"{path}: ") and message in str(err), str(err)


@pytest.mark.parametrize("element,value,message", [
    ("layer/0/neuron/gradedSpike", True, "layer/0/neuron/gradedSpike: graded spikes"),
    ("layer/0/neuron/refDelay", 2, "layer/0/neuron/refDelay: 2; netx and Lava's LIF have no refractory period"),
    ("layer/0/neuron/messageBits", 3, "layer/0/neuron/messageBits: 3-bit graded spikes"),
    ("layer/1/neuron/weight_exp", 2, "layer/1/neuron/weight_exp: 2"),
    ("layer/1/neuron/type", b"SDNN", "layer/1/neuron: neuron type SDNN"),
    ("layer/1/delay", np.zeros(3), "layer/1/delay: synaptic/axonal delays are not supported"),
    ("layer/1/type", np.array([b"pool"]), "layer/1: layer type 'pool'"),
    ("layer/1/weight", {"real": _weights(3, 4, 1), "imag": _weights(3, 4, 2)}, "layer/1/weight: complex"),
])
def test_unsupported_features_are_named(tmp_path, element, value, message):
    path = write_tree(tmp_path / "unsupported.net", mutated(dense_tree(), element, value))
    err = refused(path, UnsupportedError)
    assert str(err).startswith(f"{path}: ") and message in str(err), str(err)


def test_the_defaults_of_missing_optional_fields(tmp_path):
    tree = dense_tree()
    for element in ("layer/0/neuron/refDelay", "layer/0/neuron/gradedSpike", "layer/1/bias", "layer/1/inFeatures"):
        tree = mutated(tree, element, DELETE)
    g = load_netx(write_tree(tmp_path / "minimal.net", mutated(tree, "simulation", DELETE)))
    assert g.meta["num_steps"] == DEFAULT_STEPS == 16
    assert not g.param_of(g.node("layer1"), 1).any()
    g = load_netx(write_tree(tmp_path / "no_steps.net", mutated(dense_tree(), "simulation/tSample", DELETE)))
    assert g.meta["num_steps"] == DEFAULT_STEPS
    assert load_netx(tmp_path / "no_steps.net", num_steps=5).meta["num_steps"] == 5


@pytest.mark.parametrize("value,message", [
    (0, "values 0..0 are outside [1, 100000]"), (-1, "values -1..-1 are outside"), (2.5, "holds non-integer values"),
    (1e12, "values 1000000000000..1000000000000 are outside [1, 100000] (this reader's limit)"),
    ("x", "holds text ('x')"), (np.array([16, 16]), "holds 2 values"), (np.nan, "holds NaN"),
    (MAX_STEPS + 1, "values 100001..100001 are outside"), (1e300, "values 1e+300..1e+300 are outside"),
])
def test_bad_steps_per_sample(tmp_path, value, message):
    path = write_tree(tmp_path / "steps.net", mutated(dense_tree(), "simulation/tSample", value))
    assert f"simulation/tSample: {message}" in str(refused(path))


def test_bad_layer_names_and_empty_layer_groups(tmp_path):
    layers = dense_tree()["layer"]
    err = refused(write_tree(tmp_path / "names.net", {"layer": {"0": layers["0"], "one": layers["1"]}}))
    assert "names.net" in str(err) and "layer/one: layer names must be the integers 0..1" in str(err)
    err = refused(write_tree(tmp_path / "gap.net", {"layer": {"0": layers["0"], "2": layers["1"]}}))
    assert "layer: layers [1] are missing" in str(err)
    assert "layer/01: layer names" in str(refused(write_tree(tmp_path / "zero.net", {"layer": {"01": layers["0"]}})))
    assert "gap.net: the 'layer' group is empty" in str(refused(write_tree(tmp_path / "gap.net", {"layer": {}})))
    assert "its 'layer' group is missing" in str(refused(write_tree(tmp_path / "none.net", {"simulation": {}})))
    assert "is a dataset, not a group" in str(refused(write_tree(tmp_path / "flat.net", {"layer": 3})))
    err = refused(write_tree(tmp_path / "leaf.net", {"layer": {"0": 1}}))
    assert "layer/0: is a dataset, expected a group" in str(err)
    err = refused(write_tree(tmp_path / "hollow.net", {"layer": {"0": {"type": np.array([b"flatten"])}}}))
    assert "layer: no layer with neurons" in str(err)


def test_every_problem_is_listed_at_once(tmp_path):
    tree = conv_tree()
    for element, value in (("layer/0/neuron/vThMant", "x"), ("layer/1/neuron/iDecay", DELETE),
                           ("layer/1/stride", np.array([0, 0])), ("layer/3/weight", np.full((5, 144), np.nan)),
                           ("simulation/tSample", -3), ("layer/3/neuron/type", b"SDNN")):
        tree = mutated(tree, element, value)
    err = refused(write_tree(tmp_path / "many.net", tree))
    assert len(err.problems) == 6 and str(err).startswith(f"{tmp_path / 'many.net'}: 5 invalid netx element(s) and 1")
    for element in ("layer/0/neuron/vThMant", "layer/1/neuron/iDecay", "layer/1/stride", "layer/3/weight",
                    "simulation/tSample", "layer/3/neuron"):
        assert any(p.startswith(f"{element}: ") for p in err.problems), (element, err.problems)


def test_a_dense_layer_reading_a_conv_without_flatten(tmp_path):
    layers = conv_tree()["layer"]
    path = write_tree(tmp_path / "no_flatten.net", {"layer": {"0": layers["0"], "1": layers["1"], "2": layers["3"]}})
    assert "layer/2/weight: takes inputs of shape [144], but layer/1 gives [4, 6, 6] (a flatten layer is missing" \
        in str(refused(path))
    layers = dense_tree()["layer"]
    path = write_tree(tmp_path / "conv_after_dense.net", {"layer": {"0": layers["0"], "1": conv_tree()["layer"]["1"]}})
    assert "layer/1/weight: takes 2 input channels (C, H, W), but layer/0 gives shape [4]" in str(refused(path))


def test_damaged_files_are_input_errors(tmp_path):
    junk = tmp_path / "junk.net"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert "junk.net: not a readable HDF5 netx file" in str(refused(junk))
    good = write_tree(tmp_path / "good.net", conv_tree()).read_bytes()
    for cut in (len(good) // 3, len(good) - 100):
        cut_file = tmp_path / f"cut{cut}.net"
        cut_file.write_bytes(good[:cut])
        assert f"cut{cut}.net: " in str(refused(cut_file))
    assert "missing.net: no such file" in str(refused(tmp_path / "missing.net"))
    assert "steps per sample" in str(refused(tmp_path / "good.net", num_steps=-2))
