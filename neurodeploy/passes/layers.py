"""The layer chain of a feed-forward rate SNN, for backends that deploy one population of neurons per layer.

Expected shape (after rate conversion and ``fold_average_pool``)::

    Encode -> [Flatten] -> W1 -> IF -> [Flatten] -> W2 -> IF -> ... -> Wn -> MembraneReadout   (W = Conv or Gemm)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.errors import UnsupportedError
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.ann import CURRENT_SUMS
from neurodeploy.ir.ops.neuron import is_stateless

SHAPE_ONLY = ("Flatten", "Reshape")
PEAK_SAMPLES = 128  # calibration samples whose float-SNN run sets the per-layer peaks


def upstream_of(g: Graph, value: str) -> tuple[Node | None, list[Node]]:
    """The producer of ``value`` behind any shape-only nodes (None for a graph input), and those nodes in
    data-flow order."""
    chain, producer = [], g.producer(value)
    while producer is not None and producer.op in SHAPE_ONLY:
        chain.insert(0, producer)
        producer = g.producer(producer.inputs[0])
    return producer, chain


def read_untimed_input(encoder: Node, through: list[Node]) -> str:
    """Rewire the shape-only nodes after an encoder to read its untimed input, so that the host computes the first
    layer once per sample; returns the value the first layer now reads."""
    value = encoder.inputs[0]
    for node in through:
        node.inputs[0] = value
        value = node.outputs[0]
    return value


def fold_neuron_bias(g: Graph, ctx=None) -> Graph:
    """An IF/LIF neuron's own bias (added to v every step) joins the bias of the Conv/Gemm feeding it: exact when the
    neuron keeps no current (i_decay = 1), where v and the current get the same input. Other neurons keep theirs."""
    g = g.copy()
    for neuron in g.find("IF", "LIF"):
        bias, producer = g.param_of(neuron, 1), g.producer(neuron.inputs[0])
        if bias is None or neuron.attrs.get("i_decay", 1.0) != 1.0 or producer is None or \
                producer.op not in ("Conv", "Gemm") or len(g.consumers(producer.outputs[0])) != 1:
            continue
        channels = g.param_of(producer, 1).shape[0]
        per_channel = np.broadcast_to(bias, g.types[neuron.outputs[0]].shape).reshape(channels, -1)
        if not (per_channel == per_channel[:, :1]).all():
            continue  # a bias that differs within a channel has no place in a conv bias
        old = g.param_of(producer, 2)
        g.set_param(producer, 2, (per_channel[:, 0] + (0 if old is None else old)).astype(np.float32))
        neuron.inputs[1] = ""
        while neuron.inputs and neuron.inputs[-1] == "":
            neuron.inputs.pop()
    g.drop_unused_params()
    return g


def count_spikes_on_host(g: Graph) -> None:
    """A SpikeCount readout of the last layer's spikes: the deployed graph outputs those spikes (the evaluation
    counts them over the whole run, delayed steps included)."""
    for readout in g.find("SpikeCount"):
        if readout.outputs[0] in g.outputs:
            g.outputs = [readout.inputs[0] if v == readout.outputs[0] else v for v in g.outputs]
            g.nodes.remove(readout)


def pad_input(g: Graph, input_name: str, steps: int) -> None:
    """Silent steps after a spike input so that its last steps reach the output through the layers' delays."""
    pad = Node("PadSteps", g.unique_name("pad_steps"), [input_name], [g.unique_name(f"{input_name}_padded")],
               {"steps": steps})
    g.insert_after(input_name, pad)


def padded_steps(g: Graph) -> int:
    """Silent steps the host appends to a spike input (``pad_input``), 0 when there are none."""
    return sum(n.attrs["steps"] for n in g.find("PadSteps"))


def calibration_peaks(g: Graph, ctx, values: list[str]) -> dict[str, float]:
    """Largest |value| (over samples, steps and neurons) of each named value of the float SNN on the first
    PEAK_SAMPLES calibration samples (``ctx.calibration`` leads with the sample axis: [N, T, ...] spike trains
    for a graph with a spike input)."""
    from neurodeploy.sim.evaluate import as_feed, run_batched

    peak = lambda name, a: np.abs(a).reshape(1, -1).max(axis=1)
    out = run_batched(g, as_feed(g, ctx.calibration[:PEAK_SAMPLES]), keep=values, reduce=peak)
    return {v: float(out[v].max()) for v in values}


@dataclass
class Layer:
    weighted: Node   # the Conv or Gemm
    neuron: Node     # IF or MembraneReadout reading it
    first: bool      # fed by the encoder (through shape-only nodes), not by spikes of another layer


def spike_input(g: Graph) -> str | None:
    """The graph input when it is a spike train (event data, a trained SNN without encoder), else None."""
    (name, t), = g.inputs.items()
    return name if t.timed else None


