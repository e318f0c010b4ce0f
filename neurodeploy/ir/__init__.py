"""The neurodeploy IR: typed graph, op registry, checker, reference semantics and .onnx files."""
from __future__ import annotations

from neurodeploy.ir.check import check_graph, infer_shapes
from neurodeploy.ir.graph import Graph, Node, TensorType

__all__ = ["Graph", "Node", "TensorType", "check_graph", "infer_shapes"]
