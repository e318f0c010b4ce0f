"""SpiNNaker export run on a real PyNN simulator (pyNN.brian2): spike counts agree with our simulation.

The digits MLP is compiled for spinnaker1 with the production passes, exported with the PyNN export of the build,
and 5 test samples run through pyNN.brian2 (numpy code generation, 1 ms steps). Stated tolerance: every neuron's
spike count within 1 of ours and at least 99 % of them equal (float64 in brian2 vs s16.15 integers here); measured: all
equal.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from test_lava_agreement import compile_for_loihi

from neurodeploy.backends.spinnaker.pynn_export import export_pynn
from neurodeploy.ir import reference

SAMPLES = 5


@pytest.mark.lava
def test_pynn_brian2_spike_counts_agree(tmp_path):
    pytest.importorskip("pyNN.brian2")
    from brian2 import prefs

    prefs.codegen.target = "numpy"  # no C++ compiler needed
    import pyNN.brian2 as sim

    g, data = compile_for_loihi("digits_mlp", target="spinnaker1")
    x = data.x_test[:SAMPLES]
    populations = g.find("SpiNNakerIF")
    host = g.find("Quantize")[0].outputs[0]
    ours = reference.run(g, {next(iter(g.inputs)): x}, keep=[p.outputs[0] for p in populations] + [host])
    export_pynn(g, tmp_path, ours[host])
    spec = importlib.util.spec_from_file_location("pynn_network", tmp_path / "pynn_network.py")
    network = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(network)
    steps = g.meta["num_steps"]
    for i in range(SAMPLES):
        counts, voltage = network.run(sim, ours[host][i], steps)
        for p in populations:
            mine = ours[p.outputs[0]][:, i].reshape(steps, -1).sum(0)
            diff = np.abs(mine - counts[p.name])
            assert diff.max() <= 1 and (diff == 0).mean() >= 0.99, (i, p.name, mine.sum(), counts[p.name].sum())
        assert np.argmax(voltage) == np.argmax(ours[g.outputs[0]][i])
