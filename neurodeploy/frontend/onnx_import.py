"""Read ``.onnx`` files into the IR: files written by neurodeploy and files written by ``torch.onnx.export``.

Ops in the registry are taken as they are (attributes cast by their schema). A few export artefacts are
translated: ``Constant`` becomes a parameter, ``MatMul`` by a constant becomes ``Gemm``, and shape
arithmetic (``Shape -> Gather -> Unsqueeze -> Concat``, as ``x.view(x.size(0), -1)`` exports) is folded to a
constant, with the batch axis written as 0 ("copy the batch axis"). Every other op is reported, all of them
in one error. Content the IR cannot mean anything with (opsets it does not know, initializers that are not
real numbers, shape arithmetic that does not evaluate, inputs without fixed sizes) is refused with every
problem listed, each naming the node, input or initializer.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurodeploy.errors import GraphError, InputError, UnsupportedError
from neurodeploy.ir.check import check_graph, infer_shapes
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.ir.ops import NEURO_DOMAIN, OPS
from neurodeploy.ir.onnx_file import META_KEY, NEURO_OPSET, TIME_AXIS

# Default-domain opsets read: 7 is the oldest torch 2.3 exports, 28 the newest onnx 1.23 defines. Every op read
# or folded here means the same for real numbers in all of them (later versions only add element types and
# attributes, e.g. AveragePool-19's dilations, which the op schemas refuse as unknown attributes). A newer
# opset may change that meaning, so it is refused rather than guessed at.
OLDEST_OPSET, NEWEST_OPSET = 7, 28
_FOLDABLE = ("Constant", "Shape", "Gather", "Unsqueeze", "Concat", "Cast", "Squeeze")
_META_COUNTS = ("num_steps", "latency_steps", "pipeline_depth")  # read as integers by simulators and reports


def _tensor_types():
    from onnx import TensorProto as T

    return {T.FLOAT, T.DOUBLE, T.FLOAT16, T.INT8, T.INT16, T.INT32, T.INT64, T.UINT8, T.UINT16, T.UINT32,
            T.UINT64, T.BOOL}


def _type_name(elem_type: int) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"unknown ({elem_type})"


def _attr_dict(onnx_node) -> dict:
    from onnx import helper

    out = {}
    for a in onnx_node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        elif isinstance(value, list):
            value = tuple(v.decode(errors="replace") if isinstance(v, bytes) else v for v in value)
        out[a.name] = value
    return out


def _cast_attrs(node_attrs: dict, op_name: str) -> dict:
    """Cast ONNX attribute values to the Python types the op schema declares (ints back to bool, ...)."""
    schema = OPS[op_name].attrs
    out = {}
    for key, value in node_attrs.items():
        kind = schema[key].type if key in schema else None
        if kind == "bool" and isinstance(value, int):
            value = bool(value)
        elif kind in ("ints", "floats") and isinstance(value, (int, float)):
            value = (value,)
        out[key] = value
    return out


def _value_type(vi) -> TensorType:
    from onnx import TensorProto

    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type"):
        raise InputError(f"input '{vi.name}' is not a tensor")
    if tt.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
        raise InputError(f"input '{vi.name}' has element type {_type_name(tt.elem_type)}; only float inputs are "
                         "supported")
    dims = [d.dim_param if d.dim_param else d.dim_value for d in tt.shape.dim]
    timed = len(dims) >= 2 and dims[0] == TIME_AXIS
    per_sample = dims[2:] if timed else dims[1:]
    if not dims or any(not isinstance(d, int) or d <= 0 for d in per_sample):
        raise InputError(f"input '{vi.name}' needs a batch axis and fixed per-sample dims >= 1, got {dims}")
    return TensorType(tuple(per_sample), "float32", timed)


def _opset_problems(model) -> list[str]:
    problems = []
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and not OLDEST_OPSET <= imp.version <= NEWEST_OPSET:
            age = "newer than the newest" if imp.version > NEWEST_OPSET else "older than the oldest"
            problems.append(f"ONNX opset {imp.version} is {age} this importer knows ({OLDEST_OPSET}..{NEWEST_OPSET}); "
                            f"export with opset_version={min(max(imp.version, OLDEST_OPSET), NEWEST_OPSET)}")
        elif imp.domain == NEURO_DOMAIN and imp.version != NEURO_OPSET:
            problems.append(f"domain '{NEURO_DOMAIN}' version {imp.version} is not the one this neurodeploy "
                            f"writes and reads ({NEURO_OPSET})")
    return problems


def _undecodable_strings(message, where: str = "model") -> list[str]:
    """Paths of string fields that are not valid UTF-8: protobuf (upb) hands those back as bytes, which would
    end up in names, messages and in the files neurodeploy writes."""
    from google.protobuf.descriptor import FieldDescriptor

    found = []
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        if field.type == FieldDescriptor.TYPE_STRING:
            found += [f"{where}.{field.name}" for v in values if not isinstance(v, str)]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for i, v in enumerate(values):
                found += _undecodable_strings(v, f"{where}.{field.name}[{i}]" if len(values) > 1 else
                                              f"{where}.{field.name}")
    return found


def _reject_constant(token: str):
    raise ValueError(f"{token} is not a finite number")


def _meta(props: dict, source: str) -> dict:
    """``Graph.meta`` from the file's metadata: a JSON object of finite numbers, counts that are counts."""
    if META_KEY not in props:
        return {}
    try:
        meta = json.loads(props[META_KEY], parse_constant=_reject_constant)
    except ValueError as e:
        raise InputError(f"{source}: metadata '{META_KEY}' is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{source}: metadata '{META_KEY}' must be a JSON object, got {type(meta).__name__}")
    problems = [f"'{key}' must be a count (an integer >= 1), got {meta[key]!r}" for key in _META_COUNTS
                if key in meta and (not isinstance(meta[key], int) or isinstance(meta[key], bool) or meta[key] < 1)]
    if "passes" in meta and not (isinstance(meta["passes"], list) and all(isinstance(p, str) for p in meta["passes"])):
        problems.append("'passes' must be a list of pass names")
    if problems:
        raise InputError(f"{source}: metadata '{META_KEY}' is inconsistent", problems)
    return meta


