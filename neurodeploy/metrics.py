"""Cost metrics of one network per inference: papers/000's memory and compute, NeuroBench-comparable activity,
papers/003's operation energy (definitions with formulas: docs/metrics.md).

A *synapse layer* is a node that multiplies a value by weights: Conv, Gemm (and the chips' LoihiConv /
LoihiDense), and the recurrent weight of a neuron layer (input 2 of IF/LIF/LoihiLIF, fed by the layer's own
spikes of the previous step). Every count is exact per tap: an input element reaches the outputs whose window
covers it (padding taps are not connections), so a spike at a feature map's border costs fewer operations than
one in its middle. Activity comes from :class:`neurodeploy.sim.evaluate.Evaluation` (``input_activity``: per
input element, the mean number of nonzero values per inference over all time steps; whether every value was 0
or ±1, i.e. binary).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops import OPS, resolve_attrs

SYNAPSE_OPS = ("Conv", "Gemm", "LoihiConv", "LoihiDense")
UNCOUNTED_SYNAPSE_OPS = ("TrueNorthLayer", "SpiNNakerSynapses")  # chip layouts (split, duplicated) not counted here
RECURRENT_OPS = ("IF", "LIF", "LoihiLIF")  # input 2: a recurrent weight [n, n], when present
MEMBRANE_OPS = ("IF", "LIF", "MembraneReadout", "TTFS", "SCTTFS", "LoihiLIF", "LoihiVoltageReadout")
ANN_ACTIVATION_OPS = ("Relu",)  # NeuroBench's activation layers of an ANN (its default set: ReLU, Sigmoid)
ANN_NEURON_OPS = ("Conv", "Gemm")  # an ANN's neurons: the outputs of its weighted layers (as ir.summary counts)
FLOAT_BITS = 32  # papers/000: every stored value 32-bit except the 1-bit spikes
SPIKE_BITS = 1
RECURRENT = ".recurrent"  # suffix naming a neuron layer's recurrent synapses


@dataclass(frozen=True)
class InputActivity:
    """What one synapse layer's input carried, per inference: ``nonzero`` [per-sample shape] the mean number of
    (time step, value != 0) per element; ``binary`` True when every value seen was 0 or ±1 (NeuroBench's test
    for a spiking input)."""

    nonzero: np.ndarray
    binary: bool


# ------------------------------------------------------------------ structure


def synapse_inputs(g: Graph) -> dict[str, str]:
    """Synapse layer name -> the value whose per-element activity sets its operations."""
    found = {n.name: n.inputs[0] for n in g.nodes if n.op in SYNAPSE_OPS}
    for n in g.nodes:
        if n.op in RECURRENT_OPS and _recurrent_weight(g, n) is not None:
            found[n.name + RECURRENT] = n.outputs[0]
    return found


def activity_values(g: Graph) -> list[str]:
    """Values whose per-element activity the metrics need: synapse inputs, and an ANN's ReLU outputs (its
    activation sparsity)."""
    relu = [n.outputs[0] for n in g.nodes if n.op in ANN_ACTIVATION_OPS]
    return list(dict.fromkeys(list(synapse_inputs(g).values()) + relu))


def _recurrent_weight(g: Graph, node: Node):
    return g.param_of(node, 2) if len(node.inputs) > 2 and node.inputs[2] else None


def _node_of(g: Graph, layer: str) -> Node:
    return g.node(layer[: -len(RECURRENT)] if layer.endswith(RECURRENT) else layer)


def layer_weight(g: Graph, layer: str) -> np.ndarray:
    node = _node_of(g, layer)
    return _recurrent_weight(g, node) if layer.endswith(RECURRENT) else g.param_of(node, 1)


def fan_out(g: Graph, layer: str, nonzero_weights: bool) -> np.ndarray:
    """Connections leaving each element of synapse layer ``layer``'s input (shaped as one sample of it): all of
    them (``nonzero_weights`` False: the structure) or only those whose weight is not zero (what NeuroBench's
    binarised weights count)."""
    node, w = _node_of(g, layer), layer_weight(g, layer)
    w = (w != 0) if nonzero_weights else np.ones(w.shape, bool)
    if layer.endswith(RECURRENT) or node.op == "LoihiDense":  # [out, in]
        return w.sum(axis=0).astype(np.int64)
    if node.op == "Gemm":
        attrs = resolve_attrs(OPS[node.op], node)
        return (w.sum(axis=0) if attrs["transB"] else w.sum(axis=1)).astype(np.int64)
    return _conv_fan_out(g, node, w)


def _conv_fan_out(g: Graph, node: Node, w: np.ndarray) -> np.ndarray:
    """Per input element (c, y, x): over the kernel taps (ky, kx) that some output window places on (y, x), the
    output channels of c's group that the tap connects."""
    from neurodeploy.ir.ops.ann import _window_params

    attrs = resolve_attrs(OPS[node.op], node)
    channels, height, width = g.types[node.inputs[0]].shape
    m, cg, kh, kw = w.shape
    group = attrs.get("group") or 1
    (sh, sw), pads, (dh, dw) = _window_params(attrs, (kh, kw))
    out_h, out_w = g.types[node.outputs[0]].shape[1:]
    rows = _tap_positions(out_h, sh, pads[0], dh, kh, height)  # [kh, height]: some output puts tap ky on row y
    cols = _tap_positions(out_w, sw, pads[1], dw, kw, width)
    per_group = m // group
    taps = np.zeros((channels, kh, kw), np.int64)  # output channels input channel c reaches through tap (ky, kx)
    for gi in range(group):
        taps[gi * cg:(gi + 1) * cg] = w[gi * per_group:(gi + 1) * per_group].sum(axis=0)
    return np.einsum("cij,iy,jx->cyx", taps, rows, cols)


