"""Quantize a rate SNN to sPyNNaker's arithmetic and lower it to SpiNNaker ops (one population per layer).

* The first layer runs on the host, as for Loihi: W1 x + b1 is a constant input per sample, given to the first
  population as its ``i_offset`` in s16.15 (PyNN sets it per sample between runs).
* Every other layer becomes a projection with 16-bit unsigned weights per synapse type (excitatory for W > 0,
  inhibitory for W < 0). As sPyNNaker does, each type gets a ring-buffer left shift s from the largest summed
  weight any one neuron can receive, s = max(0, ceil(log2(max sum))) (+1 when the sum is exactly 2^s), and
  weights become round(|W| 2^(15-s)). Weights that round to zero and clip are counted per layer.
* Neurons are IF_curr_delta: threshold, reset (0), bias (i_offset) and the membrane decay (e = 1 - v_decay per
  tick, exp_tc) in s16.15; a decaying synaptic current (IF_curr_exp) is not lowered.
"""
from __future__ import annotations

import math

import numpy as np

from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.spinnaker import RING_LIMIT, STATE_MAX
from neurodeploy.passes.layers import (SHAPE_ONLY, Layer, count_spikes_on_host, feedforward_layers, pad_input,
                                      read_untimed_input, spike_input, upstream_of)

FRACTION_BITS = 15  # s16.15


def left_shift(max_weight_sum: float) -> int:
    """sPyNNaker's ring-buffer left shift for a synapse type whose largest summed weight is ``max_weight_sum``."""
    if max_weight_sum <= 0:
        return 0
    shift = max(0, math.ceil(math.log2(max_weight_sum)))
    return shift + 1 if 2 ** shift <= max_weight_sum else shift


def _max_sums(w: np.ndarray) -> tuple[float, float]:
    """Largest summed excitatory and inhibitory weight into one neuron (all its inputs active in one tick)."""
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    return float(np.maximum(flat, 0).sum(1).max()), float(np.maximum(-flat, 0).sum(1).max())


def quantize_projection(w: np.ndarray) -> tuple[np.ndarray, int, int, dict]:
    """Signed integer weights (|q| <= 65535), the two left shifts, and the counts of the report."""
    exc_sum, inh_sum = _max_sums(w)
    shifts = left_shift(exc_sum), left_shift(inh_sum)
    scale = np.where(w >= 0, 2.0 ** (FRACTION_BITS - shifts[0]), 2.0 ** (FRACTION_BITS - shifts[1]))
    exact = np.abs(w.astype(np.float64)) * scale
    q = np.rint(exact)
    stats = {"weights": int(w.size), "weights_zeroed": int(((q == 0) & (w != 0)).sum()),
             "weights_clipped": int((q > RING_LIMIT).sum())}
    return (np.sign(w) * np.minimum(q, RING_LIMIT)).astype(np.int64), shifts[0], shifts[1], stats


def dequantized(q: np.ndarray, shift_exc: int, shift_inh: int) -> np.ndarray:
    """The float weights (PyNN units) that integer weights ``q`` stand for."""
    return np.where(q >= 0, q * 2.0 ** (shift_exc - FRACTION_BITS), q * 2.0 ** (shift_inh - FRACTION_BITS))


def _raw(x) -> np.ndarray:
    return np.rint(np.asarray(x, np.float64) * 2 ** FRACTION_BITS).astype(np.int64)


