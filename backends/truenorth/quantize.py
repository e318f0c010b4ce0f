"""Quantize a rate SNN to TrueNorth's constraints and lower it to TrueNorthLayer ops.

Per output channel j (a Gemm row or a conv filter): the weights become integer *levels* q_ij that a set of axon
types can add up to (``quantization.codebook`` in the spec, e.g. +1, -1, +3, -3: every level in -4..4, one axon per
type and input), times a per-neuron *unit* s_j held in the neuron's 9-bit signed weights (S_j = s_j x codebook):
    q_ij = round(w_ij / delta_j) with delta_j = max_i |w_ij| / max level,
    threshold alpha_j = round(theta s_j / delta_j), leak = -round(b_j s_j / delta_j) (9-bit signed).
s_j is the largest unit that keeps S_j, alpha_j and the leak within their widths. Neurons reset linearly (V -= alpha),
TrueNorth's reset mode that matches reset by subtraction. Layers whose fan-in needs more axons than a core has get
partial and merge neurons (see neurodeploy/ir/ops/truenorth.py), with partial resolution r = K so that the
charge left in the partials at the end is below one output spike.

The input stays rate coded (Bernoulli spikes from the host into the first layer's axons); the last layer spikes too,
and classes are read by spike count. Per layer, the report gives the relative weight error, zeroed weights, clipped
leaks and the groups and splitters that the mapping needs.
"""
from __future__ import annotations

import itertools

import numpy as np

from neurodeploy.backends.truenorth.mapping import CoreLimits, LayerPlan, add_splitters, plan_layer
from neurodeploy.errors import UnsupportedError
from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.passes.layers import Layer, calibration_peaks, feedforward_layers, pad_input, spike_input


