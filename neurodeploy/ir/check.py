"""Graph checker and shape inference.

``check_graph`` finds every structural problem at once (unknown ops, bad attributes, dangling or doubly
defined values, parameters where activations belong, parameters that are not finite real numbers) and then
infers types, so a graph that passes it can be run by the reference simulator. ``infer_shapes`` fills
``Graph.types`` and raises on the first shape mismatch, naming the node.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.ir.ops import OPS, attr_problems, resolve_attrs


def _structure_problems(g: Graph) -> list[str]:
    problems, defined = [], set(g.inputs) | set(g.params)
    for name in set(g.inputs) & set(g.params):
        problems.append(f"value '{name}' is both a graph input and a parameter")
    seen_nodes = set()
    for node in g.nodes:
        if node.name in seen_nodes:
            problems.append(f"{node}: node name used twice")
        seen_nodes.add(node.name)
        op = OPS.get(node.op)
        if op is None:
            problems.append(f"{node}: unknown op '{node.op}'")
            continue
        problems += attr_problems(op, node)
        n_in, n_out = len(node.inputs), len(node.outputs)
        if not op.n_inputs[0] <= n_in <= op.n_inputs[1]:
            problems.append(f"{node}: takes {op.n_inputs[0]}..{op.n_inputs[1]} inputs, got {n_in}")
        if not op.n_outputs[0] <= n_out <= op.n_outputs[1] or "" in node.outputs:
            problems.append(f"{node}: has {op.n_outputs[0]}..{op.n_outputs[1]} (named) outputs, got {node.outputs}")
        for i, value in enumerate(node.inputs):
            if value and value not in defined:
                problems.append(f"{node}: input '{value}' is not defined before this node")
            if i in op.param_inputs and value and value not in g.params:
                problems.append(f"{node}: input {i} ('{value}') must be a parameter")
            if i not in op.param_inputs and i == 0 and value in g.params:
                problems.append(f"{node}: input 0 ('{value}') must be an activation, not a parameter")
        for value in node.outputs:
            if value in defined:
                problems.append(f"{node}: output '{value}' is defined twice")
            defined.add(value)
    if not g.outputs:
        problems.append("the graph has no outputs")
    for value in sorted({v for v in g.outputs if g.outputs.count(v) > 1}):
        problems.append(f"graph output '{value}' is listed twice")
    for value in g.outputs:
        if value in g.params:
            problems.append(f"graph output '{value}' is a parameter (a constant), not computed from the inputs")
        elif value in g.inputs:
            problems.append(f"graph output '{value}' is a graph input: the graph computes nothing")
        elif value not in defined:
            problems.append(f"graph output '{value}' is not produced by any node")
    for name, t in g.inputs.items():
        if any(d < 1 for d in t.shape):
            problems.append(f"graph input '{name}' has per-sample shape {list(t.shape)}; every dim must be >= 1")
    return problems + _param_problems(g)


def _param_problems(g: Graph) -> list[str]:
    """Parameters that are not finite real numbers, each named with the nodes that read it.

    NaN weights would otherwise flow into thresholds and reports (NaN is not valid JSON) without a word.
    """
    problems = []
    users = lambda name: ", ".join(str(n) for n in g.consumers(name)) or "no node"  # looked up for problems only
    for name, array in g.params.items():
        array = np.asarray(array)
        if array.dtype.kind not in "biuf":
            problems.append(f"parameter '{name}' (used by {users(name)}) has element type {array.dtype}; "
                            "only real numbers are supported")
        elif array.dtype.kind == "f" and not np.isfinite(array).all():
            nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
            problems.append(f"parameter '{name}' (used by {users(name)}) is not finite: {nan} NaN and {inf} Inf "
                            f"of {array.size} values")
    return problems


def infer_node(g: Graph, node: Node) -> list[TensorType]:
    """Output types of one node from the types already in ``g.types``."""
    op = OPS[node.op]
    missing = [None] * (op.n_inputs[1] - len(node.inputs))  # absent optional inputs
    types = [None if (not v or v in g.params) else g.types[v] for v in node.inputs] + missing
    params = [g.params.get(v) if v else None for v in node.inputs] + missing
    return op.infer(node, types, params, resolve_attrs(op, node))


def infer_shapes(g: Graph) -> Graph:
    """Fill ``g.types`` for every value, in place; returns ``g`` so it can sit in a pass list."""
    g.types = dict(g.inputs)
    for node in g.nodes:
        for value, t in zip(node.outputs, infer_node(g, node)):
            g.types[value] = t
    return g


def check_graph(g: Graph) -> None:
    """Raise :class:`GraphError` listing every problem in ``g``; on success ``g.types`` is filled."""
    problems = _structure_problems(g)
    if problems:
        raise GraphError(f"graph '{g.name}' is invalid ({len(problems)} problems):", problems)
    infer_shapes(g)
