"""Trained SNNs (spike input, leaky and recurrent neurons, SpikeCount readout) on every target: lowered, or refused
with what the chip cannot express."""
import numpy as np
import pytest
from helpers import recurrent_snn, spike_trains

from neurodeploy.backends import get_backend
from neurodeploy.errors import UnsupportedError
from neurodeploy.ir import reference
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.passes import ConversionConfig, PassContext, run_passes

T, N = 20, 24


def _deploy(g, target, steps=T, x=None):
    backend = get_backend(target)
    x = spike_trains(steps, 32, g.inputs["x"].shape, seed=5) if x is None else x
    ctx = PassContext(ConversionConfig(num_steps=steps), calibration=np.moveaxis(x, 0, 1), spec=backend.spec, check=True)
    return backend, run_passes(g, backend.passes(), ctx)


def test_recurrent_leaky_snn_lowers_to_loihi_with_padding_and_a_recurrent_synapse():
    g = recurrent_snn()
    backend, deployed = _deploy(g, "loihi2")
    assert backend.check(deployed) == []
    pad, = deployed.find("PadSteps")
    lif1 = deployed.node("lif1")
    assert pad.attrs["steps"] == 2 and deployed.meta["num_steps"] == T + 2  # two synapse layers, one step each
    assert len(lif1.inputs) == 3 and deployed.param_of(lif1, 2).shape == (16, 16)
    assert (lif1.attrs["du"], lif1.attrs["dv"]) == (2047, 819)  # i_decay 0.5 -> du + 1 = 2048; v_decay 0.2 * 4096
    assert deployed.outputs == ["s2"]  # the host counts the output spikes over the padded run
    x = spike_trains(T, N, (12,), seed=3)
    golden = reference.run(deployed, {"x": x})["s2"].sum(axis=0)
    float_counts = reference.run(g, {"x": x})["out"]
    assert golden.shape == float_counts.shape
    assert np.corrcoef(golden.ravel(), float_counts.ravel())[0, 1] > 0.8


@pytest.mark.parametrize("target", ["spinnaker1", "truenorth"])
def test_recurrent_and_leaky_layers_are_refused_with_the_reason(target):
    with pytest.raises(UnsupportedError) as e:
        _deploy(recurrent_snn(), target)
    problems = "\n".join(e.value.problems)
    assert "lif1 (LIF): a decaying synaptic current (i_decay 0.5) is not lowered" in problems
    assert "lif1 (LIF): a recurrent synapse" in problems
    leak = "lif2 (LIF): a voltage leak proportional to v (v_decay 0.1) has no form on target 'truenorth'"
    assert (leak in problems) == (target == "truenorth")  # SpiNNaker's IF_curr_delta has the leak


def _spiking_cnn(reset: str) -> Graph:
    rng = np.random.default_rng(2)
    g = Graph([], {"x": TensorType((2, 8, 8), timed=True)}, ["out"], name="cnn")
    g.params.update({"w1": rng.normal(0.1, 0.4, (4, 2, 3, 3)).astype(np.float32),
                     "bias": np.full((4, 1, 1), 0.05, np.float32), "w2": rng.normal(0, 0.3, (10, 256)).astype(np.float32)})
    g.nodes = [Node("Conv", "c1", ["x", "w1"], ["c1o"], {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1)}),
               Node("IF", "if1", ["c1o", "bias"], ["s1"], {"v_th": 1.0, "reset": reset}),
               Node("Flatten", "fl", ["s1"], ["f"], {"axis": 1}),
               Node("Gemm", "fc2", ["f", "w2"], ["c2"], {"transB": 1}),
               Node("IF", "if2", ["c2"], ["s2"], {"v_th": 1.0, "reset": reset}),
               Node("SpikeCount", "count", ["s2"], ["out"])]
    check_graph(g)
    return g


@pytest.mark.parametrize("target, reset", [("loihi2", "zero"), ("spinnaker1", "zero"), ("truenorth", "zero"),
                                           ("truenorth", "subtract")])
def test_spike_input_cnn_deploys_on_every_chip(target, reset):
    g = _spiking_cnn(reset)
    backend, deployed = _deploy(g, target, steps=24)
    assert backend.check(deployed) == []
    assert deployed.find("PadSteps") and not deployed.find("IF")
    x = spike_trains(24, 16, (2, 8, 8), seed=9)
    out = backend.simulate(deployed, {"x": x})[deployed.outputs[0]]
    counts = out.sum(axis=0) if deployed.types[deployed.outputs[0]].timed else out
    float_counts = reference.run(g, {"x": x})["out"]
    assert counts.shape == float_counts.shape and counts.sum() > 0
    assert np.corrcoef(counts.ravel(), float_counts.ravel())[0, 1] > 0.6


def test_a_leak_free_lif_deploys_on_truenorth_as_the_same_if():
    """neurodeploy.nn's LIF(v_decay=0) is an IF: TrueNorth must give it the same spiking layers, not a readout."""
    as_if = _spiking_cnn("zero")
    as_lif = as_if.copy()
    for node in as_lif.find("IF"):
        node.op, node.attrs["v_decay"] = "LIF", 0.0
    x = spike_trains(24, 8, (2, 8, 8), seed=9)
    outs = []
    for g in (as_if, as_lif):
        backend, deployed = _deploy(g, "truenorth", steps=24, x=x)
        assert [n.op for n in deployed.nodes].count("TrueNorthLayer") == 2
        outs.append(backend.simulate(deployed, {"x": x})[deployed.outputs[0]])
    np.testing.assert_array_equal(outs[0], outs[1])
