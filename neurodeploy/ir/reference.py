"""The reference interpreter: runs a graph with each op's numpy reference. This defines what the IR means.

Stateless ops see timed values with the time axis folded into the batch axis ([T*N, ...]), so a whole
spiking layer is computed for every step at once; neuron ops loop over time themselves.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from neurodeploy.errors import InputError
from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.ops import OPS, resolve_attrs


def check_feeds(g: Graph, feeds: dict[str, np.ndarray]) -> None:
    """Raise InputError unless every graph input is fed with an array of shape [N, *shape]."""
    problems = []
    for name, t in g.inputs.items():
        if name not in feeds:
            problems.append(f"input '{name}' is missing (expects per-sample shape {list(t.shape)})")
            continue
        got = tuple(np.shape(feeds[name]))
        lead = 2 if t.timed else 1
        if got[lead:] != t.shape or len(got) != len(t.shape) + lead:
            problems.append(
                f"input '{name}' expects shape [{'T, ' if t.timed else ''}N, "
                f"{', '.join(map(str, t.shape))}], got {list(got)}"
            )
    if problems:
        raise InputError(f"wrong input for graph '{g.name}'", problems)


def _last_uses(g: Graph) -> dict[str, int]:
    last = {}
    for i, node in enumerate(g.nodes):
        for v in node.inputs:
            last[v] = i
    return last


def _apply(g: Graph, node, args: list) -> list[np.ndarray]:
    op = OPS[node.op]
    attrs = resolve_attrs(op, node)
    timed = [a for v, a in zip(node.inputs, args) if v and v not in g.params and g.types[v].timed]
    if op.kind != "ann" or not timed:
        return op.ref(args, attrs)
    steps, batch = timed[0].shape[:2]
    folded = [
        a.reshape((steps * batch,) + a.shape[2:]) if v and v not in g.params and g.types[v].timed else a
        for v, a in zip(node.inputs, args)
    ]
    return [y.reshape((steps, batch) + y.shape[1:]) for y in op.ref(folded, attrs)]


def run(g: Graph, feeds: dict[str, np.ndarray], keep: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Run ``g`` on ``feeds``; returns the graph outputs plus every value named in ``keep``."""
    if set(g.types) < set(g.inputs) | {v for n in g.nodes for v in n.outputs}:
        infer_shapes(g)
    check_feeds(g, feeds)
    keep = set(keep) | set(g.outputs)
    env = {name: np.asarray(feeds[name], dtype=np.int64 if t.dtype.startswith("int") else np.float32)
           for name, t in g.inputs.items()}
    last = _last_uses(g)
    for i, node in enumerate(g.nodes):
        args = [g.params[v] if v in g.params else (env[v] if v else None) for v in node.inputs]
        for value, out in zip(node.outputs, _apply(g, node, args)):
            env[value] = out
        for v in set(node.inputs):
            if last.get(v) == i and v not in keep and v in env:
                del env[v]
    return {v: env[v] for v in keep}
