"""Stateless ANN ops, spelled and defined as in ONNX (opset 17), applied per sample and per time step.

Each reference receives arrays with a leading batch axis (N, or T*N for timed values) and computes in the
input's floating type. Convolution and pooling use sliding-window views: a conv kernel is never expanded
into a dense matrix, only the input windows are gathered (im2col) batch by batch.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import Node, TensorType
from neurodeploy.ir.ops.base import NEURO_DOMAIN, Attr, OpDef

# ------------------------------------------------------------------ shared helpers


def _one_activation(node: Node, types: list) -> TensorType:
    acts = [t for t in types if t is not None]
    if len(acts) != 1:
        raise GraphError(f"{node}: expects exactly one activation input, got {len(acts)}")
    return acts[0]


def _spatial(node: Node, x: TensorType, what: str) -> tuple[int, int, int]:
    if len(x.shape) != 3:
        raise GraphError(f"{node}: {what} needs a [C, H, W] input per sample, got shape {list(x.shape)}")
    return x.shape


def _window_params(attrs: dict, kernel: tuple[int, int]) -> tuple[tuple, tuple, tuple]:
    """Strides, pads and dilations with their defaults; lengths and signs are checked by the attribute schema."""
    strides = attrs.get("strides") or (1, 1)
    pads = attrs.get("pads") or (0, 0, 0, 0)
    dilations = attrs.get("dilations") or (1, 1)
    return tuple(strides), tuple(pads), tuple(dilations)


def _out_size(size: int, k: int, s: int, p0: int, p1: int, d: int) -> int:
    return (size + p0 + p1 - d * (k - 1) - 1) // s + 1


def _windows(x: np.ndarray, kernel, strides, pads, dilations, fill: float = 0.0) -> np.ndarray:
    """[B, C, H, W] -> [B, C, OH, OW, kh, kw] view of the (padded) input windows."""
    if any(pads):
        x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=fill)
    kh, kw = kernel
    span = (dilations[0] * (kh - 1) + 1, dilations[1] * (kw - 1) + 1)
    win = sliding_window_view(x, span, axis=(2, 3))
    return win[:, :, :: strides[0], :: strides[1], :: dilations[0], :: dilations[1]]


def _pool_infer(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    x = _one_activation(node, types)
    c, h, w = _spatial(node, x, node.op)
    strides, pads, dil = _window_params(attrs, attrs["kernel_shape"])
    kh, kw = attrs["kernel_shape"]
    span = (dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1)
    if any(p >= span[i % 2] for i, p in enumerate(pads)):
        # a window lying wholly in the padding has no max (-inf) and, without count_include_pad, no mean (0/0)
        raise GraphError(f"{node}: pads {list(pads)} must be smaller than the window {list(span)}")
    oh = _out_size(h, kh, strides[0], pads[0], pads[2], dil[0])
    ow = _out_size(w, kw, strides[1], pads[1], pads[3], dil[1])
    if oh < 1 or ow < 1:
        raise GraphError(f"{node}: kernel {kh}x{kw} does not fit input {h}x{w} (pads {list(pads)})")
    return [x.with_shape((c, oh, ow))]


def _same(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    return [_one_activation(node, types)]


# 2-D windows: the same constraints for every op with a kernel (ANN and chip ops)
KERNEL = Attr("ints", None, min=1, length=2)
STRIDES = Attr("ints", None, min=1, length=2)
PADS = Attr("ints", None, min=0, length=4, doc="[top, left, bottom, right]")
DILATIONS = Attr("ints", None, min=1, length=2)
GROUP = Attr("int", 1, min=1)
# chip ops store every window parameter explicitly (their references read them without defaults)
CHIP_WINDOW_ATTRS = {"kernel_shape": KERNEL, "strides": replace(STRIDES, default=(1, 1)),
                     "pads": replace(PADS, default=(0, 0, 0, 0)), "dilations": replace(DILATIONS, default=(1, 1)),
                     "group": GROUP}

_WINDOW_ATTRS = {
    "kernel_shape": Attr("ints", min=1, length=2),
    "strides": STRIDES,
    "pads": PADS,
    "ceil_mode": Attr("int", 0, choices=(0,)),
    "auto_pad": Attr("str", "NOTSET", choices=("NOTSET",)),
}

# ------------------------------------------------------------------ Conv


def _conv_infer(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    x = _one_activation(node, types)
    c, h, w = _spatial(node, x, "Conv")
    weight, group = params[1], attrs["group"]
    if weight is None or weight.ndim != 4 or 0 in weight.shape:
        shape = None if weight is None else list(weight.shape)
        raise GraphError(f"{node}: weight must be a non-empty 4-D parameter [M, C/group, kh, kw], got {shape}")
    m, cg, kh, kw = weight.shape
    if c != cg * group or m % group:
        raise GraphError(
            f"{node}: input has {c} channels but weight {list(weight.shape)} with group={group} "
            f"expects {cg * group}"
        )
    if attrs["kernel_shape"] and tuple(attrs["kernel_shape"]) != (kh, kw):
        raise GraphError(f"{node}: kernel_shape {list(attrs['kernel_shape'])} != weight kernel {[kh, kw]}")
    if params[2] is not None and params[2].shape != (m,):
        raise GraphError(f"{node}: bias shape {list(params[2].shape)} != [{m}]")
    strides, pads, dil = _window_params(attrs, (kh, kw))
    oh = _out_size(h, kh, strides[0], pads[0], pads[2], dil[0])
    ow = _out_size(w, kw, strides[1], pads[1], pads[3], dil[1])
    if oh < 1 or ow < 1:
        raise GraphError(f"{node}: kernel {kh}x{kw} does not fit input {h}x{w} (pads {list(pads)})")
    return [x.with_shape((m, oh, ow))]


_IM2COL_CHUNK_BYTES = 64 * 2**20


def conv2d(x: np.ndarray, weight: np.ndarray, bias, strides, pads, dilations, group: int) -> np.ndarray:
    """Grouped 2-D cross-correlation as ONNX Conv defines it; x [B, C, H, W] -> [B, M, OH, OW].

    Windows of a channels-last copy of the input are gathered (im2col, taps ordered kh, kw, C so that
    channels stay contiguous) a chunk of samples at a time, keeping the buffer near 64 MB; each product then
    has K = kh * kw * C/group. The kernel itself is never expanded.
    """
    m, cg, kh, kw = weight.shape
    b, c, h, w = x.shape
    padded = np.zeros((b, h + pads[0] + pads[2], w + pads[1] + pads[3], c), dtype=x.dtype)  # channels last
    padded[:, pads[0]:pads[0] + h, pads[1]:pads[1] + w, :] = x.transpose(0, 2, 3, 1)
    span = (dilations[0] * (kh - 1) + 1, dilations[1] * (kw - 1) + 1)
    win = sliding_window_view(padded, span, axis=(1, 2))
    win = win[:, :: strides[0], :: strides[1], :, :: dilations[0], :: dilations[1]]  # [B, OH, OW, C, kh, kw]
    oh, ow = win.shape[1:3]
    win = win.transpose(0, 1, 2, 4, 5, 3).reshape(b, oh, ow, kh, kw, group, cg)
    mg = m // group
    wt = weight.astype(x.dtype).reshape(group, mg, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(group, mg, -1)
    out = np.empty((b, oh, ow, m), dtype=x.dtype)
    step = max(1, _IM2COL_CHUNK_BYTES // max(oh * ow * kh * kw * cg * x.itemsize, 1))
    for start in range(0, b, step):
        part = win[start:start + step]
        n = part.shape[0]
        for gi in range(group):
            cols = part[..., gi, :].reshape(n * oh * ow, kh * kw * cg)
            out[start:start + n, :, :, gi * mg:(gi + 1) * mg] = (cols @ wt[gi].T).reshape(n, oh, ow, mg)
    out = out.transpose(0, 3, 1, 2)  # a view: consumers reshape or copy it anyway
    if bias is not None:
        out = out + bias.reshape(1, m, 1, 1).astype(x.dtype)
    return out


def _conv_ref(args: list, attrs: dict) -> list[np.ndarray]:
    x, weight = args[0], args[1]
    bias = args[2] if len(args) > 2 else None
    strides, pads, dil = _window_params(attrs, weight.shape[2:])
    return [conv2d(x, weight, bias, strides, pads, dil, attrs["group"])]


CONV = OpDef(
    "Conv", "ann", (2, 3), _conv_infer, _conv_ref,
    attrs={
        "kernel_shape": KERNEL,
        "strides": STRIDES,
        "pads": PADS,
        "dilations": DILATIONS,
        "group": GROUP,
        "auto_pad": Attr("str", "NOTSET", choices=("NOTSET",)),
    },
    param_inputs=(1, 2),
    doc="2-D convolution (cross-correlation) with stride, zero padding, dilation and groups; W [M, C/g, kh, kw].",
)


def standardized_weight(weight: np.ndarray, gain: np.ndarray, eps: float) -> np.ndarray:
    """WSConv's kernel: w_hat[o] = gain[o] (w[o] - mean w[o]) / sqrt(fan_in var w[o] + eps), in float64, cast to
    float32 (neurodeploy.nn.WSConv2d computes the same in float32)."""
    flat = weight.astype(np.float64).reshape(weight.shape[0], -1)
    centred = flat - flat.mean(axis=1, keepdims=True)
    norm = np.sqrt(flat.var(axis=1, keepdims=True) * flat.shape[1] + eps)
    return (centred / norm * gain.astype(np.float64).reshape(-1, 1)).reshape(weight.shape).astype(np.float32)


def _wsconv_infer(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    gain = params[2]
    if gain is None or gain.shape != (params[1].shape[0] if params[1] is not None else -1,):
        shape = None if gain is None else list(gain.shape)
        raise GraphError(f"{node}: gain must be one factor per output channel, got {shape}")
    return _conv_infer(node, types, [params[0], params[1], params[3] if len(params) > 3 else None], attrs)


def _wsconv_ref(args: list, attrs: dict) -> list[np.ndarray]:
    weight = standardized_weight(args[1], args[2], attrs["epsilon"])
    return _conv_ref([args[0], weight] + args[3:], attrs)


WSCONV = OpDef(
    "WSConv", "ann", (3, 4), _wsconv_infer, _wsconv_ref,
    attrs={**CONV.attrs, "epsilon": Attr("float", 1e-6, min=0)},
    param_inputs=(1, 2, 3), domain=NEURO_DOMAIN,
    doc="Weight-standardized Conv (papers/002): inputs x, W, gain [M], bias; the Conv of W_hat[o] = gain[o] (W[o] - "
        "mean W[o]) / sqrt(fan_in var W[o] + epsilon). The pass fold_weight_standardization makes it a Conv.",
)

# ------------------------------------------------------------------ Gemm


def _gemm_infer(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    x = _one_activation(node, types)
    weight = params[1]
    if len(x.shape) != 1:
        raise GraphError(f"{node}: Gemm needs a flat [K] input per sample, got shape {list(x.shape)}")
    if weight is None or weight.ndim != 2 or 0 in weight.shape:
        shape = None if weight is None else list(weight.shape)
        raise GraphError(f"{node}: B must be a non-empty 2-D parameter, got {shape}")
    if attrs["transA"]:
        raise GraphError(f"{node}: transA=1 is not supported (the batch axis must stay first)")
    k, m = weight.shape[::-1] if attrs["transB"] else weight.shape
    if x.shape[0] != k:
        raise GraphError(f"{node}: input has {x.shape[0]} features, weight {list(weight.shape)} expects {k}")
    if params[2] is not None and params[2].size not in (1, m):
        raise GraphError(f"{node}: bias shape {list(params[2].shape)} does not broadcast to [{m}]")
    return [x.with_shape((m,))]


def _gemm_ref(args: list, attrs: dict) -> list[np.ndarray]:
    x, weight = args[0], args[1].astype(args[0].dtype)
    y = attrs["alpha"] * (x @ (weight.T if attrs["transB"] else weight))
    if len(args) > 2 and args[2] is not None:
        y = y + attrs["beta"] * args[2].reshape(-1).astype(x.dtype)
    return [y.astype(x.dtype, copy=False)]


GEMM = OpDef(
    "Gemm", "ann", (2, 3), _gemm_infer, _gemm_ref,
    attrs={
        "alpha": Attr("float", 1.0),
        "beta": Attr("float", 1.0),
        "transA": Attr("int", 0, choices=(0,)),
        "transB": Attr("int", 0, choices=(0, 1)),
    },
    param_inputs=(1, 2),
    doc="Fully connected layer: Y = alpha * X @ op(B) + beta * C, op(B) = B^T when transB=1.",
)

# ------------------------------------------------------------------ pooling


def _avgpool_ref(args: list, attrs: dict) -> list[np.ndarray]:
    x = args[0]
    strides, pads, dil = _window_params(attrs, attrs["kernel_shape"])
    total = _windows(x, attrs["kernel_shape"], strides, pads, dil).sum(axis=(-2, -1))
    if attrs["count_include_pad"] or not any(pads):
        return [(total / float(np.prod(attrs["kernel_shape"]))).astype(x.dtype)]
    ones = np.ones((1, 1) + x.shape[2:], dtype=x.dtype)
    counts = _windows(ones, attrs["kernel_shape"], strides, pads, dil).sum(axis=(-2, -1))
    return [(total / counts).astype(x.dtype)]


def _maxpool_ref(args: list, attrs: dict) -> list[np.ndarray]:
    x = args[0]
    strides, pads, dil = _window_params(attrs, attrs["kernel_shape"])
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min  # padding never wins, for integers too
    return [_windows(x, attrs["kernel_shape"], strides, pads, dil, fill=lowest).max(axis=(-2, -1))]


AVERAGE_POOL = OpDef(
    "AveragePool", "ann", (1, 1), _pool_infer, _avgpool_ref,
    attrs={**_WINDOW_ATTRS, "count_include_pad": Attr("int", 0, choices=(0, 1))},
    doc="2-D average pooling; padded positions count in the divisor only when count_include_pad=1.",
)
MAX_POOL = OpDef(
    "MaxPool", "ann", (1, 1), _pool_infer, _maxpool_ref,
    attrs={**_WINDOW_ATTRS, "dilations": DILATIONS, "storage_order": Attr("int", 0, choices=(0,))},
    doc="2-D max pooling (padding never wins the max).",
)

# ------------------------------------------------------------------ normalization and activations


def _bn_infer(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    x = _one_activation(node, types)
    channels = x.shape[0] if x.shape else 0
    for i, role in enumerate(("scale", "B", "mean", "var"), start=1):
        p = params[i]
        if p is None or p.shape != (channels,):
            shape = None if p is None else list(p.shape)
            raise GraphError(f"{node}: {role} must be a parameter of shape [{channels}], got {shape}")
    if (params[4] + attrs["epsilon"] <= 0).any():  # sqrt of a negative variance is NaN
        raise GraphError(f"{node}: var + epsilon must be > 0 for every channel")
    return [x]


def _bn_ref(args: list, attrs: dict) -> list[np.ndarray]:
    x, scale, bias, mean, var = args
    shape = (1, -1) + (1,) * (x.ndim - 2)
    factor = (scale / np.sqrt(var + attrs["epsilon"])).reshape(shape)
    return [((x - mean.reshape(shape)) * factor + bias.reshape(shape)).astype(x.dtype)]


BATCH_NORM = OpDef(
    "BatchNormalization", "ann", (5, 5), _bn_infer, _bn_ref,
    attrs={"epsilon": Attr("float", 1e-5, min=0), "momentum": Attr("float", 0.9),
           "training_mode": Attr("int", 0, choices=(0,))},
    param_inputs=(1, 2, 3, 4),
    doc="Inference-mode batch normalization over channel axis 1: (x - mean) * scale / sqrt(var + eps) + B.",
)

RELU = OpDef("Relu", "ann", (1, 1), _same, lambda a, at: [np.maximum(a[0], 0).astype(a[0].dtype)],
             doc="max(x, 0).")
IDENTITY = OpDef("Identity", "ann", (1, 1), _same, lambda a, at: [a[0]], doc="y = x.")
DROPOUT = OpDef("Dropout", "ann", (1, 3), _same, lambda a, at: [a[0]],
                attrs={"seed": Attr("int", 0)}, param_inputs=(1, 2),
                doc="Identity at inference (the only mode the IR models).")

# ------------------------------------------------------------------ reshaping


def _flatten_infer(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    x = _one_activation(node, types)
    if attrs["axis"] != 1:
        raise GraphError(f"{node}: only axis=1 (flatten each sample) is supported, got axis={attrs['axis']}")
    return [x.with_shape((x.size,))]


FLATTEN = OpDef(
    "Flatten", "ann", (1, 1), _flatten_infer, lambda a, at: [a[0].reshape(a[0].shape[0], -1)],
    attrs={"axis": Attr("int", 1)},
    doc="Flatten every axis after the batch axis.",
)


def reshape_target(node: Node, in_shape: tuple[int, ...], target: np.ndarray) -> tuple[int, ...]:
    """Per-sample output shape of Reshape: target[0] is the batch axis; 0 copies an input dim, -1 infers.

    The batch entry must keep samples apart: 0 (copy), -1 (inferred: the other entries then hold one whole
    sample) or 1 (a model exported with batch size 1). Any other value would mix samples, which no per-sample
    graph can express.
    """
    target = np.asarray(target)
    if target.ndim != 1 or not len(target) or target.dtype.kind not in "iu":
        raise GraphError(f"{node}: the target shape must be a 1-D integer tensor, got {target.dtype} "
                         f"{list(target.shape)}")
    if int(target[0]) not in (0, -1, 1) or (int(target[0]) == -1 and -1 in target[1:].tolist()):
        raise GraphError(f"{node}: target shape {target.tolist()} does not keep the batch axis first (its first "
                         "entry must be 0, -1 or 1, with one -1 at most): the reshape would mix samples")
    rest = [int(d) for d in target[1:]]
    rest = [in_shape[i] if d == 0 and i < len(in_shape) else d for i, d in enumerate(rest)]
    size = int(np.prod(in_shape, dtype=np.int64))
    if rest.count(-1) > 1 or any(d < -1 or d == 0 for d in rest):
        raise GraphError(f"{node}: cannot reshape per-sample shape {list(in_shape)} to {rest}")
    if -1 in rest:
        known = int(np.prod([d for d in rest if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise GraphError(f"{node}: cannot reshape {size} elements into {rest}")
        rest[rest.index(-1)] = size // known
    if int(np.prod(rest, dtype=np.int64)) != size:
        raise GraphError(f"{node}: cannot reshape per-sample shape {list(in_shape)} ({size} elements) to {rest}")
    return tuple(rest)


def _reshape_infer(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    x = _one_activation(node, types)
    if params[1] is None:
        raise GraphError(f"{node}: the target shape must be a constant parameter")
    return [x.with_shape(reshape_target(node, x.shape, params[1]))]


def _reshape_ref(args: list, attrs: dict) -> list[np.ndarray]:
    x, target = args
    return [x.reshape((x.shape[0],) + reshape_target(Node("Reshape", "reshape", [], []), x.shape[1:], target))]


RESHAPE = OpDef(
    "Reshape", "ann", (2, 2), _reshape_infer, _reshape_ref,
    attrs={"allowzero": Attr("int", 0, choices=(0,))},
    param_inputs=(1,),
    doc="Reshape each sample; the first entry of the target stands for the batch axis.",
)

# ------------------------------------------------------------------ elementwise binary


def _broadcast_infer(node: Node, types: list, params: list, attrs: dict) -> list[TensorType]:
    acts = [t for t in types if t is not None]
    if not acts or not all(node.inputs):
        raise GraphError(f"{node}: needs two operands, at least one of them an activation")
    if len({t.timed for t in acts}) > 1:
        raise GraphError(f"{node}: mixes values with and without a time axis")
    shapes = [t.shape for t in acts]
    rank = len(acts[0].shape)
    for p in params:
        if p is not None:
            if p.ndim > rank + 1 or (p.ndim == rank + 1 and p.shape[0] != 1):
                # one axis more than a sample is the batch axis, and a parameter cannot vary along it
                raise GraphError(f"{node}: parameter shape {list(p.shape)} does not broadcast per sample "
                                 f"[{', '.join(map(str, acts[0].shape))}]")
            shapes.append(p.shape[1:] if p.ndim > rank else p.shape)
    try:
        out = np.broadcast_shapes(*shapes)
    except ValueError:
        raise GraphError(f"{node}: input shapes {[list(s) for s in shapes]} do not broadcast") from None
    if len(out) != len(acts[0].shape) or any(t.shape != out for t in acts):
        raise GraphError(f"{node}: activation shapes {[list(t.shape) for t in acts]} must be equal ({list(out)})")
    return [acts[0]]


def _binary_ref(fn):
    def ref(args: list, attrs: dict) -> list[np.ndarray]:
        a, b = args
        return [fn(a, b).astype(np.result_type(a.dtype, np.float32) if a.dtype.kind == "f" else a.dtype)]
    return ref


ADD = OpDef("Add", "ann", (2, 2), _broadcast_infer, _binary_ref(np.add),
            doc="Elementwise sum (residual connections; a parameter operand broadcasts per sample).")
MUL = OpDef("Mul", "ann", (2, 2), _broadcast_infer, _binary_ref(np.multiply),
            doc="Elementwise product (spike amplitudes, scales).")


def _sum_ref(args: list, attrs: dict) -> list[np.ndarray]:
    total = args[0]
    for a in args[1:]:  # left to right, as a chain of Adds would (the same float32 roundings)
        total = total + a
    return [total.astype(np.result_type(args[0].dtype, np.float32) if args[0].dtype.kind == "f" else args[0].dtype)]


SUM = OpDef("Sum", "ann", (1, 1 << 16), _broadcast_infer, _sum_ref,
            doc="Elementwise sum of any number of inputs, left to right (ONNX Sum): the currents of every synapse "
                "path into one neuron layer.")
CURRENT_SUMS = ("Add", "Sum")  # the ops that sum synapse paths into one neuron layer's input

ANN_OPS = [CONV, WSCONV, GEMM, AVERAGE_POOL, MAX_POOL, BATCH_NORM, RELU, IDENTITY, DROPOUT, FLATTEN, RESHAPE, ADD, MUL,
           SUM]
