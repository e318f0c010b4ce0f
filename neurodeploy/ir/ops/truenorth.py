"""TrueNorth ops: one op per layer of neurosynaptic cores; its reference is the tick-level integer simulation.

A TrueNorth neuron j adds, at each tick, S_j^G(i) for every active axon i it is connected to (binary crossbar;
G(i) is the axon's type, S_j one signed 9-bit value per type), subtracts its leak, compares with its
threshold and, with linear reset, subtracts the threshold when it fires (Merolla 2014 Table S2, Cassidy 2013).
Quantization gives each layer integer weight *levels* q_ij and a per-neuron *unit* s_j; the mapping realises
w_ij = q_ij * s_j by connecting input i to several axon copies whose types carry +-s_j and +-3 s_j
(balanced ternary), so the crossbar product of a core equals levels * unit exactly, and this op computes it.

A layer whose fan-in needs more axons than a core has is split into ``fan_in_groups`` K input groups (Gemm:
contiguous inputs; Conv: contiguous input channels). Each group core holds a pair of partial neurons per
output (one with +w, one with -w; the first group's pair also carries +-leak) with linear reset at
threshold // r (``partial_resolution``); one merge neuron per output adds ``merge_unit`` per spike of its positive
partials, subtracts it per negative spike, and fires at merge_unit x threshold / (threshold // r), so r partial
spikes make one output spike. Spikes take one tick per core-to-core hop (axonal delay 1), so partials add
one tick; ``extra_delay`` more ticks come from splitter cores that copy spikes to several axons.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import TensorType
from neurodeploy.ir.ops.ann import CHIP_WINDOW_ATTRS, _conv_infer
from neurodeploy.ir.ops.base import NEURO_DOMAIN, Attr, OpDef
from neurodeploy.ir.ops.ticks import delayed, synaptic_input


def _infer(node, types, params, attrs):
    x, levels = types[0], params[1]
    if x is None or not x.timed:
        raise GraphError(f"{node}: input 0 must be a timed spike tensor [T, N, ...]")
    if levels is None or levels.ndim not in (2, 4):
        raise GraphError(f"{node}: levels must be a parameter [M, F] (dense) or [M, C/group, kh, kw] (conv)")
    m = levels.shape[0]
    for i, what in ((2, "unit"), (3, "threshold"), (4, "leak")):
        if params[i] is None or params[i].shape != (m,):
            raise GraphError(f"{node}: {what} must be a parameter of shape [{m}] (one value per output channel)")
    if levels.ndim == 2:
        if x.shape != (levels.shape[1],):
            raise GraphError(f"{node}: levels {list(levels.shape)} do not take input {list(x.shape)}")
        shape = (m,)
    else:
        shape = _conv_infer(node, [x, None, None], [None, levels, None], attrs)[0].shape
        if attrs["fan_in_groups"] > 1 and attrs["group"] != 1:
            raise GraphError(f"{node}: fan-in groups need an ungrouped conv (group=1)")
    out = [TensorType(shape, "float32", timed=True)]
    return out + [TensorType(shape, "int64")] * (len(node.outputs) - 1)


def _chunks(n: int, k: int) -> list[slice]:
    size = -(-n // k)
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _per_channel(p: np.ndarray, ndim: int) -> np.ndarray:
    return p.astype(np.int64).reshape((-1,) + (1,) * (ndim - 1))


def integrate(a_in: np.ndarray, threshold: np.ndarray, leak: np.ndarray, bits: int,
              reset: str = "subtract") -> tuple[np.ndarray, np.ndarray]:
    """Integrate-and-fire over ticks: V += a - leak, saturate to ``bits`` signed, fire at V >= threshold and subtract
    it (linear reset) or set V to 0 (normal reset, V_reset = 0). Returns (spikes [T, N, ...] bool, saturation
    events per neuron)."""
    limit = 2 ** (bits - 1)
    v = np.zeros(a_in.shape[1:], np.int64)
    fired = np.zeros(a_in.shape, bool)
    events = np.zeros(a_in.shape[1:], np.int64)
    for t in range(a_in.shape[0]):
        v += a_in[t] - leak
        out = (v > limit - 1) | (v < -limit)
        if out.any():
            events += out
            np.clip(v, -limit, limit - 1, out=v)
        fired[t] = v >= threshold
        if reset == "zero":
            v[fired[t]] = 0
        else:
            v -= fired[t] * threshold
    return fired, events


def _ref(args, attrs):
    s, levels, unit, threshold, leak = args[:5]
    w = levels.astype(np.int64) * unit.astype(np.int64).reshape((-1,) + (1,) * (levels.ndim - 1))
    x = delayed(s, 1)  # axonal delay: spikes of tick t arrive at tick t + 1
    ndim = 1 if levels.ndim == 2 else 3
    thr, lk = _per_channel(threshold, ndim), _per_channel(leak, ndim)
    bits = attrs["membrane_bits"]
    if attrs["fan_in_groups"] == 1:
        fired, events = integrate(synaptic_input(x, w, attrs), thr, lk, bits, attrs["reset"])
        partial_spikes = np.zeros_like(events)
    else:
        # partial neurons fire every 1/r of the threshold; the merge neuron fires per r of their spikes (rounded)
        partial_thr = np.maximum(1, thr // attrs["partial_resolution"])
        merge_thr = np.rint(attrs["merge_unit"] * thr / partial_thr).astype(np.int64)
        merged, events, partial_spikes = 0, 0, 0
        for k, part in enumerate(_chunks(w.shape[1], attrs["fan_in_groups"])):
            a = synaptic_input(x[:, :, part], w[:, part], attrs)
            bias = lk if k == 0 else 0  # the first group's pair carries the leak (+ and -)
            positive, e1 = integrate(a, partial_thr, bias, bits)
            negative, e2 = integrate(-a, partial_thr, -bias, bits)
            merged = merged + positive.astype(np.int64) - negative
            events, partial_spikes = events + e1 + e2, partial_spikes + positive.sum(0) + negative.sum(0)
        fired, e3 = integrate(delayed(merged, 1) * attrs["merge_unit"], merge_thr, 0, bits, attrs["reset"])
        events = events + e3
    return [delayed(fired.astype(np.float32), attrs["extra_delay"]), events, partial_spikes.astype(np.int64)]


TRUENORTH_LAYER = OpDef(
    "TrueNorthLayer", "neuron", (5, 5), _infer, _ref,
    attrs={**CHIP_WINDOW_ATTRS,
           "fan_in_groups": Attr("int", 1, doc="input groups K; K > 1 adds partial neurons and a merge neuron", min=1),
           "merge_unit": Attr("int", 0, doc="merge neuron weight per partial spike (K > 1)", min=0),
           "partial_resolution": Attr("int", 1, doc="r: partial neurons fire at threshold // r (K > 1)", min=1),
           "extra_delay": Attr("int", 0, doc="ticks added by splitter cores after this layer", min=0),
           "membrane_bits": Attr("int", 20, min=2, max=62),
           "reset": Attr("str", "subtract", choices=("subtract", "zero"),
                         doc="output neurons' reset: linear (V -= threshold) or normal (V = 0)"),
           "axons_per_input": Attr("int", 4, doc="axon copies of each input", min=1),
           "codebook": Attr("ints", (1, -1, 3, -3), doc="multiples of the unit carried by axon types 0..3")},
    param_inputs=(1, 2, 3, 4), domain=NEURO_DOMAIN, n_outputs=(1, 3),
    doc="A layer of TrueNorth cores (see module doc). Inputs: spikes [T, N, ...], integer levels, per-channel unit, "
        "threshold and leak. Outputs: spikes, and optionally the 20-bit saturation events per neuron and sample.",
)

TRUENORTH_OPS = [TRUENORTH_LAYER]
