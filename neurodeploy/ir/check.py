"""Graph checker and shape inference.

``check_graph`` finds every structural problem at once (unknown ops, bad attributes, dangling or doubly
defined values, parameters where activations belong) and then infers types, so a graph that passes it can be
run by the reference simulator. ``infer_shapes`` fills ``Graph.types`` and raises on the first shape
mismatch, naming the node.
"""
from __future__ import annotations

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
        n_in = len(node.inputs)
        if not op.n_inputs[0] <= n_in <= op.n_inputs[1]:
            problems.append(f"{node}: takes {op.n_inputs[0]}..{op.n_inputs[1]} inputs, got {n_in}")
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
    for value in g.outputs:
        if value not in defined:
            problems.append(f"graph output '{value}' is not produced by any node")
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
