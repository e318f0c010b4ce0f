"""Temporal-coding neuron ops (papers/001): time-to-first-spike (TTFS) and self-calibrating TTFS (SC-TTFS).

A layer works in two phases of ``num_steps`` (T) steps each, pipelined layer by layer (latency = layers x T):

* decoding: the neuron sums W * theta(t) of its senders for every spike received at step t of their window,
  plus its bias. In the IR the sum is explicit: ``TTFSDecode`` turns a sender's spikes back into
  z = sum_t theta_e(t) s_e[t] + theta_c(t) s_c[t], and the following Conv/Gemm (linear) computes W z + b,
  which equals the per-spike sum. ``TTFS``/``SCTTFS`` receive that membrane potential v (no time axis).
* encoding: with theta(t) = alpha * exp(-k t + beta), t = 0..T-1 within the layer's own window,
  - ``TTFS``: one spike at the first t with v >= theta_e(t) (eq. 9); none when v stays below (eq. 10);
  - ``SCTTFS``: that encoding spike, then v_r = v - theta_e(t_e) (eq. 11) and a calibration spike at the first
    t >= t_e with v_r >= theta_c(t) (eq. 12-13); then v = 0, so at most two spikes.

The spike trains are [T, N, ...] 0/1 tensors like every other spike tensor. A chip computes the same thing
step by step (see ``LoihiTTFS``), with thresholds and decoding factors from lookup tables.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import TensorType
from neurodeploy.ir.ops.base import NEURO_DOMAIN, Attr, OpDef


def threshold_curve(alpha: float, beta: float, k: float, steps: int) -> np.ndarray:
    """theta(t) = alpha * exp(-k t + beta) for t = 0..steps-1 (float64)."""
    return alpha * np.exp(-k * np.arange(steps, dtype=np.float64) + beta)


def first_crossing(v: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Index of the first t with v >= curve[t] for a strictly decreasing curve; len(curve) where there is none."""
    ascending = curve[::-1]
    return len(curve) - np.searchsorted(ascending, v, side="right")