# elementwise ops that torch.onnx.export writes for the unrolled state updates of third-party spiking neurons
_NEURON_STATE_OPS = {"Greater", "GreaterOrEqual", "Less", "Where", "Heaviside", "Sub", "Cast", "Clip", "Sigmoid"}


def _supported_ops() -> str:
    from neurodeploy.ir.ops import MODEL_OPS

    onnx_ops = sorted({op for op in MODEL_OPS if not OPS[op].domain} | set(_FOLDABLE) | {"MatMul"})
    spiking = sorted(op for op in MODEL_OPS if OPS[op].domain)
    return (f"the ONNX ops neurodeploy imports are {', '.join(onnx_ops)}; its spiking ops (domain "
            f"'{NEURO_DOMAIN}') are {', '.join(spiking)}")


def _spiking_hint(model) -> str:
    """For an SNN of another library exported with torch.onnx: what to do instead."""
    ops = {n.op_type for n in model.graph.node}
    if len(ops & _NEURON_STATE_OPS) < 2:
        return ""
    return (". This looks like a spiking network whose neuron updates were unrolled into elementwise ops "
            "(snnTorch, Norse, ...): export it to NIR (snntorch.export_nir.export_to_nir, norse.torch.to_nir) and compile the "
            ".nir file, or build it from neurodeploy.nn layers")


