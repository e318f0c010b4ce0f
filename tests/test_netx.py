"""netx import without Lava: structure, semantics of the mapping, and clear errors for what is unsupported."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.frontend.netx import lava_dense_weights, load_netx
from neurodeploy.ir import reference

NETX = Path(__file__).resolve().parents[2] / "shared" / "external" / "netx"
needs_files = pytest.mark.skipif(not NETX.is_dir(), reason=f"external networks not found at {NETX}")


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
    with pytest.raises(UnsupportedError) as err:
        load_netx(NETX / "pilotnet_sdnn.net")
    assert len(err.value.problems) >= 9
    assert all("neuron type SDNN" in p for p in err.value.problems)


def test_lava_dense_weight_truncation():
    w, mode = lava_dense_weights(np.array([[3.0, -5.0, 300.0]]))
    assert mode == "mixed" and w.tolist() == [[2, -6, 254]]
    w, mode = lava_dense_weights(np.array([[3.0, 300.0]]))
    assert mode == "excitatory" and w.tolist() == [[3, 255]]


def test_corrupt_netx_file(tmp_path):
    bad = tmp_path / "bad.net"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="bad.net: not a readable HDF5 netx file"):
        load_netx(bad)


@needs_files
@pytest.mark.parametrize("file", ["mnist_dense", "tiny", "pilotnet_lif"])
def test_import_export_import_is_identical(tmp_path, file):
    from neurodeploy.backends.loihi.netx_export import export_netx
    from neurodeploy.frontend.netx import seeded_input

    g = load_netx(NETX / f"{file}.net")
    again = load_netx(export_netx(g, tmp_path / f"{file}.net"))
    synapses = lambda graph: [(n.op, n.attrs) for n in graph.nodes if n.op in ("LoihiDense", "LoihiConv")]
    assert synapses(again) == synapses(g)
    x = seeded_input(g, 1)
    name = next(iter(g.inputs))
    a = reference.run(g, {name: x}, keep=[n.outputs[0] for n in g.find("LoihiLIF")])
    b = reference.run(again, {name: x}, keep=[n.outputs[0] for n in again.find("LoihiLIF")])
    for value in a:
        np.testing.assert_array_equal(a[value], b[value])
