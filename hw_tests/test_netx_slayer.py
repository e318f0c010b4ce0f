"""Networks of random lava-dl slayer CUBA blocks, exported block by block with their own ``export_hdf5``: read by
neurodeploy's netx front-end and run on the golden simulator, and read by lava-dl's own netx loader
(``lava.lib.dl.netx.hdf5.Network``) and run in Lava (Loihi2SimCfg, fixed_pt), on the same seeded input spikes.
Every layer's spikes must be identical at every step, and every layer must spike."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurodeploy.backends.loihi.lava_run import from_lava_layout, lava_shape, to_lava_layout
from neurodeploy.frontend.netx import load_netx
from neurodeploy.ir import reference

from test_netx import SLAYER_INPUTS, export_slayer


def run_lava_dl(path, spikes: np.ndarray, input_shape: tuple | None) -> list[np.ndarray]:
    """Spikes [T, *IR shape] of every block of lava-dl's netx network for one sample of ``spikes`` [T, *IR shape]."""
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    steps = len(spikes)
    net = Network(net_config=str(path), input_shape=input_shape)
    source = Source(data=np.moveaxis(np.stack([to_lava_layout(s) for s in spikes]), 0, -1).astype(np.int32))
    source.s_out.connect(net.inp)
    sinks = []
    for block in net.layers:
        sinks.append(Sink(shape=block.out.shape, buffer=steps))
        block.out.connect(sinks[-1].a_in)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        recorded = [np.moveaxis(s.data.get(), -1, 0) for s in sinks]
    finally:
        net.stop()
    return [np.stack([from_lava_layout(step) for step in r]) for r in recorded]


def with_edge_weights(path):
    """Rewrite the dense network's last two layers with weights that netx hands to Lava in special ways: odd
    mixed-sign weights (kept exactly, with 9 weight bits) and non-positive weights whose largest magnitude is a
    power of two among odd ones (shifted to -256, which Lava clips to -255: the layer keeps a negative weight
    exponent), the latter driven by a bias so that it spikes when not inhibited."""
    rng = np.random.default_rng(5)
    with h5py.File(path, "r+") as f:
        odd = f["layer/1/weight"][()].astype(np.int64) | 1
        del f["layer/1/weight"]
        f["layer/1/weight"] = odd.astype(np.float32)
        inhibitory = rng.choice([0, 0, -3, -4], f["layer/2/weight"].shape)
        inhibitory[0, :2] = -3, -4
        del f["layer/2/weight"]
        f["layer/2/weight"] = inhibitory.astype(np.float32)
        f["layer/2/bias"] = np.full(len(inhibitory), 70.0, np.float32)
    return path


@pytest.mark.lava
@pytest.mark.filterwarnings("ignore:divide by zero")  # netx scaling weights that have no positive one
@pytest.mark.parametrize("kind", list(SLAYER_INPUTS) + ["dense-edge-weights"])
def test_slayer_export_runs_in_lava_dl_like_the_golden_simulator(tmp_path, kind):
    path = export_slayer(tmp_path / f"slayer_{kind}.net", kind.split("-")[0], seed=0, steps=24)
    g = load_netx(with_edge_weights(path) if kind == "dense-edge-weights" else path)
    if kind == "dense-edge-weights":
        assert g.node("layer1_synapses").attrs["num_weight_bits"] == 9 and g.node("layer2_synapses").attrs[
            "weight_exp"] < 0
    shape = g.inputs["spikes"].shape
    lifs = [n.outputs[0] for n in g.find("LoihiLIF")]
    x = (np.random.default_rng(11).random((g.meta["num_steps"], 2) + shape) < 0.3).astype(np.float32)
    golden = reference.run(g, {"spikes": x}, keep=lifs)
    for value in lifs:
        assert golden[value].sum(axis=(0,) + tuple(range(2, golden[value].ndim))).min() > 0, f"{value} is silent"
    for sample in range(x.shape[1]):
        lava = run_lava_dl(path, x[:, sample], lava_shape(shape) if len(shape) == 3 else None)
        assert len(lava) == len(lifs)
        for value, spikes in zip(lifs, lava):
            np.testing.assert_array_equal(spikes, golden[value][:, sample], err_msg=f"{kind}: {value}, sample {sample}")
