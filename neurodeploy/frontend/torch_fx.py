"""Lower a ``torch.nn.Module`` to the IR through ``torch.fx`` symbolic tracing.

One handler per supported module type, function or tensor method, in explicit tables. Every node that no
handler takes is collected, and all of them are reported in one :class:`UnsupportedError` (name, what it
is, position in the traced graph). Types are inferred node by node, so a wrong input shape stops at the
first layer that cannot take it, with that layer's name.

Spiking models built from :mod:`neurodeploy.nn` are traced with those layers as leaves: neurons become IR
``IF`` / ``LIF`` (bias, recurrent weight and every attribute), encoders and readouts their IR ops, and
``PerStep`` layers the stateless ops, which act on each time step. Such a graph carries ``meta['time']``. Stateful
neurons of other libraries (snnTorch, Norse, ...) cannot be followed by the tracer; the error says how to export
them to NIR or rebuild them with neurodeploy.nn.
"""
from __future__ import annotations

import operator
import traceback
from pathlib import Path
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

    def __init__(self, name: str, input_shape: tuple[int, ...], timed_input: bool = False) -> None:
        self.g = Graph([], {}, [], name=name)
        self.input_shape = tuple(input_shape)
        self.timed_input = timed_input
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

    def is_timed(self, value) -> bool:
        return isinstance(value, str) and value in self.g.types and self.g.types[value].timed


# ------------------------------------------------------------------ module handlers


