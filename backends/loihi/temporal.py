"""Quantize a TTFS / SC-TTFS SNN to Loihi 2 fixed point: LoihiDense/LoihiConv synapses into LoihiTTFS neurons.

Expected shape (after temporal conversion, which folds average pooling)::

    x -> W1 -> (SC)TTFS -> TTFSDecode -> [Flatten] -> W2 -> (SC)TTFS -> TTFSDecode -> ... -> Wn -> output

The first layer runs on the host: W1 x + b1 is each sample's starting voltage (a per-sample bias). Every other W
becomes 8-bit synapses, twice for SC-TTFS senders (one copy for encoding spikes, one for calibration spikes, each
decoded with its own table). Layer i (0-based) encodes in steps [i T, (i+1) T); the output layer reads its voltage
after the last sender's spikes have arrived, so a sample runs layers x T + 1 steps.

Per layer, one scale S maps float membrane units to voltage units: the larger of the calibration peak of v and
theta_e(0) + theta_c(0) sits at half the state range. Weights get w = W * 254 / max|W| (Loihi's mixed 8-bit
weights are even); the decode tables hold theta_sender(r) * S / (254 / max|W|) * 2^shift, with the largest shift
that keeps every entry within ``lut_bits``; thresholds are theta(r) * S, biases b * S.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from neurodeploy.backends.loihi.quantize import LoihiNumerics, quantize_weights
from neurodeploy.errors import UnsupportedError
from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.loihi import ACTIVATION_SHIFT
from neurodeploy.ir.ops.temporal import curves as threshold_curves
from neurodeploy.ir.ops import OPS, resolve_attrs
from neurodeploy.passes.layers import calibration_peaks, upstream_of

STATE_MARGIN = 0.5  # the largest calibration voltage uses half the state range


@dataclass
class TemporalLayerQuantization:
    layer: str
    scale: float
    weights: int
    weights_clipped: int
    weights_zeroed: int
    decode_shift: int
    decode_clipped: int
    smallest_threshold: int
    thresholds_floored: int   # threshold entries that rounded below 1 and were raised to 1
    biases_clipped: int


@dataclass
class _Layer:
    weighted: Node
    neuron: Node | None          # None for the output layer
    sender: Node | None          # the TTFS/SCTTFS neuron whose spikes it reads; None for the host layer
    through: list[Node]          # shape-only nodes between the sender's decode and the weighted node


def _layers(g: Graph) -> tuple[list[_Layer], list[str]]:
    """The layer chain and every node that does not fit it."""
    layers, problems = [], []
    outputs = [(g.producer(v), None) for v in g.outputs]
    for weighted, neuron in [(g.producer(n.inputs[0]), n) for n in g.find("TTFS", "SCTTFS")] + outputs:
        if weighted is None or weighted.op not in ("Conv", "Gemm"):
            problems.append(f"{neuron or weighted}: its input is not one Conv/Gemm layer")
            continue
        producer, through = upstream_of(g, weighted.inputs[0])
        if producer is None and weighted.inputs[0] not in g.inputs and not through:
            problems.append(f"{weighted}: reads neither the input nor decoded spikes")
        elif producer is not None and producer.op != "TTFSDecode":
            problems.append(f"{weighted}: reads {producer.op}, not decoded TTFS spikes")
        else:
            sender = g.producer(producer.inputs[0]) if producer is not None else None
            layers.append(_Layer(weighted, neuron, sender, through))
    accepted = {id(n) for layer in layers for n in (layer.weighted, layer.neuron) if n is not None}
    allowed = ("TTFSDecode", "Flatten", "Reshape", "Dropout", "Identity")
    problems += [f"{n}: op {n.op} cannot be lowered to Loihi TTFS layers" for n in g.nodes
                 if id(n) not in accepted and n.op not in allowed]
    return layers, problems


class _TemporalLowering:
    def __init__(self, g: Graph, ctx) -> None:
        self.g = g
        self.num = LoihiNumerics.from_spec(ctx.spec)
        self.state_bits = int(ctx.spec.value("numerics.state_bits"))
        self.lut_max = 2 ** int(ctx.spec.value("temporal.lut_bits")) - 1
        self.limit = 2 ** (self.state_bits - 1) - 1
        self.report: list[dict] = []
        self.weight_scale: dict[str, float] = {}  # layer name -> integer weight units per float weight unit

    def curves(self, neuron: Node):
        return threshold_curves(resolve_attrs(OPS[neuron.op], neuron))

    def scale_of(self, layer: _Layer, peaks: dict) -> float:
        if layer.neuron is None:
            return STATE_MARGIN * self.limit / max(peaks[layer.weighted.outputs[0]], 1e-12)
        enc, cal = self.curves(layer.neuron)
        top = enc[0] + (cal[0] if cal is not None else 0.0)
        return STATE_MARGIN * self.limit / max(peaks[layer.neuron.inputs[0]], top, 1e-12)

    def thresholds(self, neuron: Node, scale: float) -> tuple[dict, int, int]:
        enc, cal = self.curves(neuron)
        tables = [np.rint(c * scale) for c in (enc, cal) if c is not None]
        floored = int(sum((t < 1).sum() for t in tables))
        ints = [tuple(int(v) for v in np.maximum(t, 1)) for t in tables]
        attrs = {"threshold_enc": ints[0], **({"threshold_cal": ints[1]} if len(ints) > 1 else {})}
        return attrs, min(min(t) for t in ints), floored

    def decode_tables(self, sender: Node, scale: float, weight_scale: float) -> tuple[dict, int]:
        """Decode tables of the sender's spikes in this layer's voltage units, with their shift."""
        per_unit = [c * scale / weight_scale for c in self.curves(sender) if c is not None]
        top = max(float(t.max()) for t in per_unit)
        shift = 0
        while top * 2 ** (shift + 1) <= self.lut_max and shift < 62:
            shift += 1
        tables = [np.rint(t * 2 ** shift) for t in per_unit]
        clipped = int(sum((t > self.lut_max).sum() for t in tables))
        ints = [tuple(int(v) for v in np.clip(t, 0, self.lut_max)) for t in tables]
        tables = {"decode_shift": shift, "decode_enc": ints[0], **({"decode_cal": ints[1]} if len(ints) > 1 else {})}
        return tables, clipped

    def synapse(self, weighted: Node, value: str, q: np.ndarray, suffix: str, mode: str) -> Node:
        current = self.g.unique_name(f"{weighted.name}{suffix}_current")
        weight = self.g.add_param(f"{weighted.name}{suffix}.weight_int", q)
        if weighted.op == "Gemm":
            return Node("LoihiDense", weighted.name + suffix, [value, weight], [current],
                        {"weight_exp": 0, "sign_mode": mode, "num_weight_bits": self.num.weight_bits})
        a = weighted.attrs
        attrs = {k: a[k] for k in ("kernel_shape", "strides", "pads", "dilations", "group") if k in a}
        return Node("LoihiConv", weighted.name + suffix, [value, weight], [current], {**attrs, "weight_exp": 0})

    def spike_path(self, value: str, through: list[Node], suffix: str) -> tuple[str, list[Node]]:
        """Copies of the shape-only nodes between a sender's spikes and a synapse, reading ``value`` (the originals,
        which read the decoded value, are dropped; the encoding path keeps their names)."""
        nodes = []
        for node in through:
            out = self.g.unique_name(f"{value}_{node.op.lower()}")
            nodes.append(Node(node.op, node.name + suffix, [value] + node.inputs[1:], [out], dict(node.attrs)))
            value = out
        return value, nodes

    def layer_nodes(self, layer: _Layer, index: int, window: int, peaks: dict, total_steps: int) -> list[Node]:
        scale = self.scale_of(layer, peaks)
        weighted, neuron = layer.weighted, layer.neuron
        attrs = {"window": window, "encode_start": index * window, "state_bits": self.state_bits}
        stats = {"weights": 0, "weights_clipped": 0, "weights_zeroed": 0, "decode_shift": 0, "decode_clipped": 0}
        nodes: list[Node] = []
        bias = self.g.param_of(weighted, 2)
        bias = np.zeros(self.g.types[weighted.outputs[0]].shape[0]) if bias is None else bias.astype(np.float64)
        if layer.sender is None:  # host layer: W1 x + b1 in float, quantized to the starting voltage
            host = Node(weighted.op, weighted.name, list(weighted.inputs), list(weighted.outputs), dict(weighted.attrs))
            nodes += layer.through
            bias_value = self.g.unique_name(f"{neuron.name}_v0")
            nodes += [host, Node("Quantize", self.g.unique_name(f"{neuron.name}_quantize"), [host.outputs[0]],
                                 [bias_value], {"scale": scale, "bits": self.state_bits})]
            currents, bias_clipped = ["", ""], 0
            attrs["num_steps"] = total_steps
        else:
            w = self.g.param_of(weighted, 1)
            w_max = float(np.abs(w).max()) or 1.0
            top = 2 ** self.num.weight_bits - 2
            q, mode, counts = quantize_weights(w, top * 2 ** ACTIVATION_SHIFT / w_max, 0, self.num)
            tables, clipped = self.decode_tables(layer.sender, scale, top / w_max)
            attrs.update(tables)
            stats.update(counts, weights=int(w.size), decode_shift=tables["decode_shift"], decode_clipped=clipped)
            currents = []
            for value in layer.sender.outputs:
                suffix = "" if value == layer.sender.outputs[0] else "_cal"
                spikes, path = self.spike_path(value, layer.through, suffix)
                syn = self.synapse(weighted, spikes, q, suffix, mode)
                nodes += path + [syn]
                currents.append(syn.outputs[0])
            currents += [""] * (2 - len(currents))
            shape = (-1,) + (1,) * (len(self.g.types[weighted.outputs[0]].shape) - 1)
            per_neuron = np.broadcast_to(bias.reshape(shape) * scale, self.g.types[weighted.outputs[0]].shape)
            bias_clipped = int((np.abs(np.rint(per_neuron)) > self.limit).sum())
            bias_value = self.g.add_param(f"{weighted.name}.v0", np.clip(np.rint(per_neuron), -self.limit,
                                                                            self.limit).astype(np.int64))
        if neuron is None:  # the readout's decoding window is the last sender's window
            nodes.append(Node("LoihiTTFSReadout", self.g.unique_name(f"{weighted.name}_readout"),
                              currents + [bias_value], list(weighted.outputs), attrs))
            smallest, floored = 0, 0
        else:
            thresholds, smallest, floored = self.thresholds(neuron, scale)
            attrs.update(thresholds)
            nodes.append(Node("LoihiTTFS", neuron.name, currents + [bias_value], list(neuron.outputs), attrs))
        self.report.append(asdict(TemporalLayerQuantization(
            neuron.name if neuron else weighted.name, scale, stats["weights"], stats["weights_clipped"],
            stats["weights_zeroed"], stats["decode_shift"], stats["decode_clipped"], smallest, floored, bias_clipped)))
        return nodes


def lower_temporal_to_loihi(g: Graph, ctx) -> Graph:
    """Quantize and lower a TTFS / SC-TTFS SNN to Loihi ops; see the module docstring.

    Requires: the chain shape above, one window T for every layer, ``ctx.spec`` with ``temporal.lut_bits``, and
    ``ctx.calibration``. Keeps: argmax close to the float SNN (measured by the compile report).
    """
    g = infer_shapes(g.copy())
    layers, problems = _layers(g)
    windows = {int(n.attrs["num_steps"]) for n in g.find("TTFS", "SCTTFS")}
    if len(windows) > 1:
        problems.append(f"layers use different windows {sorted(windows)}; Loihi TTFS lowering needs one T")
    if problems:
        raise UnsupportedError("the temporal network cannot be lowered to Loihi:", problems)
    window = windows.pop()
    hidden = [layer for layer in layers if layer.neuron is not None]
    order = {id(layer.neuron): i for i, layer in enumerate(hidden)}
    total_steps = len(hidden) * window + 1
    lw = _TemporalLowering(g, ctx)
    peaks = calibration_peaks(g, ctx, [layer.neuron.inputs[0] for layer in hidden] + list(g.outputs))
    nodes = []
    for layer in hidden + [layer for layer in layers if layer.neuron is None]:
        index = order.get(id(layer.neuron), len(hidden))
        nodes += lw.layer_nodes(layer, index, window, peaks, total_steps)
    g.nodes = nodes
    g.drop_unused_params()
    g.meta.update({"quantization": lw.report, "loihi_unlowered": {}, "num_steps": total_steps,
                   "latency_steps": total_steps, "window": window})
    return infer_shapes(g)