def _tap_positions(out_size: int, stride: int, pad: int, dilation: int, kernel: int, size: int) -> np.ndarray:
    """[kernel, size] 0/1: whether tap k of some output o lands on input index o*stride - pad + k*dilation."""
    hits = np.zeros((kernel, size), np.int64)
    for k in range(kernel):
        index = np.arange(out_size) * stride - pad + k * dilation
        hits[k, index[(index >= 0) & (index < size)]] = 1
    return hits


# ------------------------------------------------------------------ compute


def is_spiking(g: Graph) -> bool:
    """A graph with timed values (an SNN) rather than an ANN."""
    return any(t.timed for t in g.types.values())


def _layer_row(g: Graph, layer: str, value: str, use: InputActivity | None, steps: int) -> dict:
    dense_fan, effective_fan = fan_out(g, layer, False), fan_out(g, layer, True)
    links = int(dense_fan.sum())
    row = {"layer": layer, "op": _node_of(g, layer).op, "input": value, "connections": links,
           "dense": links * (steps if g.types[value].timed else 1), "binary_input": None, "kind": None,
           "events": None, "effective_ops": None, "Cmul": None, "Cadd": None}
    if not is_spiking(g):  # papers/000: an ANN multiplies and adds over every connection, whatever its input
        row.update(Cmul=float(links), Cadd=float(links))
    if use is None:
        return row
    events = float((use.nonzero * dense_fan).sum())
    row.update(binary_input=use.binary, events=events, kind="AC" if use.binary else "MAC",
               effective_ops=float((use.nonzero * effective_fan).sum()))
    if is_spiking(g):  # event-driven: only nonzero inputs cost; a binary one needs no multiplication
        row.update(Cmul=0.0 if use.binary else events, Cadd=events)
    return row


def num_steps(g: Graph, evaluation=None) -> int:
    """T of a spiking graph: the steps its evaluation ran, else what the graph says (1 for an ANN)."""
    if not is_spiking(g):
        return 1
    if evaluation is not None and evaluation.num_steps:
        return int(evaluation.num_steps)
    encoders = g.find("DirectEncode", "RateEncode")
    return int(g.meta.get("num_steps") or (encoders[0].attrs.get("num_steps") if encoders else 1))


