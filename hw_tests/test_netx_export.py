"""The exported netx file loads with lava-dl's own ``lava.lib.dl.netx.hdf5.Network`` and, run in Lava
(fixed_pt) with the same input bias and initial voltages, spikes exactly as the golden simulator."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurodeploy.backends.loihi.lava_run import from_lava_layout, to_lava_layout
from neurodeploy.backends.loihi.netx_export import export_netx
from neurodeploy.ir import reference

from test_lava_agreement import compile_for_loihi


def run_with_lava_dl(path, input_bias_mant: np.ndarray, steps: int) -> list[np.ndarray]:
    """Spikes [T, *IR shape] of every block of the netx network, for one sample."""
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer

    net = Network(net_config=str(path))
    with h5py.File(path, "r") as f:
        v_init = [int(f["layer"][k]["neuron"]["vInit"][()]) for k in sorted(f["layer"], key=int)
                  if "neuron" in f["layer"][k]]
    blocks = [b for b in net.layers if hasattr(b, "neuron")]
    net.in_layer.neuron.bias_mant.init = to_lava_layout(input_bias_mant).astype(np.int32)
    sinks = []
    for block, v0 in zip(blocks, v_init):
        block.neuron.v.init = np.full(block.neuron.v.shape, v0)
        sinks.append(RingBuffer(shape=block.out.shape, buffer=steps))
        block.out.connect(sinks[-1].a_in)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        spikes = [np.moveaxis(s.data.get(), -1, 0) for s in sinks]
    finally:
        net.stop()
    return [np.stack([from_lava_layout(step) for step in s]) for s in spikes]


@pytest.mark.lava
def test_exported_netx_runs_in_lava_dl_like_the_golden_simulator(tmp_path):
    g, data = compile_for_loihi("digits_cnn", steps=12)
    path = export_netx(g, tmp_path / "digits_cnn.net")
    first = next(n for n in g.find("LoihiLIF") if not n.inputs[0])
    lifs = [n.outputs[0] for n in g.find("LoihiLIF")]
    for x in data.x_test[:2]:
        golden = reference.run(g, {"input_1": x[None]}, keep=lifs + [first.inputs[1]])
        mant = golden[first.inputs[1]][0] << (first.attrs["bias_exp"] - 6)
        lava = run_with_lava_dl(path, mant, g.meta["num_steps"])
        for value, spikes in zip(lifs, lava):
            np.testing.assert_array_equal(spikes, golden[value][:, 0], err_msg=value)