class _Lowering:
    def __init__(self, g: Graph, steps: int) -> None:
        self.g, self.steps, self.report = g, steps, []

    def neuron(self, layer: Layer, current: str, offset: str) -> Node:
        n = layer.neuron
        # the IR's leak v (1 - v_decay) is IF_curr_delta's e = exp(-dt / tau_m) per tick
        exp_tc = int(round((1.0 - n.attrs.get("v_decay", 0.0)) * 2 ** FRACTION_BITS))
        if n.op == "MembraneReadout":
            attrs = {"v_thresh": STATE_MAX + 1, "num_steps": self.steps, "exp_tc": exp_tc}  # never fires
            return Node("SpiNNakerVoltageReadout", n.name, [current, offset], list(n.outputs), attrs)
        # sPyNNaker fires at v >= v_thresh: on its s16.15 grid, v > v_th is v >= v_th + one raw unit
        above = 1 if n.attrs.get("fire_when", "ge") == "gt" else 0
        attrs = {"v_thresh": int(_raw(n.attrs["v_th"])) + above, "v_reset": 0, "exp_tc": exp_tc, "v_init": int(_raw(n.attrs.get("v_init", 0.0))),
                 "num_steps": self.steps}
        return Node("SpiNNakerIF", n.name, [current, offset], [n.outputs[0], self.g.unique_name(f"{n.name}_saturation")],
                    attrs)

    def host(self, layer: Layer, encoder: Node) -> list[Node]:
        """W1 x + b1 on the host, quantized to s16.15 per sample: the first population's i_offset."""
        w = layer.weighted
        through = upstream_of(self.g, w.inputs[0])[1]
        value = read_untimed_input(encoder, through)
        host = Node(w.op, w.name, [value] + w.inputs[1:], list(w.outputs), dict(w.attrs))
        offset = self.g.unique_name(f"{layer.neuron.name}_i_offset")
        quantize = Node("Quantize", self.g.unique_name(f"{layer.neuron.name}_quantize"), [host.outputs[0]], [offset],
                        {"scale": float(2 ** FRACTION_BITS), "bits": 32})
        self.report.append({"layer": layer.neuron.name, "left_shift_exc": None, "left_shift_inh": None, "weights": 0,
                            "weights_zeroed": 0, "weights_clipped": 0, "on_host": True})
        return through + [host, quantize, self.neuron(layer, "", offset)]

    def chip(self, layer: Layer) -> list[Node]:
        w_node, name = layer.weighted, layer.neuron.name
        q, shift_exc, shift_inh, stats = quantize_projection(self.g.param_of(w_node, 1))
        attrs = {k: w_node.attrs[k] for k in ("kernel_shape", "strides", "pads", "dilations", "group")
                 if k in w_node.attrs}
        attrs.update({"left_shift_exc": shift_exc, "left_shift_inh": shift_inh})
        current = self.g.unique_name(f"{w_node.name}_input")
        weight = self.g.add_param(f"{w_node.name}.weight_int", q)
        synapses = Node("SpiNNakerSynapses", w_node.name, [w_node.inputs[0], weight],
                        [current, self.g.unique_name(f"{w_node.name}_ring_saturation")], attrs)
        bias = self.g.param_of(w_node, 2)
        bias = np.zeros(q.shape[0]) if bias is None else bias
        offset = _raw(bias).reshape((-1,) + (1,) * (len(self.g.types[layer.neuron.inputs[0]].shape) - 1))
        self.report.append({"layer": name, "left_shift_exc": shift_exc, "left_shift_inh": shift_inh, **stats,
                            "on_host": False})
        return [synapses, self.neuron(layer, current, self.g.add_param(f"{name}.i_offset", offset))]


def lower_to_spinnaker(g: Graph, ctx) -> Graph:
    """Quantize and lower a feed-forward rate SNN (DirectEncode input, IF with reset to zero) to SpiNNaker ops;
    see the module docstring. Keeps: argmax close to the float SNN."""
    g = infer_shapes(g.copy())
    encoder, layers = feedforward_layers(g, ctx.spec.name, "DirectEncode", ctx.spec.value("neuron.reset"),
                                         voltage_leak=True)
    window = encoder.attrs["num_steps"] if encoder else ctx.conversion.num_steps
    depth = len(layers) - (encoder is not None)  # one tick of synaptic delay per projection (a host layer has none)
    steps = window + depth
    lw = _Lowering(g, steps)
    replaced = {}
    for layer in layers:
        replaced[layer.neuron.name] = lw.host(layer, encoder) if layer.first and encoder else lw.chip(layer)
        replaced[layer.weighted.name] = []
    moved = {n.name for nodes in replaced.values() for n in nodes if n.op in SHAPE_ONLY}
    g.nodes = [m for n in g.nodes if n is not encoder and n.name not in moved for m in replaced.get(n.name, [n])]
    if encoder is None:  # spike input: the host appends the silent steps and counts the output spikes
        pad_input(g, spike_input(g), depth)
        count_spikes_on_host(g)
    g.drop_unused_params()
    g.meta.update({"quantization": lw.report, "num_steps": steps, "pipeline_depth": depth})
    return infer_shapes(g)