def encode_times(v: np.ndarray, enc: np.ndarray, cal: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Spike times (T = no spike) of the encoding spike and, with a calibration curve, the calibration spike."""
    steps = len(enc)
    t_enc = first_crossing(v, enc)
    if cal is None:
        return t_enc, None
    fired = t_enc < steps
    residual = v - np.where(fired, enc[np.minimum(t_enc, steps - 1)], 0.0)
    t_cal = np.maximum(first_crossing(residual, cal), t_enc)
    return t_enc, np.where(fired, t_cal, steps)


def spike_train(times: np.ndarray, steps: int) -> np.ndarray:
    """[T, *times.shape] 0/1 train with a spike at each time < T."""
    return (np.arange(steps).reshape((-1,) + (1,) * times.ndim) == times[None]).astype(np.float32)


def curves(attrs: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """The encoding and (for SC-TTFS) calibration threshold curves of a node's attributes."""
    steps = attrs["num_steps"]
    enc = threshold_curve(attrs["alpha"], attrs["beta"], attrs["k"], steps)
    if attrs.get("alpha_c") is None:
        return enc, None
    return enc, threshold_curve(attrs["alpha_c"], attrs["beta_c"], attrs["k_c"], steps)


def _check_curves(node, attrs: dict) -> None:
    if len({attrs.get(k) is None for k in _CALIBRATION}) > 1:
        raise GraphError(f"{node}: the calibration threshold needs alpha_c, beta_c and k_c together")
    for suffix in ("", "_c"):
        if attrs.get("alpha" + suffix) is None:
            continue
        if attrs["alpha" + suffix] <= 0 or attrs["k" + suffix] <= 0:
            raise GraphError(f"{node}: threshold{suffix} needs alpha > 0 and k > 0 (a decaying threshold), got "
                             f"alpha={attrs['alpha' + suffix]}, k={attrs['k' + suffix]}")


def _encode_infer(node, types, params, attrs):
    x = types[0]
    if x is None or x.timed:
        raise GraphError(f"{node}: input must be the membrane potential without a time axis, got {x}")
    _check_curves(node, attrs)
    n_out = 1 if attrs.get("alpha_c") is None else 2
    if len(node.outputs) != n_out:
        raise GraphError(f"{node}: {len(node.outputs)} outputs, but its thresholds describe {n_out} spike train(s)")
    return [TensorType(x.shape, "float32", timed=True)] * n_out


def _encode_ref(args, attrs):
    enc, cal = curves(attrs)
    t_enc, t_cal = encode_times(args[0].astype(np.float64), enc, cal)
    out = [spike_train(t_enc, len(enc))]
    return out if t_cal is None else out + [spike_train(t_cal, len(enc))]


def _decode_infer(node, types, params, attrs):
    types = types[:len(node.inputs)]
    if any(t is None or not t.timed for t in types):
        raise GraphError(f"{node}: inputs must be spike trains [T, N, ...]")
    if len({t.shape for t in types}) > 1:
        raise GraphError(f"{node}: the spike trains have different shapes {[list(t.shape) for t in types]}")
    if len(types) != (1 if attrs.get("alpha_c") is None else 2):
        raise GraphError(f"{node}: {len(types)} spike inputs, but the thresholds describe "
                         f"{'1 (TTFS)' if attrs.get('alpha_c') is None else '2 (SC-TTFS)'}")
    _check_curves(node, attrs)
    return [TensorType(types[0].shape, "float32", timed=False)]


def _decode_ref(args, attrs):
    enc, cal = curves(attrs)
    weights = [enc] + ([cal] if cal is not None else [])
    total = sum(np.tensordot(w, s.astype(np.float64), axes=(0, 0)) for w, s in zip(weights, args))
    return [total.astype(np.float32)]


_CURVE = {
    "num_steps": Attr("int", doc="T, steps of one layer's window", min=1),
    "alpha": Attr("float", doc="encoding threshold theta_e(t) = alpha * exp(-k t + beta)"),
    "beta": Attr("float"),
    "k": Attr("float"),
}
_CALIBRATION = {
    "alpha_c": Attr("float", None, doc="calibration threshold theta_c(t) = alpha_c * exp(-k_c t + beta_c)"),
    "beta_c": Attr("float", None),
    "k_c": Attr("float", None),
}

TTFS = OpDef(
    "TTFS", "encode", (1, 1), _encode_infer, _encode_ref, attrs=dict(_CURVE), domain=NEURO_DOMAIN,
    doc="Time-to-first-spike neuron: membrane v (after decoding) -> one spike at the first t in 0..T-1 with "
        "v >= alpha exp(-k t + beta), none if v stays below.",
)
SCTTFS = OpDef(
    "SCTTFS", "encode", (1, 1), _encode_infer, _encode_ref, attrs={**_CURVE, **_CALIBRATION}, domain=NEURO_DOMAIN,
    n_outputs=(1, 2),
    doc="Self-calibrating TTFS neuron: outputs the encoding spike train (as TTFS) and the calibration spike "
        "train (first t >= t_e with v - theta_e(t_e) >= theta_c(t)); at most one spike each.",
)
TTFS_DECODE = OpDef(
    "TTFSDecode", "readout", (1, 2), _decode_infer, _decode_ref, attrs={**_CURVE, **_CALIBRATION},
    domain=NEURO_DOMAIN,
    doc="Value carried by TTFS/SC-TTFS spike trains: sum_t theta_e(t) s_e[t] (+ theta_c(t) s_c[t]); the "
        "thresholds are the sender's.",
)

TEMPORAL_OPS = [TTFS, SCTTFS, TTFS_DECODE]
ENCODING_OPS = ("TTFS", "SCTTFS")