class _Importer:
    """Walks one ONNX graph once, building IR nodes and folding constants.

    ``problems`` collects content errors (each names its node, input or initializer); values that could
    not be computed are remembered in ``failed`` so that their consumers do not repeat the same error.
    """

    def __init__(self, model, source: str) -> None:
        self.model, self.source = model, source
        self.problems: list[str] = []
        self.unsupported: list[str] = []
        self.failed: set[str] = set()
        self.params = self._initializers(model.graph)
        self.inputs = self._inputs(model.graph)
        self.shapes = {name: t.shape for name, t in self.inputs.items()}
        self.nodes: list[Node] = []

    def _initializers(self, graph) -> dict[str, np.ndarray]:
        from onnx import numpy_helper

        params, supported = {}, _tensor_types()
        for t in graph.sparse_initializer:
            self.problems.append(f"sparse initializer '{t.values.name}' is not supported (store it dense)")
            self.failed.add(t.values.name)
        for t in graph.initializer:
            if t.data_type not in supported:
                self.problems.append(f"initializer '{t.name}' has element type {_type_name(t.data_type)}; supported "
                                     "are float16/32/64, (unsigned) integers and bool")
            elif t.name in params:
                self.problems.append(f"initializer '{t.name}' is defined twice")
            else:
                try:
                    params[t.name] = numpy_helper.to_array(t)
                    continue
                except Exception as e:  # size/dims mismatch, bad raw data: protobuf decoding errors vary
                    self.problems.append(f"initializer '{t.name}' cannot be read ({type(e).__name__}: {e})")
            self.failed.add(t.name)
        return params

    def _inputs(self, graph) -> dict[str, TensorType]:
        inputs = {}
        for vi in graph.input:
            if vi.name in self.params or vi.name in self.failed:
                continue  # an initializer listed as an input (IR version < 4): a constant
            if vi.name in inputs:
                self.problems.append(f"input '{vi.name}' is listed twice")
                continue
            try:
                inputs[vi.name] = _value_type(vi)
            except InputError as e:
                self.problems.append(str(e))
                self.failed.add(vi.name)
        return inputs

    def run(self) -> Graph:
        for position, onnx_node in enumerate(self.model.graph.node):
            self._convert(position, onnx_node)
        if self.problems:
            raise GraphError(f"{self.source}: the ONNX graph is invalid ({len(self.problems)} problem(s)):",
                             self.problems + self.unsupported)
        if self.unsupported:
            raise UnsupportedError(f"{self.source}: {len(self.unsupported)} unsupported node(s); {_supported_ops()}"
                                   + _spiking_hint(self.model), self.unsupported)
        outputs = [vi.name for vi in self.model.graph.output]
        props = {p.key: p.value for p in self.model.metadata_props}
        g = Graph(self.nodes, self.inputs, outputs, self.params, name=self.model.graph.name or Path(self.source).stem,
                  meta=_meta(props, self.source))
        g.meta.setdefault("source", self.source)
        g.drop_unused_params()
        return g

    def _convert(self, position: int, onnx_node) -> None:
        name = onnx_node.name or f"{onnx_node.op_type.lower()}_{position}"
        op, domain = onnx_node.op_type, onnx_node.domain
        inputs, outputs = list(onnx_node.input), list(onnx_node.output)
        if self.failed.intersection(inputs):
            self.failed.update(outputs)  # already reported where the value failed
            return
        try:
            attrs = _attr_dict(onnx_node)
        except Exception as e:  # an attribute onnx cannot decode (e.g. of type UNDEFINED)
            self._fail(f"node '{name}' ({op}): unreadable attribute ({type(e).__name__}: {e})", outputs)
            return
        if domain in ("", "ai.onnx") and op in _FOLDABLE and self._fold(name, op, inputs, outputs, attrs):
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

    def _fail(self, problem: str, outputs: list) -> None:
        self.problems.append(problem)
        self.failed.update(outputs)

    def _fold(self, name: str, op: str, inputs: list, outputs: list, attrs: dict) -> bool:
        """Evaluate shape arithmetic on constants; False when an input is not constant (the node stays)."""
        if op == "Shape":
            shape = self._value_shape(inputs[0]) if inputs else None
            if shape is None:
                return False
            value = _sliced_shape(shape, attrs)
        else:
            args = [self.params.get(v) for v in inputs if v]
            if any(a is None for a in args):
                return False
            bad = [v for v, a in zip(inputs, args) if a.dtype.kind == "f" and not np.isfinite(a).all()]
            if bad:
                self._fail(f"node '{name}' ({op}): input '{bad[0]}' is not finite (NaN or Inf)", outputs)
                return True
            try:
                value = _constant(attrs) if op == "Constant" else _FOLDERS[op](args, attrs)
            except (ValueError, IndexError, TypeError, KeyError) as e:  # np.AxisError is a ValueError
                what = f"{e}" if op == "Constant" else f"cannot evaluate it on its constant inputs ({e})"
                self._fail(f"node '{name}' ({op}): {what}", outputs)
                return True
        if len(outputs) != 1 or not outputs[0]:
            self._fail(f"node '{name}' ({op}): expects one named output, got {outputs}", outputs)
        elif outputs[0] in self.params or outputs[0] in self.inputs or self._produced(outputs[0]):
            self._fail(f"node '{name}' ({op}): output '{outputs[0]}' is already defined (an input, initializer or "
                       "another node's output)", outputs)
        else:
            self.params[outputs[0]] = np.asarray(value)
        return True

    def _produced(self, value: str) -> bool:
        return any(value in n.outputs for n in self.nodes)

    def _value_shape(self, value: str):
        """Full shape of a constant, or of an activation with its batch axis as 0 ("copy"); None when unknown."""
        if value in self.params:
            return self.params[value].shape
        if value in self.shapes:
            return (0,) + self.shapes[value]
        g = Graph(list(self.nodes), dict(self.inputs), [value], dict(self.params))
        try:
            return (0,) + infer_shapes(g).types[value].shape
        except (GraphError, KeyError):
            return None