def _neuron_problems(neuron: Node, target: str, resets: tuple[str, ...], voltage_leak: bool) -> list[str]:
    """What a one-population-per-layer chip cannot express of an IF/LIF layer."""
    a, problems = neuron.attrs, []
    if neuron.op == "LIF" and a.get("i_decay", 1.0) < 1:
        problems.append(f"{neuron}: a decaying synaptic current (i_decay {a['i_decay']:.6g}) is not lowered to target "
                        f"'{target}' (neurodeploy lowers delta-current neurons there); deploy it on loihi1/loihi2")
    if is_stateless(neuron) and not voltage_leak:
        problems.append(f"{neuron}: a stateless threshold neuron (v_decay 1: nothing kept from one tick to the next) "
                        f"has no form on target '{target}' (its membrane keeps its potential, its leak subtracts a "
                        "constant each tick); deploy it on loihi2")
    elif neuron.op == "LIF" and a.get("v_decay", 0.0) > 0 and not voltage_leak:
        problems.append(f"{neuron}: a voltage leak proportional to v (v_decay {a['v_decay']:.6g}) has no form on "
                        f"target '{target}' (its leak subtracts a constant each tick); deploy it on loihi1/loihi2 or "
                        "spinnaker1/spinnaker2, or train/convert it with IF neurons")
    if a.get("reset", "subtract") not in resets:
        problems.append(f"{neuron}: reset '{a.get('reset', 'subtract')}', but target '{target}' resets by "
                        f"{' or '.join(resets)}; convert with --reset {resets[0]} (or import a NIR file with it)")
    if a.get("reset_timing", "immediate") != "immediate" and a.get("reset") == "subtract" and a.get("v_decay", 0.0):
        # without leak, subtracting now or in the next update gives the same voltages
        problems.append(f"{neuron}: reset at the next step after the leak (snnTorch's order); target '{target}' "
                        "resets at once")
    if a.get("refractory", 0):
        problems.append(f"{neuron}: refractory period of {a['refractory']} steps; not lowered to target '{target}'")
    if len(neuron.inputs) > 1 and neuron.inputs[1]:  # fold_neuron_bias moved every bias a synapse layer can hold
        problems.append(f"{neuron}: a voltage bias that its synapse layer cannot hold (it differs within a conv "
                        f"channel, or the layer feeds other nodes too); target '{target}' takes biases per channel")
    if len(neuron.inputs) > 2 and neuron.inputs[2]:
        problems.append(f"{neuron}: a recurrent synapse; neurodeploy deploys feed-forward layers only on target "
                        f"'{target}' (Loihi takes recurrent layers)")
    return problems


def feedforward_layers(g: Graph, target: str, encoder_op: str, reset: str | tuple[str, ...],
                       voltage_leak: bool = False) -> tuple[Node | None, list[Layer]]:
    """The encoder (None for a spike-train input) and the layers in order; UnsupportedError listing every node that
    does not fit the chain, including neurons whose reset is not among the target's ``reset`` modes, and leaky
    neurons unless the target has a multiplicative ``voltage_leak``."""
    resets = (reset,) if isinstance(reset, str) else tuple(reset)
    encoders = g.find("DirectEncode", "RateEncode")
    timed = spike_input(g)
    encoder, layers, problems = (encoders[0] if timed is None else None), [], []
    if timed is None and (len(encoders) != 1 or encoders[0].op != encoder_op):  # listed with the layers' problems
        found = ", ".join(str(n) for n in encoders) or "no encoder in the graph"
        problems.append(f"{found}: target '{target}' needs exactly one {encoder_op} input, or a spike-train input")
        encoder = None
    for neuron in g.find("IF", "LIF", "MembraneReadout", "SpikeCount"):
        producer = g.producer(neuron.inputs[0])
        neuron_problems = _neuron_problems(neuron, target, resets, voltage_leak) if neuron.op in ("IF", "LIF") else []
        if neuron_problems:
            problems += neuron_problems
        elif neuron.op == "MembraneReadout" and neuron.attrs.get("v_decay", 0.0) > 0 and not voltage_leak:
            problems.append(f"{neuron}: a leaky readout (v_decay {neuron.attrs['v_decay']:.6g}) has no form on target "
                            f"'{target}'")
        elif neuron.op == "SpikeCount" and neuron.outputs[0] in g.outputs and timed is not None:
            continue  # a trained SNN's readout: the host counts the output spikes
        elif neuron.op == "SpikeCount":
            problems.append(f"{neuron}: spike-count readout; convert with --readout membrane")
        elif producer is None or producer.op not in ("Conv", "Gemm"):
            what = "a residual Add" if producer is not None and producer.op in CURRENT_SUMS else \
                f"{producer.op if producer else 'a graph input'}"
            problems.append(f"{neuron}: its input comes from {what}, not one Conv/Gemm; target '{target}' "
                            "deploys plain feed-forward layers only")
        elif len(g.consumers(producer.outputs[0])) != 1:
            problems.append(f"{producer}: its output feeds several nodes")
        else:
            source = upstream_of(g, producer.inputs[0])[0]
            first = source is encoder if encoder is not None else source is None
            layers.append(Layer(producer, neuron, first))
    leftovers = [n for n in g.nodes if n.op not in ("Conv", "Gemm", "IF", "LIF", "MembraneReadout", "SpikeCount",
                                                    encoder_op) + SHAPE_ONLY]
    problems += [f"{n}: op {n.op} cannot be deployed on target '{target}'" for n in leftovers]
    if not problems and layers and not layers[0].first:  # (a refused layer would shift which one comes first)
        problems.append(f"{layers[0].weighted}: the first layer does not read the encoder")
    if problems:
        raise UnsupportedError(f"the network cannot be lowered to target '{target}':", problems)
    return encoder, layers