def compute(g: Graph, activity: dict[str, InputActivity] | None, steps: int | None = None) -> dict:
    """Operations per inference, per synapse layer and in total (docs/metrics.md, "Compute").

    papers/000: an ANN makes one multiplication and one addition per connection (Cmul = Cadd = connections); an
    SNN computes only for nonzero inputs, summed over its T steps: one addition per connection a binary input
    reaches, one multiplication and one addition per connection a non-binary input reaches (an analog encoding
    layer, a layer after average pooling). NeuroBench: effective MACs / ACs count nonzero inputs over nonzero
    weights; ``dense`` every connection at every step.
    """
    steps = steps or num_steps(g)
    rows = [_layer_row(g, layer, value, (activity or {}).get(value), steps)
            for layer, value in synapse_inputs(g).items()]

    def total(key: str, kind: str | None = None) -> float | None:
        if any(r[key] is None for r in rows):
            return None
        return float(sum(r[key] for r in rows if kind is None or r["kind"] == kind))

    return {"Cmul": total("Cmul"), "Cadd": total("Cadd"),
            "effective_macs": total("effective_ops", "MAC"), "effective_acs": total("effective_ops", "AC"),
            "dense": int(sum(r["dense"] for r in rows)), "connections": int(sum(r["connections"] for r in rows)),
            "layers": rows}


# ------------------------------------------------------------------ memory


def _neuron_states(g: Graph) -> int:
    """Membrane values an SNN holds: one per neuron, one more per neuron of a LIF with a current state
    (i_decay < 1) or of a Loihi CUBA compartment (u and v)."""
    total = 0
    for n in g.nodes:
        if n.op in MEMBRANE_OPS:
            current = n.op == "LoihiLIF" or (n.op == "LIF" and resolve_attrs(OPS[n.op], n)["i_decay"] < 1.0)
            total += g.types[n.outputs[0]].size * (2 if current else 1)
    return total


def weight_count(g: Graph) -> int:
    """Stored weights: every weight of every synapse layer (biases are not counted, as in papers/000)."""
    return int(sum(layer_weight(g, layer).size for layer in synapse_inputs(g)))


def memory(g: Graph, peak_spikes: tuple[float | None, float | None] | None, bits: dict | None = None) -> dict:
    """papers/000's memory per inference in bits: ANN M = Mw + Ma; SNN M = Mw + Mp + Ms.

    ``bits`` gives the widths (weight, membrane, activation, spike; per_neuron_weight for a chip that stores
    weights per neuron too; states_per_neuron for a chip whose neuron model holds that many states whatever the
    network's); the default is 32-bit values and 1-bit spikes. ``peak_spikes`` is (mean over the samples, largest)
    of each sample's most spikes in one step: Ms takes the mean (papers/000 averages its costs over the test set),
    Ms_worst the largest."""
    bits = {"weight": FLOAT_BITS, "membrane": FLOAT_BITS, "activation": FLOAT_BITS, "spike": SPIKE_BITS, **(bits or {})}
    neurons = sum(g.types[n.outputs[0]].size for n in g.nodes if n.op in MEMBRANE_OPS)
    mw = weight_count(g) * bits["weight"] + bits.get("per_neuron_weight", 0) * neurons
    if not is_spiking(g):
        ma = sum(g.types[n.outputs[0]].size for n in g.nodes if n.op in ANN_NEURON_OPS) * bits["activation"]
        used = {k: bits[k] for k in ("weight", "activation")}
        return {"Mw_bits": int(mw), "Ma_bits": int(ma), "M_bits": int(mw + ma), "bits": used}
    states = neurons * bits["states_per_neuron"] if "states_per_neuron" in bits else _neuron_states(g)
    mp = states * bits["membrane"]
    mean, worst = peak_spikes or (None, None)
    ms = None if mean is None else float(mean * bits["spike"])
    used = {k: v for k, v in bits.items() if k != "activation"}
    return {"Mw_bits": int(mw), "Mp_bits": int(mp), "Ms_bits": ms, "M_bits": None if ms is None else mw + mp + ms,
            "Ms_worst_bits": None if worst is None else float(worst * bits["spike"]), "bits": used}


# ------------------------------------------------------------------ activity (NeuroBench) and energy