def _conv_attrs(name: str, m) -> dict:
    if m.padding_mode != "zeros":
        raise UnsupportedError(f"{name}: Conv2d padding_mode='{m.padding_mode}' (only 'zeros' is supported)")
    kh, kw = m.kernel_size
    if m.padding == "same":
        dh, dw = m.dilation[0] * (kh - 1), m.dilation[1] * (kw - 1)
        pads = (dh // 2, dw // 2, dh - dh // 2, dw - dw // 2)
    else:
        ph, pw = _pair(0 if m.padding == "valid" else m.padding)
        pads = (ph, pw, ph, pw)
    return {"kernel_shape": (kh, kw), "strides": _pair(m.stride), "pads": pads, "dilations": _pair(m.dilation),
            "group": m.groups}


def _conv2d(lw: _Lowering, name: str, m, x: str) -> str:
    bias = _np(m.bias) if m.bias is not None else None
    return lw.emit("Conv", name, [x], _conv_attrs(name, m), {"weight": _np(m.weight), "bias": bias})


def _ws_conv2d(lw: _Lowering, name: str, m, x: str) -> str:
    """neurodeploy.nn.WSConv2d: the raw kernel and gain, standardized by the pass fold_weight_standardization."""
    bias = _np(m.bias) if m.bias is not None else None
    return lw.emit("WSConv", name, [x], {**_conv_attrs(name, m), "epsilon": m.eps},
                   {"weight": _np(m.weight), "gain": _np(m.gain), "bias": bias})


def _channel_scale(lw: _Lowering, name: str, m, x: str) -> str:
    """neurodeploy.nn.ChannelScale: Mul by one constant per channel (axis 0 of the per-sample shape)."""
    rank = len(lw.shape_of(x))
    return lw.emit("Mul", name, [x], {}, {"scale": _np(m.scale).reshape((-1,) + (1,) * (rank - 1))})


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

    snn = _nn_layers()
    return {
        nn.Conv2d: _conv2d,
        snn.WSConv2d: _ws_conv2d,
        snn.ChannelScale: _channel_scale,
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


# ------------------------------------------------------------------ neurodeploy.nn layers

_PER_STEP_SAFE = ("Linear", "ReLU", "Dropout", "Identity")  # torch applies these to [T, N, ...] as to each step


def _timed_input(lw: _Lowering, name: str, m, x: str, timed: bool) -> None:
    """Neurons and readouts need a time axis, encoders must not get one: say which layer to add."""
    kind = type(m).__name__
    if lw.is_timed(x) == timed:
        return
    if timed:
        raise UnsupportedError(f"{name}: {kind} needs spikes over time [T, N, ...], got the analog value "
                               f"{lw.g.types[x]}; put neurodeploy.nn.DirectEncode or RateEncode before it")
    raise UnsupportedError(f"{name}: {kind} encodes an analog [N, ...] input, got the timed value {lw.g.types[x]}")


def _neuron(lw: _Lowering, name: str, m, x: str) -> str:
    _timed_input(lw, name, m, x, True)
    params = {"bias": _np(m.bias) if m.bias is not None else None,
              "recurrent": _np(m.recurrent_weight) if m.recurrent_weight is not None else None}
    return lw.emit(m.ir_op, name, [x], m.ir_attrs(), params)


def _direct_encode(lw: _Lowering, name: str, m, x: str) -> str:
    _timed_input(lw, name, m, x, False)
    return lw.emit("DirectEncode", name, [x], {"num_steps": m.num_steps})


def _rate_encode(lw: _Lowering, name: str, m, x: str) -> str:
    _timed_input(lw, name, m, x, False)
    return lw.emit("RateEncode", name, [x], m.ir_attrs())


def _readout(lw: _Lowering, name: str, m, x: str) -> str:
    _timed_input(lw, name, m, x, True)
    if type(m).__name__ == "SpikeCount":
        return lw.emit("SpikeCount", name, [x])
    return lw.emit("MembraneReadout", name, [x], {"v_decay": m.v_decay})


def _per_step(lw: _Lowering, name: str, m, x: str) -> str:
    """The wrapped stateless layer(s), lowered as usual: IR stateless ops act on every step of a timed value."""
    inner = list(m.module) if type(m.module) is __import__("torch").nn.Sequential else [m.module]
    table = _module_table()
    for i, layer in enumerate(inner):
        handler = table.get(type(layer))
        if handler is None or isinstance(layer, _nn_layers().TEMPORAL):
            raise UnsupportedError(f"{name}: PerStep cannot hold a {type(layer).__name__} (it takes the stateless "
                                   f"layers {', '.join(sorted(t.__name__ for t in table))})")
        x = handler(lw, name if len(inner) == 1 else f"{name}.{i}", layer, x)
    return x


def _nn_layers():
    import neurodeploy.nn

    return neurodeploy.nn


def _spiking_table() -> dict[type, Callable]:
    snn = _nn_layers()
    return {snn.IF: _neuron, snn.LIF: _neuron, snn.RecurrentLIF: _neuron,
            snn.ThresholdNeuron: _neuron, snn.DirectEncode: _direct_encode,
            snn.RateEncode: _rate_encode, snn.SpikeCount: _readout, snn.MembraneReadout: _readout,
            snn.PerStep: _per_step, snn.TimeDropout: lambda lw, name, m, x: lw.emit("Dropout", name, [x])}


SPIKING_OPS = ("IF", "LIF", "DirectEncode", "RateEncode", "SpikeCount", "MembraneReadout")
"""IR ops that make a graph spiking: a graph with one of them (or a timed input) gets ``meta['time']``."""


def _time_meta(lw: _Lowering, modules: list) -> dict:
    """``graph.meta['time']``: the discrete time semantics of neurodeploy.nn layers, with where dt came from."""
    snn = _nn_layers()
    neurons = [(name, m) for name, m in modules if isinstance(m, snn.NEURONS)]
    dts = {name: m.dt for name, m in neurons if getattr(m, "dt", None) is not None}
    if len(set(dts.values())) > 1:
        raise UnsupportedError(f"{lw.g.name}: neuron layers disagree on dt (seconds per step)",
                               [f"layer '{name}': dt = {dt}" for name, dt in dts.items()])
    resets = sorted({f"{m.reset}/{m.reset_timing}" for _, m in neurons})
    steps = sorted({m.num_steps for _, m in modules if isinstance(m, snn.ENCODERS)})
    first = next(iter(dts.items()), None)
    return {
        "dt": first[1] if first else None,
        "integration": "discrete",
        "source": "neurodeploy.nn" + (f" (dt of layer '{first[0]}')" if first else " (no layer sets dt)"),
        "reset": resets[0] if len(resets) == 1 else (resets or None),
        "num_steps": steps[0] if len(steps) == 1 else (steps or None),
        "timed_input": lw.timed_input,
        "notes": ["decays are per-step fractions (v_decay = dt/tau_mem when a layer was given tau_mem)"]
                 + ([] if first or not neurons else ["no layer sets dt: a step has no physical duration"]),
    }


# ------------------------------------------------------------------ modules the tracer cannot follow

_FOREIGN_SNN = {
    "snntorch": ("snnTorch", "`from snntorch.export_nir import export_to_nir; nir.write('net.nir', "
                 "export_to_nir(net, sample_input))`",
                 "snntorch.Leaky(beta=b) is LIF(beta=b, reset='subtract', reset_timing='next_step'), with "
                 "reset='zero' for reset_mechanism='zero'"),
    "norse": ("Norse", "`nir.write('net.nir', norse.torch.to_nir(net, sample_input, dt=dt))`",
              "a Norse LIF cell is LIF(tau_mem=..., tau_syn=..., dt=dt, reset='zero') with the weights that "
              "feed it scaled by dt/tau_mem"),
    "spikingjelly": ("SpikingJelly", None, None),
    "sinabs": ("sinabs", None, None),
    "rockpool": ("Rockpool", None, None),
    "lava": ("lava-dl", None, None),
}


def _foreign(m) -> tuple | None:
    """(library, export, equivalent) for a module from another SNN library, else None."""
    return _FOREIGN_SNN.get(type(m).__module__.split(".")[0])


def _guidance(m) -> str:
    """What to do with a stateful neuron (or container) of another SNN library."""
    library, export, equivalent = _foreign(m)
    kind = f"{type(m).__module__.split('.')[0]}.{type(m).__name__}"
    export = export or "the library's NIR export"
    if library == "lava-dl":
        export = "its netx export (block.export_hdf5, a .net file neurodeploy reads) or a NIR export"
    text = (f"{kind} is a stateful {library} module whose hidden state torch.fx cannot follow: export the network "
            f"to NIR with {export} and compile the .nir file, or rebuild it with neurodeploy.nn layers")
    return text + (f" ({equivalent}; docs/nn.md)" if equivalent else " (docs/nn.md)")


def _user_line(e: BaseException) -> str:
    """' at file.py:12 (code)': the last line of the user's code the failed trace ran, if any."""
    torch_dir = str(Path(__import__("torch").__file__).parent)
    ours = str(Path(__file__).parent)
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not f.filename.startswith((torch_dir, ours)) and not f.filename.startswith("<")]
    users = [f for f in frames if "site-packages" not in f.filename]  # the user's own file before a library's
    if not frames:
        return ""
    f = (users or frames)[-1]
    return f" at {Path(f.filename).name}:{f.lineno}" + (f" ({f.line.strip()})" if f.line else "")


def _plain_reason(e: BaseException) -> tuple[str, bool]:
    """What a failed trace means, in the user's terms (never the raw fx exception), and whether it failed on a
    symbolic value (a tensor used as a Python value) rather than on an error of the user's code."""
    text = str(e)
    if "Proxy" not in text and "symbolically traced" not in text and type(e).__name__ != "TraceError":
        first = text.strip().splitlines()[0] if text.strip() else ""
        return (f"{type(e).__name__}: {first}" if first else type(e).__name__), False
    if "control flow" in text:
        return "Python control flow (if, while) depends on a tensor's value", True
    if "iterated" in text:
        return "a tensor is iterated or unpacked, as in a, b = layer(x) or for x_t in x", True
    if "integer" in text or "index" in text:
        return "a tensor's size or value is used as a Python number, as in range(x.shape[0]) or int(x)", True
    return "a tensor's value is used as a Python value", True


def _trace_failure(name: str, module, e: BaseException) -> UnsupportedError:
    foreign = {type(m): m for m in module.modules() if _foreign(m)}
    where, (reason, symbolic) = _user_line(e), _plain_reason(e)
    detail = f"{where}: {reason}" if symbolic else f" ({reason}){where}"
    headline = f"{name}: torch.fx cannot trace this model{detail}"
    if foreign:
        libraries = sorted({_foreign(m)[0] for m in foreign.values()})
        return UnsupportedError(f"{headline}; it uses stateful modules of {', '.join(libraries)}",
                                [_guidance(m) for m in foreign.values()])
    hint = ("; a spiking model's time loop belongs inside neurodeploy.nn layers, and forward must be a fixed "
            "sequence of layers (docs/nn.md)" if symbolic else "")
    return UnsupportedError(headline + hint)


def _supported() -> str:
    """The layers and calls a user can write, for the unsupported-layer message."""
    modules = sorted(t.__name__ for t in _module_table())
    spiking = sorted({t.__name__ for t in _spiking_table()} | {"SNN"})
    calls = ["+", "torch.add", "torch.flatten", "torch.relu", "F.relu", "torch.reshape"] + \
        [f"x.{m}()" for m in _METHODS]
    return (f"the torch front-end takes torch.nn {', '.join(modules)}; neurodeploy.nn {', '.join(spiking)}; "
            f"and {', '.join(calls)}")


# ------------------------------------------------------------------ functions and tensor methods


def _add(lw: _Lowering, name: str, args: list, kwargs: dict) -> str:
    if len(args) != 2 or not all(isinstance(a, str) for a in args) or kwargs.get("alpha", 1) != 1:
        raise UnsupportedError(f"{name}: add is supported between two tensors only")
    return lw.emit("Add", name, list(args))


def _per_sample(lw: _Lowering, name: str, what: str, value) -> None:
    """Shape calls see a [T, N, ...] value as torch does (T first), not per step as the IR would."""
    if lw.is_timed(value):
        raise UnsupportedError(f"{name}: {what} on a value with a time axis [T, N, ...] would act on T, not on "
                               "each step; use neurodeploy.nn.PerStep(nn.Flatten()) (or nn.SNN, which wraps it)")


def _flatten_call(lw: _Lowering, name: str, args: list, kwargs: dict) -> str:
    _per_sample(lw, name, "flatten", args[0])
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    if start != 1 or end != -1:
        raise UnsupportedError(f"{name}: flatten(start_dim={start}, end_dim={end}); only start_dim=1 is supported")
    return lw.emit("Flatten", name, [args[0]], {"axis": 1})


def _view(lw: _Lowering, name: str, args: list, kwargs: dict) -> str:
    _per_sample(lw, name, "view/reshape", args[0])
    dims = list(args[1][0] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:])
    if not dims or dims[0] not in (BATCH, -1):
        raise UnsupportedError(f"{name}: view/reshape must keep the batch axis first (x.size(0) or -1)")
    if any(not isinstance(d, int) for d in dims[1:]):
        raise UnsupportedError(f"{name}: view/reshape with non-constant sizes {dims}")
    target = np.array([0] + [int(d) for d in dims[1:]], dtype=np.int64)
    return lw.emit("Reshape", name, [args[0]], {}, {"shape": target})


