"""Read ``.onnx`` files into the IR: files written by neurodeploy and files written by ``torch.onnx.export``.

Ops in the registry are taken as they are (attributes cast by their schema). A few export artefacts are
translated: ``Constant`` becomes a parameter, ``MatMul`` by a constant becomes ``Gemm``, and shape
arithmetic (``Shape -> Gather -> Unsqueeze -> Concat``, as ``x.view(x.size(0), -1)`` exports) is folded to a
constant, with the batch axis written as 0 ("copy the batch axis"). Every other op is reported, all of them
in one error.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurodeploy.errors import GraphError, InputError, UnsupportedError
from neurodeploy.ir.check import check_graph, infer_shapes
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.ir.ops import OPS
from neurodeploy.ir.onnx_file import META_KEY, TIME_AXIS

_FOLDABLE = ("Constant", "Shape", "Gather", "Unsqueeze", "Concat", "Cast", "Squeeze")


def _attr_dict(onnx_node) -> dict:
    from onnx import helper

    out = {}
    for a in onnx_node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list):
            value = tuple(v.decode() if isinstance(v, bytes) else v for v in value)
        out[a.name] = value
    return out


def _cast_attrs(node_attrs: dict, op_name: str) -> dict:
    """Cast ONNX attribute values to the Python types the op schema declares (ints back to bool, ...)."""
    schema = OPS[op_name].attrs
    out = {}
    for key, value in node_attrs.items():
        kind = schema[key].type if key in schema else None
        if kind == "bool":
            value = bool(value)
        elif kind in ("ints", "floats") and not isinstance(value, tuple):
            value = (value,)
        out[key] = value
    return out


def _value_type(vi) -> TensorType:
    from onnx import TensorProto

    tt = vi.type.tensor_type
    if tt.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
        raise InputError(f"input '{vi.name}' has element type {tt.elem_type}; only float inputs are supported")
    dims = [d.dim_param if d.dim_param else d.dim_value for d in tt.shape.dim]
    timed = len(dims) >= 2 and dims[0] == TIME_AXIS
    per_sample = dims[2:] if timed else dims[1:]
    if not dims or any(not isinstance(d, int) or d <= 0 for d in per_sample):
        raise InputError(f"input '{vi.name}' needs a batch axis and fixed per-sample dims, got {dims}")
    return TensorType(tuple(per_sample), "float32", timed)


class _Importer:
    """Walks one ONNX graph once, building IR nodes and folding constants."""

    def __init__(self, model, source: str) -> None:
        from onnx import numpy_helper

        self.model, self.source = model, source
        self.params = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.inputs = {vi.name: _value_type(vi) for vi in model.graph.input if vi.name not in self.params}
        self.shapes = {name: t.shape for name, t in self.inputs.items()}
        self.nodes: list[Node] = []
        self.unsupported: list[str] = []

    def run(self) -> Graph:
        for position, onnx_node in enumerate(self.model.graph.node):
            self._convert(position, onnx_node)
        if self.unsupported:
            raise UnsupportedError(
                f"{self.source}: {len(self.unsupported)} unsupported node(s); supported ops are "
                f"{', '.join(sorted(OPS))}", self.unsupported)
        outputs = [vi.name for vi in self.model.graph.output]
        meta = {p.key: p.value for p in self.model.metadata_props}
        g = Graph(self.nodes, self.inputs, outputs, self.params, name=self.model.graph.name or Path(self.source).stem,
                  meta=json.loads(meta[META_KEY]) if META_KEY in meta else {})
        g.meta.setdefault("source", self.source)
        g.drop_unused_params()
        return g

    def _convert(self, position: int, onnx_node) -> None:
        name = onnx_node.name or f"{onnx_node.op_type.lower()}_{position}"
        op, domain, attrs = onnx_node.op_type, onnx_node.domain, _attr_dict(onnx_node)
        inputs, outputs = list(onnx_node.input), list(onnx_node.output)
        if domain in ("", "ai.onnx") and op in _FOLDABLE and self._fold(op, inputs, outputs, attrs):
            return
        if domain in ("", "ai.onnx") and op == "MatMul" and len(inputs) == 2 and inputs[1] in self.params:
            self.nodes.append(Node("Gemm", name, inputs, outputs, {}))
            return
        known = OPS.get(op)
        if known is None or known.domain != ("" if domain == "ai.onnx" else domain):
            where = f"domain '{domain}'" if domain else "ONNX"
            self.unsupported.append(f"node '{name}' (op {op}, {where}) at position {position}")
            return
        self.nodes.append(Node(op, name, inputs, outputs, _cast_attrs(attrs, op)))
        if known.kind == "ann" and len(outputs) > 1:  # e.g. Dropout's optional mask: keep the data output only
            self.nodes[-1].outputs = outputs[:1]

    def _fold(self, op: str, inputs: list, outputs: list, attrs: dict) -> bool:
        """Evaluate shape arithmetic on constants; False when an input is not constant."""
        if op == "Constant":
            from onnx import numpy_helper

            value = attrs.get("value")
            self.params[outputs[0]] = numpy_helper.to_array(value) if value is not None else np.asarray(
                attrs.get("value_float", attrs.get("value_int", attrs.get("value_ints"))))
            return True
        if op == "Shape":
            shape = self._activation_shape(inputs[0])
            if shape is None:
                return False
            self.params[outputs[0]] = np.array((0,) + tuple(shape), dtype=np.int64)
            return True
        args = [self.params.get(v) for v in inputs]
        if any(a is None for a in args):
            return False
        self.params[outputs[0]] = _FOLDERS[op](args, attrs)
        return True

    def _activation_shape(self, value: str):
        if value in self.shapes:
            return self.shapes[value]
        g = Graph(list(self.nodes), dict(self.inputs), [value], dict(self.params))
        try:
            return infer_shapes(g).types[value].shape
        except (GraphError, KeyError):
            return None


def _gather(args, attrs):
    return np.take(args[0], args[1], axis=attrs.get("axis", 0))


def _unsqueeze(args, attrs):
    axes = args[1] if len(args) > 1 else attrs["axes"]
    out = args[0]
    for axis in sorted(int(a) for a in np.asarray(axes).reshape(-1)):
        out = np.expand_dims(out, axis)
    return out


def _squeeze(args, attrs):
    axes = args[1] if len(args) > 1 else attrs.get("axes")
    return np.squeeze(args[0], axis=None if axes is None else tuple(int(a) for a in np.asarray(axes).reshape(-1)))


_FOLDERS = {
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda args, attrs: np.concatenate([np.atleast_1d(a) for a in args], axis=attrs.get("axis", 0)),
    "Cast": lambda args, attrs: np.asarray(args[0]),
}


def load_onnx(path: str | Path) -> Graph:
    """Read and check an ``.onnx`` file; errors name the file and every offending node."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # protobuf DecodeError, ValidationError, ...: all mean "not a usable ONNX file"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{path}: not a valid ONNX model ({first})") from None
    if not model.graph.node:
        raise InputError(f"{path}: the ONNX model has no nodes")
    g = _Importer(model, str(path)).run()
    try:
        check_graph(g)
    except GraphError as e:
        raise GraphError(f"{path}: {e}", []) from None
    return g

