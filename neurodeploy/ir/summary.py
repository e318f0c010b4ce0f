"""Per-node structure counts: neurons, synapses and parameters, as ``inspect`` and reports show them.

Neurons are the outputs of ops that hold a membrane (IF, LIF, MembraneReadout) in a spiking graph, or of
the weighted layers (Conv, Gemm) in an ANN graph, one per output element. Synapses count connections that exist: for Conv, taps that fall on padding
are not synapses, so the count is computed from the valid window positions, never by expanding the kernel.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops import OPS, resolve_attrs
from neurodeploy.ir.ops.ann import conv2d

NEURON_OPS = ("IF", "LIF", "MembraneReadout", "LoihiLIF", "LoihiVoltageReadout")
WEIGHTED_OPS = ("Conv", "Gemm")


@dataclass(frozen=True)
class NodeSummary:
    name: str
    op: str
    shape: str
    neurons: int
    synapses: int
    parameters: int


def conv_synapses(g: Graph, node: Node) -> int:
    """Connections of a Conv: per output channel, (C/group) x valid taps summed over output positions."""
    attrs = resolve_attrs(OPS[node.op], node)
    m, cg, kh, kw = g.param_of(node, 1).shape
    _, h, w = g.types[node.inputs[0]].shape
    ones = np.ones((1, 1, h, w), np.float32)
    taps = conv2d(ones, np.ones((1, 1, kh, kw), np.float32), None, attrs["strides"] or (1, 1),
                  attrs["pads"] or (0, 0, 0, 0), attrs["dilations"] or (1, 1), 1)
    return int(round(taps.sum())) * m * cg


def synapses(g: Graph, node: Node) -> int:
    if node.op in ("Conv", "LoihiConv"):
        return conv_synapses(g, node)
    if node.op in ("Gemm", "LoihiDense"):
        return int(g.param_of(node, 1).size)
    return 0


def summarize(g: Graph) -> list[NodeSummary]:
    """One row per node; ``g.types`` must be filled (check_graph or infer_shapes)."""
    rows = []
    spiking = any(n.op in NEURON_OPS for n in g.nodes)
    neuron_ops = NEURON_OPS if spiking else WEIGHTED_OPS
    for node in g.nodes:
        out = g.types[node.outputs[0]]
        neurons = out.size if node.op in neuron_ops else 0
        params = sum(int(g.params[v].size) for v in node.inputs if v in g.params)
        rows.append(NodeSummary(node.name, node.op, str(out), neurons, synapses(g, node), params))
    return rows


def summary_dicts(g: Graph) -> list[dict]:
    return [asdict(r) for r in summarize(g)]