def _size(lw: _Lowering, name: str, args: list, kwargs: dict):
    _per_sample(lw, name, "size", args[0])
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
        if lw.is_timed(args[0]) and not isinstance(module, _nn_layers().TEMPORAL) and \
                type(module).__name__ not in _PER_STEP_SAFE:
            raise UnsupportedError(f"{fx_node.target}: {type(module).__name__} gets spikes over time [T, N, ...], "
                                   "which torch would not apply step by step; wrap it in neurodeploy.nn.PerStep "
                                   "(nn.SNN does that for its layers)")
        return handler(lw, str(fx_node.target), module, args[0])
    return handler(lw, fx_node.name, args, kwargs)


def _tracer():
    """torch.fx's tracer, with neurodeploy.nn layers and other libraries' SNN modules as leaves (called, not
    traced into: their time loops and hidden state are not fx-traceable)."""
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m, qualname: str) -> bool:
            layers = _nn_layers()
            return isinstance(m, layers.TEMPORAL + (layers.WSConv2d, layers.ChannelScale)) or \
                _foreign(m) is not None or \
                super().is_leaf_module(m, qualname)

    return Tracer()


def _trace(module, name: str):
    import torch.fx

    tracer = _tracer()
    try:
        graph = tracer.trace(module)
    except Exception as e:  # tracing runs user code: any failure means "cannot be traced"
        raise _trace_failure(name, module, e) from None
    return torch.fx.GraphModule(tracer.root, graph)