def reachable_levels(codebook: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
    """Level -> the axon types (one axon each) whose codebook values add up to it, fewest axons first."""
    out: dict[int, tuple[int, ...]] = {}
    for n in range(len(codebook) + 1):
        for types in itertools.combinations(range(len(codebook)), n):
            out.setdefault(sum(codebook[t] for t in types), types)
    return out


def quantize_levels(w: np.ndarray, codebook: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel: levels (nearest reachable) and the step delta_j in weight units."""
    levels = np.array(sorted(reachable_levels(codebook)))
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    delta = np.abs(flat).max(1) / max(levels.max(), 1)
    delta[delta == 0] = 1.0
    exact = flat / delta[:, None]
    nearest = levels[np.abs(exact[..., None] - levels).argmin(-1)]
    return nearest.reshape(w.shape).astype(np.int64), delta


class _Numerics:
    def __init__(self, spec) -> None:
        self.codebook = tuple(int(c) for c in spec.value("quantization.codebook"))
        self.weight_max = 2 ** (int(spec.value("neuron.weight_bits")) - 1) - 1
        self.leak_max = 2 ** (int(spec.value("neuron.leak_bits")) - 1) - 1
        self.threshold_max = 2 ** int(spec.value("neuron.threshold_bits")) - 1
        self.membrane_bits = int(spec.value("neuron.membrane_bits"))
        self.unit_max = self.weight_max // max(abs(c) for c in self.codebook)


def _units(delta, theta, bias, num: _Numerics) -> np.ndarray:
    """Largest integer unit per channel that keeps codebook weights, threshold and leak within their widths; >= 1."""
    unit = np.minimum(num.unit_max, np.floor(num.threshold_max * delta / theta))
    with np.errstate(divide="ignore"):
        unit = np.minimum(unit, np.floor(num.leak_max * delta / np.abs(bias)))
    return np.maximum(unit, 1).astype(np.int64)


def _spiking(layer: Layer) -> bool:
    """An IF layer, or a LIF that feedforward_layers let through (no leak, no current state), as against the readout."""
    return layer.neuron.op in ("IF", "LIF")


def _output_threshold(g: Graph, ctx, layer: Layer, steps: int) -> float:
    """The readout layer spikes on chip: its threshold is the largest mean input per step on calibration data."""
    return calibration_peaks(g, ctx, [layer.neuron.outputs[0]])[layer.neuron.outputs[0]] / steps


def _layer_node(g: Graph, layer: Layer, plan: LayerPlan, theta: float, num: _Numerics, report: list) -> Node:
    w_node, name = layer.weighted, layer.neuron.name
    w = g.param_of(w_node, 1)
    bias = g.param_of(w_node, 2)
    bias = np.zeros(w.shape[0]) if bias is None else bias.astype(np.float64)
    q, delta = quantize_levels(w, num.codebook)
    unit = _units(delta, theta, bias, num)
    exact = np.maximum(1, np.rint(theta * unit / delta))
    if _spiking(layer) and layer.neuron.attrs.get("fire_when", "ge") == "gt":
        exact = exact + 1  # TrueNorth fires at V >= threshold: on integers, V > alpha is V >= alpha + 1
    # a channel whose weights are tiny next to its threshold needs more than the threshold's bits even at unit 1:
    # it gets the largest threshold instead of a value wrapped through int64; its firing then departs from the
    # float neuron's, which the report shows (thresholds_clipped, and its leak in leaks_clipped)
    threshold = np.minimum(exact, num.threshold_max).astype(np.int64)
    merge_unit = num.weight_max if plan.groups > 1 else 0
    leak_exact = -bias * unit / delta
    leak = np.clip(np.rint(leak_exact), -num.leak_max - 1, num.leak_max).astype(np.int64)
    error = w - q * delta.reshape((-1,) + (1,) * (w.ndim - 1))
    report.append({"layer": name, "groups": plan.groups, "splitter_levels": plan.splitter_levels,
                   "weights": int(w.size), "weights_zeroed": int(((q == 0) & (w != 0)).sum()),
                   "weight_error_rel": float(np.sqrt((error ** 2).sum() / max((w.astype(np.float64) ** 2).sum(), 1e-30))),
                   "unit_min": int(unit.min()), "threshold_max": int(threshold.max()),
                   "thresholds_clipped": int((exact > num.threshold_max).sum()),
                   "leaks_clipped": int((np.abs(np.rint(leak_exact)) > num.leak_max).sum())})
    attrs = {k: w_node.attrs[k] for k in ("kernel_shape", "strides", "pads", "dilations", "group") if k in w_node.attrs}
    attrs.update({"reset": layer.neuron.attrs.get("reset", "subtract") if _spiking(layer) else "subtract",
                  "fan_in_groups": plan.groups, "merge_unit": int(merge_unit), "partial_resolution": plan.groups, "extra_delay": plan.splitter_levels,
                  "membrane_bits": num.membrane_bits, "axons_per_input": len(num.codebook), "codebook": num.codebook})
    params = [g.add_param(f"{name}.{k}", v) for k, v in
              (("levels", q), ("unit", unit), ("threshold", threshold), ("leak", leak))]
    out = layer.neuron.outputs[0] if _spiking(layer) else g.unique_name(f"{name}_spikes")
    return Node("TrueNorthLayer", name, [w_node.inputs[0]] + params,
                [out, g.unique_name(f"{name}_saturation"), g.unique_name(f"{name}_partial_spikes")], attrs)


def lower_to_truenorth(g: Graph, ctx) -> Graph:
    """Quantize and lower a feed-forward rate SNN (RateEncode input, IF with reset by subtraction) to TrueNorthLayer
    ops; see the module docstring. A layer that fits no core is an error; other mapping limits are the check's."""
    g = infer_shapes(g.copy())
    # TrueNorth's linear reset mode is reset by subtraction, its normal mode reset to zero
    encoder, layers = feedforward_layers(g, ctx.spec.name, "RateEncode", tuple(ctx.spec.value("neuron.reset_modes")))
    lim, num = CoreLimits.from_spec(ctx.spec), _Numerics(ctx.spec)
    plans, violations = [], []
    for layer in layers:
        plan, problems = plan_layer(g, layer.weighted, layer.neuron.name, lim)
        plans.append(plan)
        violations += problems
    if any(p is None for p in plans):
        raise UnsupportedError("the network does not fit TrueNorth cores:", violations)
    for source, target in zip(plans, plans[1:]):
        add_splitters(source, target.axon_slots, lim)
    steps = encoder.attrs["num_steps"] if encoder else ctx.conversion.num_steps
    depth = sum(1 + (p.groups > 1) + p.splitter_levels for p in plans)
    report, replaced = [], {}
    for layer, plan in zip(layers, plans):
        theta = layer.neuron.attrs["v_th"] if _spiking(layer) else _output_threshold(g, ctx, layer, steps)
        node = _layer_node(g, layer, plan, theta, num, report)
        replaced[layer.weighted.name] = []
        replaced[layer.neuron.name] = [node] if _spiking(layer) else \
            [node, Node("SpikeCount", layer.neuron.name + "_count", [node.outputs[0]], list(layer.neuron.outputs))]
    g.nodes = [m for n in g.nodes for m in replaced.get(n.name, [n])]
    if encoder is not None:
        encoder.attrs["num_steps"] = steps + depth
    else:  # spike input (event data): the host appends the silent steps
        pad_input(g, spike_input(g), depth)
    g.drop_unused_params()
    g.meta.update({"quantization": report, "num_steps": steps + depth, "pipeline_depth": depth})
    return infer_shapes(g)
