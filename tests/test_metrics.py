"""papers/000 / NeuroBench / papers/003 metrics (neurodeploy.metrics) against numbers worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.metrics import compute, fan_out, memory, network_metrics
from neurodeploy.sim.evaluate import evaluate

W1 = np.array([[1.5, 0, 0, 0], [0, 0, 1.2, 0], [0.6, 0.6, 0, 0]], np.float32)  # 8 of 12 weights are zero
W2 = np.array([[1.0, -1.0, 0.5], [0.5, 1.0, -1.0]], np.float32)


def _snn(encoder: bool = False) -> Graph:
    """x -> (DirectEncode T=2) -> Gemm W1 -> IF (v_th 1, v > v_th, reset to zero) -> Gemm W2 -> MembraneReadout."""
    g = Graph([], {"x": TensorType((4,), timed=not encoder)}, ["out"], name="hand")
    w1, w2 = g.add_param("w1", W1), g.add_param("w2", W2)
    head = [Node("DirectEncode", "enc", ["x"], ["xs"], {"num_steps": 2})] if encoder else []
    g.nodes = head + [
        Node("Gemm", "fc1", ["xs" if encoder else "x", w1], ["i1"], {"transB": 1}),
        Node("IF", "if1", ["i1"], ["s1"], {"v_th": 1.0, "reset": "zero", "fire_when": "gt"}),
        Node("Gemm", "fc2", ["s1", w2], ["i2"], {"transB": 1}),
        Node("MembraneReadout", "readout", ["i2"], ["out"]),
    ]
    g.meta["num_steps"] = 2 if encoder else 3
    check_graph(g)
    return g


def _ann() -> Graph:
    g = Graph([], {"x": TensorType((4,))}, ["out"], name="hand_ann")
    w1, w2 = g.add_param("w1", W1), g.add_param("w2", W2)
    g.nodes = [Node("Gemm", "fc1", ["x", w1], ["i1"], {"transB": 1}), Node("Relu", "relu", ["i1"], ["h"]),
               Node("Gemm", "fc2", ["h", w2], ["out"], {"transB": 1})]
    check_graph(g)
    return g


# input spikes [T=3, N=1, 4]: steps (1,0,1,0), (0,0,1,0), (1,1,0,0)
SPIKES = np.array([[[1, 0, 1, 0]], [[0, 0, 1, 0]], [[1, 1, 0, 0]]], np.float32)


def test_snn_by_hand():
    """By hand: W1 x per step = (1.5, 1.2, 0.6), (0, 1.2, 0), (1.5, 0, 1.2); the IF layer spikes (1,1,0), (0,1,0),
    (1,0,1): 5 spikes, at most 2 in one step, per neuron (2, 2, 1)."""
    g = _snn()
    result = evaluate(g, SPIKES, np.array([0]))
    assert result.spikes_per_layer["if1"] == 5 and result.max_spikes_per_step == 2
    m = network_metrics(g, result)
    ops = m["compute"]
    fc1, fc2 = ops["layers"]
    # fc1: input spikes per element (2, 1, 2, 0), 3 connections each: 15 additions; nonzero weights per input
    # column (2, 1, 1, 0): 2*2 + 1*1 + 2*1 = 7 effective accumulates
    assert (fc1["events"], fc1["effective_ops"], fc1["kind"], fc1["Cmul"]) == (15, 7, "AC", 0)
    # fc2: hidden spikes (2, 2, 1) x 2 connections = 10, every weight nonzero
    assert (fc2["events"], fc2["effective_ops"], fc2["Cadd"]) == (10, 10, 10)
    assert (ops["Cmul"], ops["Cadd"], ops["effective_macs"], ops["effective_acs"]) == (0, 25, 0, 17)
    assert ops["dense"] == (12 + 6) * 3 and ops["connections"] == 18
    # memory: 18 weights x 32 bits; 3 IF + 2 readout membranes x 32 bits; 2 spikes x 1 bit
    assert m["memory"] == {"Mw_bits": 576, "Mp_bits": 160, "Ms_bits": 2.0, "M_bits": 738.0, "Ms_worst_bits": 2.0,
                           "bits": {"weight": 32, "membrane": 32, "spike": 1}}
    activity = m["activity"]
    assert activity["activation_sparsity"] == pytest.approx(1 - 5 / 9)  # 3 IF neurons x 3 steps
    assert activity["connection_sparsity"] == pytest.approx(8 / 18)
    assert activity["spikes_per_inference"] == 5 and activity["footprint_bytes"] == 18 * 4


def test_analog_input_layer_multiplies():
    """An encoding layer (analog input at each step) costs one multiplication and one addition per connection
    a nonzero input reaches: x = (0.5, 0, 0.25, 0) twice, 2 nonzero inputs x 2 steps x 3 connections."""
    g = _snn(encoder=True)
    result = evaluate(g, np.array([[0.5, 0, 0.25, 0]], np.float32), np.array([0]))
    fc1 = compute(g, result.input_activity)["layers"][0]
    assert (fc1["kind"], fc1["Cmul"], fc1["Cadd"]) == ("MAC", 12, 12)
    assert fc1["effective_ops"] == 2 * (2 + 1)  # nonzero weights: column 0 has 2, column 2 has 1


def test_ann_by_hand():
    """ANN: every connection is one MAC (papers/000), 12 + 6; activations 3 + 2 values of 32 bits. NeuroBench's
    effective MACs skip zero inputs and weights: x = (1, 0, 2, 0) reaches 2 + 1 nonzero weights; the hidden
    values (1.5, 2.4, 0.6) are all nonzero, 3 x 2."""
    g = _ann()
    result = evaluate(g, np.array([[1, 0, 2, 0]], np.float32), np.array([0]))
    m = network_metrics(g, result)
    assert m["memory"]["Mw_bits"] == 576 and m["memory"]["Ma_bits"] == 160 and m["memory"]["M_bits"] == 736
    ops = m["compute"]
    assert (ops["Cmul"], ops["Cadd"], ops["effective_macs"], ops["effective_acs"], ops["dense"]) == (18, 18, 9, 0, 18)


def test_operation_energy_by_hand():
    """papers/003: the ANN pays 4.6 pJ for each of its 18 connections; the SNN 0.9 pJ per accumulate (17)."""
    costs = {"mac_pj": 4.6, "ac_pj": 0.9}
    ann = network_metrics(_ann(), evaluate(_ann(), np.array([[1, 0, 2, 0]], np.float32), None), costs=costs)
    snn = network_metrics(_snn(), evaluate(_snn(), SPIKES, None), costs=costs)
    assert ann["operation_energy"]["energy_pj"] == pytest.approx(18 * 4.6)
    assert snn["operation_energy"]["energy_pj"] == pytest.approx(17 * 0.9)


def test_worst_and_mean_peak_over_samples():
    """Ms is the mean over samples of each sample's peak; Ms_worst the largest peak."""
    quiet = np.zeros_like(SPIKES)
    result = evaluate(_snn(), np.concatenate([SPIKES, quiet], axis=1), None)
    assert (result.max_spikes_per_step, result.worst_spikes_per_step) == (1.0, 2.0)