def _called_modules(traced) -> list[tuple[str, object]]:
    return [(str(n.target), traced.get_submodule(n.target)) for n in traced.graph.nodes if n.op == "call_module"]


def _is_timed_input(called: list, timed_input: bool | None) -> bool:
    """Timed input (spikes [T, N, ...]) unless said otherwise: a model with neurodeploy.nn layers but no encoder."""
    if timed_input is not None:
        return bool(timed_input)
    snn = _nn_layers()
    layers = [m for _, m in called if isinstance(m, snn.TEMPORAL)]
    return bool(layers) and not any(isinstance(m, snn.ENCODERS) for m in layers)


def _describe_unsupported(fx_node, module) -> str:
    text = _describe(fx_node, module)
    return text + (f": {_guidance(module)}" if module is not None and _foreign(module) else "")


def _consequence(lw: _Lowering, fx_node, layer, foreign: set) -> bool:
    """Whether an unsupported node need not be listed once a third-party neuron was explained: another call of the
    same module (a time loop unrolled by tracing), or an operation on what such a module returned."""
    if not foreign:
        return False
    if layer is not None and _foreign(layer):
        return str(fx_node.target) in foreign
    return any(lw.values.get(a.name) is None for a in fx_node.all_input_nodes)


def from_torch(module, input_shape: tuple[int, ...], name: str = "model", timed_input: bool | None = None) -> Graph:
    """Trace ``module`` (in eval mode) for per-sample ``input_shape`` and return a checked IR graph.

    ``timed_input``: the input is spikes over time, fed as [T, N, *input_shape]; by default (None) it is when
    the model uses neurodeploy.nn layers and none of them is an encoder. A spiking graph (SPIKING_OPS or a timed
    input) carries ``meta['time']``.
    """
    import torch.fx

    module = module.eval()
    traced = _trace(module, name)
    called = _called_modules(traced)
    lw = _Lowering(name, input_shape, _is_timed_input(called, timed_input))
    modules, functions = {**_module_table(), **_spiking_table()}, _function_table()
    foreign: set[str] = set()  # third-party neuron modules already explained
    for position, fx_node in enumerate(traced.graph.nodes):
        if fx_node.op == "placeholder":
            lw.g.inputs[fx_node.name] = TensorType(lw.input_shape, timed=lw.timed_input)
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
            handler, layer = _handler(fx_node, traced, modules, functions)
            lw.values[fx_node.name] = None
            if handler is None:
                if not _consequence(lw, fx_node, layer, foreign):
                    lw.unsupported.append(f"node '{fx_node.name}' ({_describe_unsupported(fx_node, layer)}) at "
                                          f"position {position}")
                if layer is not None and _foreign(layer):
                    foreign.add(str(fx_node.target))
                continue
            try:
                lw.values[fx_node.name] = _lower_node(lw, fx_node, handler, layer)
            except UnsupportedError as e:
                lw.unsupported.append(f"node '{fx_node.name}' ({_describe(fx_node, layer)}) at position "
                                      f"{position}: {e}")
    if lw.unsupported:
        raise UnsupportedError(f"{name}: {len(lw.unsupported)} unsupported layer(s) or operation(s); {_supported()}",
                               lw.unsupported)
    if lw.timed_input or any(n.op in SPIKING_OPS for n in lw.g.nodes):
        lw.g.meta["time"] = _time_meta(lw, called)
    check_graph(lw.g)
    return lw.g
