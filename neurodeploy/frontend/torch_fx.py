"""Lower a ``torch.nn.Module`` to the IR through ``torch.fx`` symbolic tracing.

One handler per supported module type, function or tensor method, in explicit tables. Every node that no
handler takes is collected, and all of them are reported in one :class:`UnsupportedError` (name, what it
is, position in the traced graph). Types are inferred node by node, so a wrong input shape stops at the
first layer that cannot take it, with that layer's name.
"""
from __future__ import annotations

import operator
from typing import Callable

import numpy as np

from neurodeploy.errors import UnsupportedError
from neurodeploy.ir.check import check_graph, infer_node
from neurodeploy.ir.graph import Graph, Node, TensorType

BATCH = "batch-size"  # stands for x.size(0) in view/reshape arguments


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


def _np(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


class _Lowering:
    """State of one lowering: the IR graph under construction and the fx value -> IR value map."""

    def __init__(self, name: str, input_shape: tuple[int, ...]) -> None:
        self.g = Graph([], {}, [], name=name)
        self.input_shape = tuple(input_shape)
        self.values: dict[str, object] = {}  # fx node name -> IR value name, or a folded constant
        self.unsupported: list[str] = []

    def emit(self, op: str, name: str, inputs: list, attrs: dict | None = None, params: dict | None = None) -> str:
        """Append one IR node reading ``inputs`` (IR values) then ``params`` (arrays, in order)."""
        names = list(inputs)
        for role, array in (params or {}).items():
            names.append(self.g.add_param(f"{name}.{role}", np.asarray(array)) if array is not None else "")
        while names and names[-1] == "":
            names.pop()
        node = Node(op, self.g.unique_name(name), names, [self.g.unique_name(f"{name}_out")],
                    {k: v for k, v in (attrs or {}).items() if v is not None})
        self.g.nodes.append(node)
        for value, t in zip(node.outputs, infer_node(self.g, node)):
            self.g.types[value] = t
        return node.outputs[0]

    def shape_of(self, value: str) -> tuple[int, ...]:
        return self.g.types[value].shape


# ------------------------------------------------------------------ module handlers


def _conv2d(lw: _Lowering, name: str, m, x: str) -> str:
    if m.padding_mode != "zeros":
        raise UnsupportedError(f"{name}: Conv2d padding_mode='{m.padding_mode}' (only 'zeros' is supported)")
    kh, kw = m.kernel_size
    if m.padding == "same":
        dh, dw = m.dilation[0] * (kh - 1), m.dilation[1] * (kw - 1)
        pads = (dh // 2, dw // 2, dh - dh // 2, dw - dw // 2)
    else:
        ph, pw = _pair(0 if m.padding == "valid" else m.padding)
        pads = (ph, pw, ph, pw)
    attrs = {"kernel_shape": (kh, kw), "strides": _pair(m.stride), "pads": pads,
             "dilations": _pair(m.dilation), "group": m.groups}
    bias = _np(m.bias) if m.bias is not None else None
    return lw.emit("Conv", name, [x], attrs, {"weight": _np(m.weight), "bias": bias})


def _linear(lw: _Lowering, name: str, m, x: str) -> str:
    bias = _np(m.bias) if m.bias is not None else None
    return lw.emit("Gemm", name, [x], {"transB": 1}, {"weight": _np(m.weight), "bias": bias})


def _batchnorm(lw: _Lowering, name: str, m, x: str) -> str:
    if not m.track_running_stats or m.running_mean is None:
        raise UnsupportedError(f"{name}: BatchNorm without running statistics cannot be deployed")
    n = m.num_features
    scale = _np(m.weight) if m.affine else np.ones(n, np.float32)
    shift = _np(m.bias) if m.affine else np.zeros(n, np.float32)
    params = {"scale": scale, "bias": shift, "mean": _np(m.running_mean), "var": _np(m.running_var)}
    return lw.emit("BatchNormalization", name, [x], {"epsilon": float(m.eps)}, params)


def _avgpool(lw: _Lowering, name: str, m, x: str) -> str:
    if m.ceil_mode or m.divisor_override is not None:
        raise UnsupportedError(f"{name}: AvgPool2d with ceil_mode or divisor_override is not supported")
    k = _pair(m.kernel_size)
    ph, pw = _pair(m.padding)
    attrs = {"kernel_shape": k, "strides": _pair(m.stride or k), "pads": (ph, pw, ph, pw),
             "count_include_pad": int(m.count_include_pad)}
    return lw.emit("AveragePool", name, [x], attrs)


def _adaptive_avgpool(lw: _Lowering, name: str, m, x: str) -> str:
    shape = lw.shape_of(x)
    if len(shape) != 3:
        raise UnsupportedError(f"{name}: AdaptiveAvgPool2d needs a [C, H, W] input per sample, got {list(shape)}")
    _, h, w = shape
    size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
    oh, ow = (h if s is None else int(s) for s in size)  # None keeps the input size
    if oh < 1 or ow < 1 or h % oh or w % ow:
        raise UnsupportedError(f"{name}: AdaptiveAvgPool2d from {h}x{w} to {oh}x{ow} is not a uniform pooling")
    k = (h // oh, w // ow)
    return lw.emit("AveragePool", name, [x], {"kernel_shape": k, "strides": k})


def _maxpool(lw: _Lowering, name: str, m, x: str) -> str:
    if m.ceil_mode or m.return_indices:
        raise UnsupportedError(f"{name}: MaxPool2d with ceil_mode or return_indices is not supported")
    k = _pair(m.kernel_size)
    ph, pw = _pair(m.padding)
    attrs = {"kernel_shape": k, "strides": _pair(m.stride or k), "pads": (ph, pw, ph, pw),
             "dilations": _pair(m.dilation)}
    return lw.emit("MaxPool", name, [x], attrs)


def _flatten_module(lw: _Lowering, name: str, m, x: str) -> str:
    if m.start_dim != 1 or m.end_dim != -1:
        raise UnsupportedError(f"{name}: Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}); only 1..-1")
    return lw.emit("Flatten", name, [x], {"axis": 1})


def _module_table() -> dict[type, Callable]:
    from torch import nn

    return {
        nn.Conv2d: _conv2d,
        nn.Linear: _linear,
        nn.BatchNorm1d: _batchnorm,
        nn.BatchNorm2d: _batchnorm,
        nn.ReLU: lambda lw, name, m, x: lw.emit("Relu", name, [x]),
        nn.AvgPool2d: _avgpool,
        nn.AdaptiveAvgPool2d: _adaptive_avgpool,
        nn.MaxPool2d: _maxpool,
        nn.Flatten: _flatten_module,
        nn.Dropout: lambda lw, name, m, x: lw.emit("Dropout", name, [x]),
        nn.Identity: lambda lw, name, m, x: lw.emit("Identity", name, [x]),
    }


# ------------------------------------------------------------------ functions and tensor methods


def _add(lw: _Lowering, name: str, args: list, kwargs: dict) -> str:
    if len(args) != 2 or not all(isinstance(a, str) for a in args) or kwargs.get("alpha", 1) != 1:
        raise UnsupportedError(f"{name}: add is supported between two tensors only")
    return lw.emit("Add", name, list(args))


def _flatten_call(lw: _Lowering, name: str, args: list, kwargs: dict) -> str:
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    if start != 1 or end != -1:
        raise UnsupportedError(f"{name}: flatten(start_dim={start}, end_dim={end}); only start_dim=1 is supported")
    return lw.emit("Flatten", name, [args[0]], {"axis": 1})


def _view(lw: _Lowering, name: str, args: list, kwargs: dict) -> str:
    dims = list(args[1][0] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:])
    if not dims or dims[0] not in (BATCH, -1):
        raise UnsupportedError(f"{name}: view/reshape must keep the batch axis first (x.size(0) or -1)")
    if any(not isinstance(d, int) for d in dims[1:]):
        raise UnsupportedError(f"{name}: view/reshape with non-constant sizes {dims}")
    target = np.array([0] + [int(d) for d in dims[1:]], dtype=np.int64)
    return lw.emit("Reshape", name, [args[0]], {}, {"shape": target})


def _size(lw: _Lowering, name: str, args: list, kwargs: dict):
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if dim != 0:
        raise UnsupportedError(f"{name}: only x.size(0) (the batch size) can be used in shape arithmetic")
    return BATCH


def _relu_call(lw: _Lowering, name: str, args: list, kwargs: dict) -> str:
    return lw.emit("Relu", name, [args[0]])


def _function_table() -> dict[object, Callable]:
    import torch
    import torch.nn.functional as F

    return {operator.add: _add, torch.add: _add, torch.flatten: _flatten_call, torch.relu: _relu_call,
            F.relu: _relu_call, torch.reshape: _view}


_METHODS = {"view": _view, "reshape": _view, "flatten": _flatten_call, "size": _size, "relu": _relu_call}


# ------------------------------------------------------------------ driver


def _describe(fx_node, module) -> str:
    if fx_node.op == "call_module":
        return f"module '{fx_node.target}' of type {type(module).__name__}"
    if fx_node.op == "call_function":
        return f"function {getattr(fx_node.target, '__name__', fx_node.target)}"
    return f"{fx_node.op} {fx_node.target}"


def _handler(fx_node, root, modules: dict, functions: dict):
    """The handler for ``fx_node`` and the module it calls (if any); handler None = unsupported."""
    if fx_node.op == "call_module":
        module = root.get_submodule(fx_node.target)
        return modules.get(type(module)), module
    table = functions if fx_node.op == "call_function" else _METHODS if fx_node.op == "call_method" else {}
    return table.get(fx_node.target), None


def _lower_node(lw: _Lowering, fx_node, handler, module):
    """Run ``handler`` on ``fx_node``; returns None when an input comes from an unsupported node."""
    resolve = lambda a: lw.values[a.name] if hasattr(a, "op") and hasattr(a, "name") else a
    inputs = [a for a in fx_node.all_input_nodes]
    if any(lw.values.get(a.name) is None for a in inputs):
        return None  # downstream of an unsupported node: nothing to check here
    args = [type(a)(resolve(b) for b in a) if isinstance(a, (tuple, list)) else resolve(a) for a in fx_node.args]
    kwargs = {k: resolve(v) for k, v in fx_node.kwargs.items()}
    if module is not None:
        if len(args) != 1 or kwargs:
            raise UnsupportedError(f"{fx_node.target}: modules are supported when called with one tensor only")
        return handler(lw, str(fx_node.target), module, args[0])
    return handler(lw, fx_node.name, args, kwargs)


def from_torch(module, input_shape: tuple[int, ...], name: str = "model") -> Graph:
    """Trace ``module`` (in eval mode) for per-sample ``input_shape`` and return a checked IR graph."""
    import torch.fx

    module = module.eval()
    try:
        traced = torch.fx.symbolic_trace(module)
    except Exception as e:  # tracing runs user code: any failure means "cannot be traced"
        raise UnsupportedError(f"{name}: torch.fx cannot trace this model ({type(e).__name__}: {e})") from None
    lw = _Lowering(name, input_shape)
    modules, functions = _module_table(), _function_table()
    for position, fx_node in enumerate(traced.graph.nodes):
        if fx_node.op == "placeholder":
            lw.g.inputs[fx_node.name] = TensorType(lw.input_shape)
            lw.g.types[fx_node.name] = lw.g.inputs[fx_node.name]
            lw.values[fx_node.name] = fx_node.name
        elif fx_node.op == "output":
            outs = fx_node.args[0] if isinstance(fx_node.args[0], (tuple, list)) else [fx_node.args[0]]
            if not outs or not all(isinstance(o, torch.fx.Node) for o in outs):
                raise UnsupportedError(f"{name}: forward must return a tensor or a tuple of tensors, got "
                                       f"{type(fx_node.args[0]).__name__}")
            values = [lw.values.get(o.name) for o in outs]
            if any(v == BATCH for v in values):
                raise UnsupportedError(f"{name}: forward returns x.size(0), not a tensor")
            lw.g.outputs = [v or o.name for v, o in zip(values, outs)]
        else:
            handler, module = _handler(fx_node, traced, modules, functions)
            lw.values[fx_node.name] = None
            if handler is None:
                lw.unsupported.append(f"node '{fx_node.name}' ({_describe(fx_node, module)}) at position {position}")
                continue
            try:
                lw.values[fx_node.name] = _lower_node(lw, fx_node, handler, module)
            except UnsupportedError as e:
                lw.unsupported.append(f"node '{fx_node.name}' ({_describe(fx_node, module)}) at position "
                                      f"{position}: {e}")
    if lw.unsupported:
        raise UnsupportedError(f"{name}: {len(lw.unsupported)} unsupported layer(s) or operation(s)", lw.unsupported)
    check_graph(lw.g)
    return lw.g
