"""Small builders used by several test modules."""
from __future__ import annotations

import numpy as np

from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType


def single_op_graph(op: str, input_shape: tuple, params: list | None = None, attrs: dict | None = None,
                    timed: bool = False, second_input: bool = False) -> Graph:
    """x -> op(x [, y], *params) -> out, checked."""
    g = Graph([], {"x": TensorType(tuple(input_shape), timed=timed)}, ["out"])
    inputs = ["x"]
    if second_input:
        g.inputs["y"] = TensorType(tuple(input_shape), timed=timed)
        inputs.append("y")
    for i, p in enumerate(params or []):
        inputs.append(g.add_param(f"p{i}", np.asarray(p)) if p is not None else "")
    g.nodes.append(Node(op, "node", inputs, ["out"], attrs or {}))
    check_graph(g)
    return g


def torch_output(module, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module.eval()(torch.from_numpy(x)).numpy()
