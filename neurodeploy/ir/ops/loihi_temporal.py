"""Fixed-point TTFS / SC-TTFS neurons for Loihi 2 (programmable neurons), run by neurodeploy's own Lava process
model (``backends/loihi/lava_temporal.py``). The references here are the golden simulator; the Lava model calls
the same :func:`ttfs_step`, so the arithmetic is defined once.

Per neuron: a signed saturating ``state_bits`` voltage v, starting at the bias (per-neuron integer, or a
per-sample value computed on the host for the first layer), and two flags (encoding / calibration spike sent).
With window T and encoding start E (global steps), at step t:

* decoding, for t in [E-T+1, E] (r = t - (E-T+1), the sender's step; synapses delay spikes by one step):
  v = sat(v + ((a_enc[t] * decode_enc[r] + a_cal[t] * decode_cal[r]) >> decode_shift)), where a are the integer
  synaptic currents of the sender's encoding and calibration spikes (Lava Dense/Conv) and the decode tables hold
  theta_sender(r) in this layer's voltage units times 2^decode_shift;
* encoding, for t in [E, E+T) (r = t - E): encoding spike when not yet sent and v >= threshold_enc[r], then
  v -= threshold_enc[r]; with calibration, calibration spike when the encoding spike was sent, the calibration
  spike was not, and v >= threshold_cal[r], then v = 0 (TTFS: v = 0 after its one spike).

Step E does both: the last input arrives, then the first threshold comparison. Lookup tables replace the
exponentials (papers/001 §3.3), so the chip needs no exp and no multiplication by a time-varying threshold.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import TensorType
from neurodeploy.ir.ops.base import NEURO_DOMAIN, Attr, OpDef


def ttfs_step(t: int, v: np.ndarray, sent: np.ndarray, a_enc, a_cal, attrs: dict) -> tuple[np.ndarray, np.ndarray]:
    """One step of the fixed-point TTFS neuron; updates ``v`` and ``sent`` ([2, *shape] bool) in place and returns
    the encoding and calibration spikes (bool) of step t. ``a_enc``/``a_cal`` are this step's currents or None."""
    window, start = attrs["window"], attrs["encode_start"]
    limit = 2 ** (attrs["state_bits"] - 1) - 1
    r = t - (start - window + 1)
    if 0 <= r < window and a_enc is not None:
        increment = a_enc.astype(np.int64) * attrs["decode_enc"][r]
        if a_cal is not None:
            increment += a_cal.astype(np.int64) * attrs["decode_cal"][r]
        np.clip(v + (increment >> attrs["decode_shift"]), -limit, limit, out=v)
    fire_enc = np.zeros(v.shape, bool)
    fire_cal = np.zeros(v.shape, bool)
    r = t - start
    if 0 <= r < window and len(attrs["threshold_enc"]):
        fire_enc = ~sent[0] & (v >= attrs["threshold_enc"][r])
        v -= np.where(fire_enc, attrs["threshold_enc"][r], 0)
        sent[0] |= fire_enc
        if len(attrs["threshold_cal"]):
            fire_cal = sent[0] & ~sent[1] & (v >= attrs["threshold_cal"][r])
            sent[1] |= fire_cal
            v[fire_cal] = 0
        else:
            v[fire_enc] = 0
    return fire_enc, fire_cal


def _neuron_shape(node, types, params, attrs) -> tuple:
    """The neurons' shape (from the bias), after checking the currents and decoding tables against it."""
    currents = [t for t in types[:2] if t is not None]
    bias = types[2]
    shape = bias.shape if bias is not None else params[2].shape if params[2] is not None else None
    if shape is None:
        raise GraphError(f"{node}: needs a bias input (per-neuron parameter or per-sample host value)")
    if bias is not None and bias.timed:
        raise GraphError(f"{node}: a per-sample bias has no time axis, got {bias}")
    if types[0] is None and types[1] is not None:
        raise GraphError(f"{node}: a calibration current needs the encoding current")
    if not currents and (bias is None or attrs["num_steps"] < 1):
        # the steps and the samples of a host-driven layer come from num_steps and the per-sample bias
        raise GraphError(f"{node}: without input currents it needs a per-sample bias activation and num_steps >= 1")
    for t in currents:
        if not t.timed or t.shape != shape:
            raise GraphError(f"{node}: input current {t} does not match neurons {list(shape)}")
    if currents and len(attrs["decode_enc"]) != attrs["window"]:
        raise GraphError(f"{node}: decode_enc has {len(attrs['decode_enc'])} entries for a window of {attrs['window']}")
    if len(currents) == 2 and len(attrs["decode_cal"]) != attrs["window"]:
        raise GraphError(f"{node}: a calibration input needs decode_cal with {attrs['window']} entries")
    return shape


