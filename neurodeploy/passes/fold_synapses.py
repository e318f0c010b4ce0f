"""Export passes that leave a chip additions only (papers/002's T-RevSNN; docs/trevsnn.md).

A T-RevSNN-style network reaches the IR with weight-standardized convolutions (``WSConv``), per-channel scales
(``Mul`` by a constant: ReZero / layer scale on a residual branch, the leak of a turn-on state) and sums of
membrane values (a residual stream, a state carried from the previous column). None of these exists on a chip,
where a neuron layer integrates the currents of its synapse layers and nothing else. These passes rewrite them:

* ``fold_weight_standardization``: WSConv -> Conv holding the standardized kernel.
* ``fold_channel_scales``: a per-channel Mul right after the Conv/Gemm it scales -> that Conv/Gemm's weights.
* ``expand_current_sums``: the input of every neuron layer, when it is a tree of Add / Sum / per-channel Mul over
  Conv/Gemm outputs, becomes one ``Sum`` of Conv/Gemm synapse paths of its own, each scaled by the product of the
  factors on its way. A path that feeds several neuron layers is copied once per layer (each layer stores its
  synapses on a chip anyway). A turn-on state c[t] = alpha c[t-1] + x[t] that never resets is such a tree: it
  unrolls into sum_k alpha^(t-k) x[k], alpha of either sign.

Each keeps the reference outputs equal up to float rounding (a scaled kernel rounds differently from a scaled
output), and removes what no longer feeds anything.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.ann import CURRENT_SUMS, standardized_weight

WEIGHTED = ("Conv", "Gemm")
NEURON_INPUTS = ("IF", "LIF", "MembraneReadout")


def fold_weight_standardization(g: Graph, ctx) -> Graph:
    """Replace every WSConv by a Conv whose kernel is the standardized one. Keeps: outputs equal (atol 1e-5)."""
    g = g.copy()
    for node in g.find("WSConv"):
        kernel = standardized_weight(g.param_of(node, 1), g.param_of(node, 2), node.attrs.get("epsilon", 1e-6))
        weight = g.add_param(f"{node.name}.weight_standardized", kernel)
        node.op = "Conv"
        node.inputs = [node.inputs[0], weight] + node.inputs[3:4]
        node.attrs = {k: v for k, v in node.attrs.items() if k != "epsilon"}
    g.drop_unused_params()
    return g


def channel_factors(g: Graph, mul: Node) -> tuple[str, np.ndarray] | None:
    """(activation input, one factor per channel) of a Mul by a constant that is a scalar or has one value per
    channel (shape [C], [C, 1, 1], ...); None for any other Mul."""
    if mul.op != "Mul" or len(mul.inputs) != 2:
        return None
    params = [v for v in mul.inputs if g.is_param(v)]
    acts = [v for v in mul.inputs if not g.is_param(v)]
    if len(params) != 1 or len(acts) != 1 or acts[0] not in g.types:
        return None
    factor, shape = g.params[params[0]].astype(np.float64), g.types[acts[0]].shape
    if factor.size == 1:
        return acts[0], np.full(shape[0], float(factor.reshape(-1)[0]))
    if factor.ndim == len(shape) and factor.shape[0] == shape[0] and factor.size == shape[0]:
        return acts[0], factor.reshape(-1)
    return None


def canonical_weighted(node: Node | None) -> bool:
    """A Conv, or a Gemm in the form W [out, in] (transB = 1, alpha = beta = 1): one weight row per output."""
    if node is None or node.op not in WEIGHTED:
        return False
    a = node.attrs
    return node.op == "Conv" or (a.get("transB", 0) == 1 and a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0)


def _scaled_params(g: Graph, weighted: Node, factor: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    weight = g.param_of(weighted, 1).astype(np.float64)
    bias = g.param_of(weighted, 2)
    shape = (-1,) + (1,) * (weight.ndim - 1)
    scaled_bias = None if bias is None else (bias.astype(np.float64) * factor).astype(np.float32)
    return (weight * factor.reshape(shape)).astype(np.float32), scaled_bias


def fold_channel_scales(g: Graph, ctx) -> Graph:
    """Fold a per-channel (or scalar) Mul into the Conv/Gemm right before it when the Mul is that node's only
    consumer: W[o] <- s[o] W[o], b[o] <- s[o] b[o] (a Gemm only in the form W [out, in]). Keeps: outputs equal
    (atol 1e-5)."""
    g = g.copy()
    for mul in g.find("Mul"):
        found = channel_factors(g, mul)
        producer = g.producer(found[0]) if found else None
        if not canonical_weighted(producer) or found[0] in g.outputs:
            continue
        if len(g.consumers(found[0])) != 1:
            continue
        weight, bias = _scaled_params(g, producer, found[1])
        g.set_param(producer, 1, weight)
        if bias is not None:
            g.set_param(producer, 2, bias)
        g.remove(mul)
    return g


def current_terms(g: Graph, value: str) -> list[tuple[Node, np.ndarray | None]] | None:
    """The synapse paths summed into ``value``: (Conv/Gemm node, per-channel factor or None), left to right; None
    when the value is anything but a tree of Add / Sum / per-channel Mul over Conv/Gemm outputs."""
    producer = g.producer(value)
    if producer is None:
        return None
    if producer.op in WEIGHTED:
        return [(producer, None)] if canonical_weighted(producer) else None
    if producer.op in CURRENT_SUMS and not any(g.is_param(v) for v in producer.inputs):
        terms: list = []
        for v in producer.inputs:
            inner = current_terms(g, v)
            if inner is None:
                return None
            terms.extend(inner)
        return terms
    found = channel_factors(g, producer)
    if found is None:
        return None
    inner = current_terms(g, found[0])
    if inner is None:
        return None
    return [(node, found[1] if f is None else f * found[1]) for node, f in inner]


def _already_flat(g: Graph, neuron: Node, terms: list) -> bool:
    """One Conv/Gemm, or one Add/Sum of Conv/Gemm outputs, each read by this layer only and unscaled."""
    if any(f is not None for _, f in terms) or len({n.name for n, _ in terms}) != len(terms):
        return False
    if any(len(g.consumers(n.outputs[0])) != 1 for n, _ in terms):
        return False
    producer = g.producer(neuron.inputs[0])
    return producer.op in WEIGHTED or all(g.producer(v).op in WEIGHTED for v in producer.inputs)


def _path_copy(g: Graph, weighted: Node, factor: np.ndarray | None, neuron: Node) -> Node:
    name = g.unique_name(f"{weighted.name}_to_{neuron.name}")
    copy = Node(weighted.op, name, list(weighted.inputs), [g.unique_name(f"{name}_out")], dict(weighted.attrs))
    weight, bias = _scaled_params(g, weighted, np.ones(1) if factor is None else factor)
    copy.inputs[1] = g.add_param(f"{name}.weight", weight)
    if bias is not None:
        copy.inputs[2] = g.add_param(f"{name}.bias", bias)
    g.types[copy.outputs[0]] = g.types[weighted.outputs[0]]
    return copy


def remove_dead_nodes(g: Graph) -> None:
    """Drop nodes whose outputs nothing reads (in place), repeatedly, and the parameters only they read."""
    while True:
        used = {v for n in g.nodes for v in n.inputs} | set(g.outputs)
        dead = [n for n in g.nodes if not any(o in used for o in n.outputs)]
        if not dead:
            break
        for n in dead:
            g.nodes.remove(n)
            for o in n.outputs:
                g.types.pop(o, None)
    g.drop_unused_params()


def expand_current_sums(g: Graph, ctx) -> Graph:
    """Give every neuron layer whose input is a tree of sums and per-channel scales over Conv/Gemm outputs one Sum
    of its own synapse paths (module docstring). Keeps: outputs equal up to float rounding."""
    g = g.copy()
    for neuron in g.find(*NEURON_INPUTS):
        terms = current_terms(g, neuron.inputs[0])
        if terms is None or _already_flat(g, neuron, terms):
            continue
        copies = [_path_copy(g, node, factor, neuron) for node, factor in terms]
        new = list(copies)
        if len(copies) == 1:
            neuron.inputs[0] = copies[0].outputs[0]
        else:
            total = g.unique_name(f"{neuron.name}_input")
            new.append(Node("Sum", g.unique_name(f"{neuron.name}_sum"), [c.outputs[0] for c in copies], [total]))
            g.types[total] = g.types[copies[0].outputs[0]]
            neuron.inputs[0] = total
        at = g.nodes.index(neuron)
        g.nodes[at:at] = new
    remove_dead_nodes(g)
    return g
