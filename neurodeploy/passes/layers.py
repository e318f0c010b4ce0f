"""The layer chain of a feed-forward rate SNN, for backends that deploy one population of neurons per layer.

Expected shape (after rate conversion and ``fold_average_pool``)::

    Encode -> [Flatten] -> W1 -> IF -> [Flatten] -> W2 -> IF -> ... -> Wn -> MembraneReadout   (W = Conv or Gemm)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.errors import UnsupportedError
from neurodeploy.ir.graph import Graph, Node

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


def calibration_peaks(g: Graph, ctx, values: list[str]) -> dict[str, float]:
    """Largest |value| (over samples, steps and neurons) of each named value of the float SNN on the first
    PEAK_SAMPLES calibration samples."""
    from neurodeploy.sim.evaluate import run_batched

    peak = lambda name, a: np.abs(a).reshape(1, -1).max(axis=1)
    out = run_batched(g, ctx.calibration[:PEAK_SAMPLES], keep=values, reduce=peak)
    return {v: float(out[v].max()) for v in values}


@dataclass
class Layer:
    weighted: Node   # the Conv or Gemm
    neuron: Node     # IF or MembraneReadout reading it
    first: bool      # fed by the encoder (through shape-only nodes), not by spikes of another layer


def feedforward_layers(g: Graph, target: str, encoder_op: str, reset: str) -> tuple[Node, list[Layer]]:
    """The encoder and the layers in order; UnsupportedError listing every node that does not fit the chain,
    including IF neurons whose reset is not the target's ``reset`` ('zero' or 'subtract')."""
    encoders = g.find("DirectEncode", "RateEncode")
    if len(encoders) != 1 or encoders[0].op != encoder_op:
        raise UnsupportedError(f"target '{target}' needs exactly one {encoder_op} input",
                               [str(n) for n in encoders] or ["no encoder in the graph"])
    encoder, layers, problems = encoders[0], [], []
    for neuron in g.find("IF", "LIF", "MembraneReadout", "SpikeCount"):
        producer = g.producer(neuron.inputs[0])
        if neuron.op == "LIF":
            problems.append(f"{neuron}: leaky LIF neurons cannot be expressed on target '{target}'; convert to IF")
        elif neuron.op == "IF" and neuron.attrs.get("reset", "subtract") != reset:
            problems.append(f"{neuron}: reset '{neuron.attrs.get('reset', 'subtract')}', but target '{target}' "
                            f"resets by '{reset}'; convert with --reset {reset}")
        elif neuron.op == "SpikeCount":
            problems.append(f"{neuron}: spike-count readout; convert with --readout membrane")
        elif producer is None or producer.op not in ("Conv", "Gemm"):
            what = "a residual Add" if producer is not None and producer.op == "Add" else \
                f"{producer.op if producer else 'a graph input'}"
            problems.append(f"{neuron}: its input comes from {what}, not one Conv/Gemm; target '{target}' "
                            "deploys plain feed-forward layers only")
        elif len(g.consumers(producer.outputs[0])) != 1:
            problems.append(f"{producer}: its output feeds several nodes")
        else:
            layers.append(Layer(producer, neuron, upstream_of(g, producer.inputs[0])[0] is encoder))
    leftovers = [n for n in g.nodes if n.op not in ("Conv", "Gemm", "IF", "LIF", "MembraneReadout", "SpikeCount",
                                                    encoder_op) + SHAPE_ONLY]
    problems += [f"{n}: op {n.op} cannot be deployed on target '{target}'" for n in leftovers]
    if not problems and layers and not layers[0].first:  # (a refused layer would shift which one comes first)
        problems.append(f"{layers[0].weighted}: the first layer does not read the encoder")
    if problems:
        raise UnsupportedError(f"the network cannot be lowered to target '{target}':", problems)
    return encoder, layers