def test_chip_bit_widths():
    g = _snn()
    assert memory(g, (2.0, 3.0), {"weight": 8, "membrane": 24, "spike": 1})["M_bits"] == 18 * 8 + 5 * 24 + 2
    loihi = {"weight": 8, "membrane": 24, "states_per_neuron": 2, "spike": 1}  # u and v per compartment
    assert memory(g, (2.0, 3.0), loihi)["Mp_bits"] == 5 * 2 * 24
    truenorth = {"weight": 1, "per_neuron_weight": 36, "membrane": 20, "spike": 1}
    assert memory(g, (2.0, 3.0), truenorth)["Mw_bits"] == 18 + 36 * 5
    assert memory(g, (2.0, 3.0), truenorth)["Ms_worst_bits"] == 3.0


def _conv_graph(shape, out_channels, kernel, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1):
    rng = np.random.default_rng(0)
    g = Graph([], {"x": TensorType(shape)}, ["out"])
    w = g.add_param("w", rng.normal(size=(out_channels, shape[0] // group) + kernel).astype(np.float32))
    g.nodes = [Node("Conv", "conv", ["x", w], ["out"], {"kernel_shape": kernel, "strides": strides, "pads": pads,
                                                      "dilations": dilations, "group": group})]
    check_graph(g)
    return g


def test_conv_fan_out_per_tap():
    """3x3 kernel, padding 1 on a 3x3 map: a corner element is under 4 output windows, an edge 6, the centre 9."""
    g = _conv_graph((1, 3, 3), 2, (3, 3), pads=(1, 1, 1, 1))
    expected = np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) * 2
    assert (fan_out(g, "conv", False)[0] == expected).all()


@pytest.mark.parametrize("settings", [
    dict(shape=(2, 7, 6), out_channels=4, kernel=(3, 3), strides=(2, 2), pads=(1, 0, 1, 2)),
    dict(shape=(4, 9, 9), out_channels=6, kernel=(3, 2), dilations=(2, 3), group=2),
    dict(shape=(3, 5, 5), out_channels=3, kernel=(1, 1), group=3),
])
def test_conv_fan_out_sums_to_the_synapses(settings):
    from neurodeploy.ir.summary import conv_synapses

    g = _conv_graph(**settings)
    assert fan_out(g, "conv", False).sum() == conv_synapses(g, g.node("conv"))
    # with nonzero weights only: the same as counting the connections of a binarised weight
    g.params["w"][:, :, 0, 0] = 0
    dense = fan_out(g, "conv", False)
    assert (fan_out(g, "conv", True) <= dense).all() and fan_out(g, "conv", True).sum() < dense.sum()


def test_input_after_average_pooling_is_not_binary():
    """papers/000: a layer after average pooling of spikes multiplies (its inputs are fractions)."""
    g = Graph([], {"x": TensorType((1, 4, 4), timed=True)}, ["out"])
    w = g.add_param("w", np.ones((3, 4), np.float32))
    g.nodes = [Node("AveragePool", "pool", ["x"], ["p"], {"kernel_shape": (2, 2), "strides": (2, 2)}),
               Node("Flatten", "flat", ["p"], ["f"]), Node("Gemm", "fc", ["f", w], ["i"], {"transB": 1}),
               Node("IF", "if", ["i"], ["out"], {"v_th": 1.0})]
    g.meta["num_steps"] = 2
    check_graph(g)
    x = np.zeros((2, 1, 1, 4, 4), np.float32)
    x[0, 0, 0, 0, 0] = 1  # one spike: the pooled value 0.25 reaches 3 outputs
    row = compute(g, evaluate(g, x, None).input_activity)["layers"][0]
    assert (row["kind"], row["Cmul"], row["Cadd"]) == ("MAC", 3, 3)
