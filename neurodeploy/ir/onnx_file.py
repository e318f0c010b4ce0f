"""Write an IR graph as an ``.onnx`` file (reading is :mod:`neurodeploy.frontend.onnx_import`).

ANN ops keep their ONNX names in the default domain (opset 17); neuromorphic ops go in the custom domain
``ai.neurodeploy`` (version 1), so the file passes ``onnx.checker`` and opens in Netron. Value shapes are
written with symbolic leading axes: ``[N, ...]`` for per-sample values, ``[T, N, ...]`` for timed ones.
``Graph.meta`` travels as JSON in the model's metadata under ``neurodeploy.meta``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, TensorType
from neurodeploy.ir.ops import NEURO_DOMAIN, OPS

ONNX_OPSET = 17
NEURO_OPSET = 1
META_KEY = "neurodeploy.meta"
TIME_AXIS, BATCH_AXIS = "T", "N"


def json_default(value):
    """JSON encoder hook for numpy scalars and arrays found in metadata and reports."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def _dims(t: TensorType) -> list:
    return ([TIME_AXIS] if t.timed else []) + [BATCH_AXIS] + list(t.shape)


def _onnx_attrs(attrs: dict) -> dict:
    out = {}
    for key, value in attrs.items():
        if value is None:
            continue
        out[key] = int(value) if isinstance(value, bool) else (list(value) if isinstance(value, tuple) else value)
    return out


def to_onnx(g: Graph):
    """Build a checked ``onnx.ModelProto`` from ``g``."""
    import onnx
    from onnx import helper, numpy_helper

    from neurodeploy import __version__

    check_graph(g)
    value_info = lambda name: helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, _dims(g.types[name]))
    nodes = [
        helper.make_node(n.op, n.inputs, n.outputs, name=n.name, domain=OPS[n.op].domain, **_onnx_attrs(n.attrs))
        for n in g.nodes
    ]
    graph_outputs = set(g.outputs) | set(g.inputs)
    graph = helper.make_graph(
        nodes,
        g.name,
        inputs=[value_info(name) for name in g.inputs],
        outputs=[value_info(name) for name in g.outputs],
        initializer=[numpy_helper.from_array(np.asarray(a), name) for name, a in g.params.items()],
        value_info=[value_info(v) for n in g.nodes for v in n.outputs if v not in graph_outputs],
    )
    opsets = [helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid(NEURO_DOMAIN, NEURO_OPSET)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="neurodeploy", producer_version=__version__)
    helper.set_model_props(model, {META_KEY: json.dumps(g.meta, default=json_default)})
    onnx.checker.check_model(model)
    return model


def save_onnx(g: Graph, path: str | os.PathLike) -> Path:
    """Write ``g`` to ``path`` atomically (a temporary file renamed into place)."""
    import onnx

    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    onnx.save_model(to_onnx(g), str(tmp))
    os.replace(tmp, path)
    return path
