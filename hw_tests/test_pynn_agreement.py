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


@pytest.mark.lava
def test_pynn_brian2_leaky_spike_input_snn_agrees(tmp_path):
    """A trained SNN with leaky neurons (IF_curr_delta with tau_m) fed by a SpikeSourceArray: the same spike counts."""
    pytest.importorskip("pyNN.brian2")
    from brian2 import prefs
    from helpers import spike_trains
    from test_snn_deploy import _deploy

    from neurodeploy.ir.check import check_graph
    from neurodeploy.ir.graph import Graph, Node, TensorType

    prefs.codegen.target = "numpy"
    import pyNN.brian2 as sim

    rng = np.random.default_rng(4)
    g = Graph([], {"x": TensorType((12,), timed=True)}, ["out"], name="leaky")
    g.params.update({"w1": rng.normal(0.2, 0.6, (16, 12)).astype(np.float32),
                     "w2": rng.normal(0.1, 0.6, (5, 16)).astype(np.float32)})
    neuron = {"v_th": 1.0, "reset": "zero", "fire_when": "gt"}
    g.nodes = [Node("Gemm", "fc1", ["x", "w1"], ["c1"], {"transB": 1}),
               Node("LIF", "lif1", ["c1"], ["s1"], {**neuron, "v_decay": 0.2}),
               Node("Gemm", "fc2", ["s1", "w2"], ["c2"], {"transB": 1}),
               Node("LIF", "lif2", ["c2"], ["s2"], {**neuron, "v_decay": 0.1}),
               Node("SpikeCount", "count", ["s2"], ["out"])]
    check_graph(g)
    _, deployed = _deploy(g, "spinnaker1", steps=30)
    x = spike_trains(30, 3, (12,), seed=6)
    populations = deployed.find("SpiNNakerIF")
    pad = deployed.find("PadSteps")[0]
    ours = reference.run(deployed, {"x": x}, keep=[p.outputs[0] for p in populations] + [pad.outputs[0]])
    export_pynn(deployed, tmp_path)
    spec = importlib.util.spec_from_file_location("pynn_network", tmp_path / "pynn_network.py")
    network = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(network)
    steps = deployed.meta["num_steps"]
    for i in range(3):
        counts, _ = network.run(sim, ours[pad.outputs[0]][:, i], steps)
        for p in populations:
            mine = ours[p.outputs[0]][:, i].reshape(steps, -1).sum(0)
            diff = np.abs(mine - counts[p.name])
            assert mine.sum() > 0 and diff.max() <= 1 and (diff == 0).mean() >= 0.9, (i, p.name, mine, counts[p.name])