def _sliced_shape(shape: tuple, attrs: dict) -> np.ndarray:
    """ONNX Shape: the dims from ``start`` to ``end`` (opset 15; Python slicing clamps and counts from the back
    exactly as ONNX does)."""
    start, end = int(attrs.get("start", 0)), int(attrs.get("end", len(shape)))
    return np.array(tuple(shape)[start:end], dtype=np.int64)


def _constant(attrs: dict) -> np.ndarray:
    from onnx import numpy_helper

    if "value" in attrs and hasattr(attrs["value"], "data_type"):
        if attrs["value"].data_type not in _tensor_types():
            raise ValueError(f"its value has element type {_type_name(attrs['value'].data_type)}")
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dtype=dtype)
    raise ValueError("it has no value neurodeploy can use (value, value_float(s) or value_int(s))")


def _gather(args, attrs):
    if args[1].dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got {args[1].dtype}")
    return np.take(args[0], args[1], axis=attrs.get("axis", 0))


def _axes(args: list, attrs: dict, key: str = "axes"):
    axes = args[1] if len(args) > 1 else attrs.get(key)
    return None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]


def _unsqueeze(args, attrs):
    axes, out = _axes(args, attrs), args[0]
    if axes is None:
        raise ValueError("axes are missing")
    rank = out.ndim + len(axes)
    normalized = sorted(a + rank if a < 0 else a for a in axes)  # negative axes count in the output's rank
    if len(set(normalized)) != len(normalized) or any(not 0 <= a < rank for a in normalized):
        raise ValueError(f"axes {axes} are out of range or repeated for an output of rank {rank}")
    for axis in normalized:
        out = np.expand_dims(out, axis)
    return out


def _squeeze(args, attrs):
    axes = _axes(args, attrs)
    return np.squeeze(args[0], axis=None if axes is None else tuple(axes))


def _cast(args, attrs):
    from onnx import helper

    if attrs.get("to") not in _tensor_types():
        raise ValueError(f"cast to element type {_type_name(attrs.get('to', 0))} is not supported")
    return np.asarray(args[0]).astype(helper.tensor_dtype_to_np_dtype(attrs["to"]))


_FOLDERS = {
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda args, attrs: np.concatenate([np.atleast_1d(a) for a in args], axis=attrs.get("axis", 0)),
    "Cast": _cast,
}


def _check_types(model, path: Path) -> None:
    """ONNX's own strict type and shape inference: an initializer or input whose element type or shape its
    operator does not accept (an int64 Gemm weight beside float activations) is refused, as ONNX runtimes do,
    instead of being cast in silence. Ops of the neurodeploy domain have no ONNX schema and are skipped by it."""
    import onnx

    try:
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:  # InferenceError, ValidationError: the first line names the op and the input
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{path}: inconsistent ONNX model ({first})") from None


def load_onnx(path: str | Path) -> Graph:
    """Read and check an ``.onnx`` file; errors name the file and every offending node."""
    import onnx

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an .onnx file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # protobuf DecodeError, ValidationError, ...: all mean "not a usable ONNX file"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{path}: not a valid ONNX model ({first})") from None
    broken = _undecodable_strings(model)
    if broken:
        raise InputError(f"{path}: not a valid ONNX model (text that is not UTF-8 at {', '.join(broken[:3])})")
    problems = _opset_problems(model)
    if problems:
        raise UnsupportedError(f"{path}: the model uses operator sets neurodeploy does not know:", problems)
    if not model.graph.node:
        raise InputError(f"{path}: the ONNX model has no nodes")
    if not model.graph.output:
        raise InputError(f"{path}: the ONNX graph has no outputs")
    g = _Importer(model, str(path)).run()
    try:
        check_graph(g)
    except GraphError as e:
        raise GraphError(f"{path}: {e}", []) from None
    _check_types(model, path)  # last: the checks above name node and element, ONNX's own only the op type
    return g