def activity_figures(g: Graph, evaluation) -> dict:
    """Connection sparsity (zero weights / weights), footprint (bytes of every parameter) and, with an
    evaluation, activation sparsity (NeuroBench: the fraction of zero outputs of the activation layers, an ANN's
    ReLUs, an SNN's spiking neurons over every step: 1 - spikes / (neurons x steps)); for an SNN, spikes per
    layer and per inference (papers/003)."""
    from neurodeploy.sim.evaluate import spiking_nodes

    params = [g.params[v] for v in dict.fromkeys(v for n in g.nodes for v in n.inputs) if v in g.params]
    weights = [layer_weight(g, layer) for layer in synapse_inputs(g)]
    n_weights = sum(w.size for w in weights)
    figures = {"connection_sparsity": float(sum(int((w == 0).sum()) for w in weights) / n_weights) if n_weights else None,
               "footprint_bytes": int(sum(p.nbytes for p in params)), "parameters": int(sum(p.size for p in params))}
    if evaluation is None:
        return figures
    if not is_spiking(g):
        relu = [n.outputs[0] for n in g.nodes if n.op in ANN_ACTIVATION_OPS and n.outputs[0] in evaluation.input_activity]
        size = sum(g.types[v].size for v in relu)
        active = sum(float(evaluation.input_activity[v].nonzero.sum()) for v in relu)
        figures["activation_sparsity"] = 1.0 - active / size if size else None
        return figures
    steps = num_steps(g, evaluation)
    neurons = {n.name: g.types[n.outputs[0]].size for n in spiking_nodes(g) if n.op != "RateEncode"}
    spikes = {k: v for k, v in evaluation.spikes_per_layer.items() if k in neurons}
    slots = sum(neurons[k] for k in spikes) * steps
    figures.update(spikes_per_layer=spikes, spikes_per_inference=float(sum(spikes.values())),
                   activation_sparsity=1.0 - sum(spikes.values()) / slots if slots else None)
    return figures


def operation_energy(g: Graph, ops: dict, costs: dict) -> dict:
    """papers/003's comparison, pJ per inference with the sourced costs: an ANN pays E_MAC for every connection
    (its dense MACs, as papers/003 counts #OP_ANN); an SNN E_AC per accumulate and E_MAC per multiply-accumulate it
    really makes (effective ACs and MACs)."""
    if not is_spiking(g):
        return {"energy_pj": ops["connections"] * costs["mac_pj"], "counted": "dense MACs", **costs}
    macs, acs = ops["effective_macs"], ops["effective_acs"]
    energy = None if macs is None or acs is None else macs * costs["mac_pj"] + acs * costs["ac_pj"]
    return {"energy_pj": energy, "counted": "effective MACs and ACs", **costs}


def _peaks(evaluation) -> tuple[float | None, float | None] | None:
    return None if evaluation is None else (evaluation.max_spikes_per_step, evaluation.worst_spikes_per_step)


def network_metrics(g: Graph, evaluation, bits: dict | None = None, costs: dict | None = None) -> dict:
    """Every metric of one graph and its evaluation (None: structure only)."""
    activity = evaluation.input_activity if evaluation is not None else None
    ops = compute(g, activity, num_steps(g, evaluation))
    result = {"memory": memory(g, _peaks(evaluation), bits), "compute": ops,
              "activity": activity_figures(g, evaluation)}
    if costs:
        result["operation_energy"] = operation_energy(g, ops, costs)
    return result


def deployed_metrics(g: Graph, evaluation, structure: Graph, bits: dict | None) -> dict:
    """The deployed network: papers/000's memory with the float SNN's counts (``structure``) at the chip's widths
    and Ms from the chip's run; operations counted on the deployed graph where its synapses are Conv/Dense-like
    (reference, Loihi, host layers), else null with the reason."""
    result = {"memory": memory(structure, _peaks(evaluation), bits), "memory_counts_from": structure.name}
    chip_layers = sorted({n.op for n in g.nodes if n.op in UNCOUNTED_SYNAPSE_OPS})
    if chip_layers:
        result["compute"] = None
        result["compute_note"] = (f"{', '.join(chip_layers)} layers split and duplicate the network's synapses; "
                                  "see the float SNN's operations and the estimate's synaptic events")
    else:
        result["compute"] = compute(g, evaluation.input_activity if evaluation is not None else None,
                                    num_steps(g, evaluation))
    return result