def _neuron_infer(node, types, params, attrs):
    shape = _neuron_shape(node, types, params, attrs)
    for name in ("threshold_enc", "threshold_cal"):
        if attrs[name] and len(attrs[name]) != attrs["window"]:
            raise GraphError(f"{node}: {name} has {len(attrs[name])} entries for a window of {attrs['window']}")
    if not attrs["threshold_enc"]:
        raise GraphError(f"{node}: a spiking TTFS layer needs threshold_enc")
    n_out = 2 if attrs["threshold_cal"] else 1
    if len(node.outputs) != n_out:
        raise GraphError(f"{node}: {len(node.outputs)} outputs, expected {n_out} (encoding [, calibration] spikes)")
    return [TensorType(shape, "float32", timed=True)] * n_out


def _readout_infer(node, types, params, attrs):
    shape = _neuron_shape(node, types, params, attrs)
    return [TensorType(shape, "float32")]


def run_ttfs(args: list, attrs: dict):
    """Yield (v, encoding spikes, calibration spikes) after every step; args = [a_enc, a_cal, bias]."""
    a_enc, a_cal, bias = args
    steps = a_enc.shape[0] if a_enc is not None else attrs["num_steps"]
    batch = a_enc.shape[1] if a_enc is not None else bias.shape[0]
    shape = (batch,) + (a_enc.shape[2:] if a_enc is not None else bias.shape[1:])
    tables = {**attrs, **{k: np.asarray(attrs[k], np.int64) for k in
                          ("decode_enc", "decode_cal", "threshold_enc", "threshold_cal")}}
    v = np.broadcast_to(np.asarray(bias, np.int64), shape).copy()
    sent = np.zeros((2,) + shape, bool)
    for t in range(steps):
        fired = ttfs_step(t, v, sent, None if a_enc is None else a_enc[t], None if a_cal is None else a_cal[t],
                          tables)
        yield v, fired


def _neuron_ref(args, attrs):
    enc, cal = [], []
    for _, (fire_enc, fire_cal) in run_ttfs(args, attrs):
        enc.append(fire_enc)
        cal.append(fire_cal)
    out = [np.stack(enc).astype(np.float32)]
    return out + ([np.stack(cal).astype(np.float32)] if attrs["threshold_cal"] else [])


def _readout_ref(args, attrs):
    v = None
    for v, _ in run_ttfs(args, attrs):
        pass
    return [v.astype(np.float32)]


_ATTRS = {
    "window": Attr("int", doc="T, steps of one layer's window", min=1),
    "encode_start": Attr("int", doc="global step of this layer's first threshold comparison", min=0),
    "num_steps": Attr("int", 0, doc="steps to run when there is no input current (host-driven first layer)", min=0),
    "state_bits": Attr("int", 24, doc="signed width of the saturating voltage", min=2, max=62),
    "decode_shift": Attr("int", 0, min=0, max=62),
    "decode_enc": Attr("ints", (), doc="decoding table of the sender's encoding spikes, one entry per sender step"),
    "decode_cal": Attr("ints", (), doc="decoding table of the sender's calibration spikes"),
}
_THRESHOLDS = {
    "threshold_enc": Attr("ints", (), doc="encoding threshold table (voltage units), one entry per step"),
    "threshold_cal": Attr("ints", (), doc="calibration threshold table; empty = TTFS (one spike)"),
}

LOIHI_TTFS = OpDef(
    "LoihiTTFS", "neuron", (3, 3), _neuron_infer, _neuron_ref, attrs={**_ATTRS, **_THRESHOLDS},
    domain=NEURO_DOMAIN, n_outputs=(1, 2),
    doc="Fixed-point TTFS / SC-TTFS neuron (see module docstring). Inputs: encoding current, calibration current "
        "('' when the sender is TTFS or for the first layer), bias. Outputs: encoding [, calibration] spikes.",
)
LOIHI_TTFS_READOUT = OpDef(
    "LoihiTTFSReadout", "readout", (3, 3), _readout_infer, _readout_ref, attrs={**_ATTRS, **_THRESHOLDS},
    domain=NEURO_DOMAIN,
    doc="The decoding half of LoihiTTFS: the voltage after the last step is the output layer's value.",
)

LOIHI_TEMPORAL_OPS = [LOIHI_TTFS, LOIHI_TTFS_READOUT]
