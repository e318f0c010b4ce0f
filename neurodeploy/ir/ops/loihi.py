"""Loihi fixed-point ops: their references are the golden simulator, bit-exact with Lava's ``fixed_pt`` models.

Integer semantics, as in lava-nc 0.10 (``proc/dense/models.py::AbstractPyDenseModelBitAcc``,
``proc/conv/models.py::PyConvModelFixed``, ``proc/lif/models.py::AbstractPyLifModelFixed``):

* Synapses send the accumulation of step t-1 at step t (one-step output buffer; step 0 sends 0).
  Dense: a = (W . s) << weight_exp (>> -weight_exp when negative, flooring). Conv: a = clamp24(W * s), where
  the weights handed to Lava already include 2^weight_exp (Lava's CPU Conv ignores ``weight_exp``).
* LIF: u = wrap24(sgn(u)(|u (4096 - (du+1))| >> 12) + (a << 6));
  v = clip(sgn(v)(|v (4096 - dv)| >> 12) + u + (bias_mant << bias_exp), -(2^23 - 1), 2^23 - 1);
  spike when v > vth << 6, then v = 0. The bias acts from step ``bias_start`` on (the host writes bias_mant then).
* A recurrent synapse (LoihiLIF input 2, integer weights [n, n], exponent ``rec_weight_exp``) is a Dense from
  the layer's own spikes back to its input: it adds (W_rec . s[t-1]) << rec_weight_exp to a[t].

Values are integers held in int64 arrays; spikes are float32 0/1 like every other spike tensor. The number
widths (24-bit state, shifts of 6 and 12) are the arithmetic of Lava's models, i.e. the definition of these
ops; the chip limits that quantization must respect (weight bits, mantissa widths) come from the spec.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import TensorType
from neurodeploy.ir.ops.ann import CHIP_WINDOW_ATTRS, _conv_infer, conv2d
from neurodeploy.ir.ops.base import NEURO_DOMAIN, Attr, OpDef

STATE_BITS = 24
STATE_LIMIT = 2 ** (STATE_BITS - 1)  # 2^23
DECAY_SHIFT, DECAY_UNITY = 12, 4096
ACTIVATION_SHIFT, THRESHOLD_SHIFT = 6, 6
CURRENT_DECAY_OFFSET = 1  # Lava ds_offset: du = 4095 decays the current fully in one step


def _delay_one_step(a: np.ndarray) -> np.ndarray:
    out = np.zeros_like(a)
    out[1:] = a[:-1]
    return out


def _shift(a: np.ndarray, exponent: int) -> np.ndarray:
    return np.left_shift(a, exponent) if exponent > 0 else np.right_shift(a, -exponent)


def _timed_input(node, types) -> TensorType:
    x = types[0]
    if x is None or not x.timed:
        raise GraphError(f"{node}: input 0 must be a timed spike tensor [T, N, ...]")
    return x


def _dense_infer(node, types, params, attrs):
    x = _timed_input(node, types)
    w = params[1]
    if w is None or w.ndim != 2 or len(x.shape) != 1 or w.shape[1] != x.shape[0]:
        raise GraphError(f"{node}: weight {None if w is None else list(w.shape)} does not take input {list(x.shape)}")
    return [TensorType((w.shape[0],), "int64", timed=True)]


def _dense_ref(args, attrs):
    s, w = args[0], args[1]
    steps, batch = s.shape[:2]
    acc = s.reshape(steps * batch, -1).astype(np.float64) @ w.T.astype(np.float64)  # exact: |sums| < 2^53
    acc = _shift(np.rint(acc).astype(np.int64), attrs["weight_exp"])
    return [_delay_one_step(acc.reshape(steps, batch, -1))]


def _conv_loihi_infer(node, types, params, attrs):
    x = _timed_input(node, types)
    out = _conv_infer(node, [x, None, None], [None, params[1], None], attrs)[0]
    if attrs["weight_exp"] < 0:
        raise GraphError(f"{node}: Lava's Conv cannot shift right (weight_exp {attrs['weight_exp']} < 0)")
    return [TensorType(out.shape, "int64", timed=True)]


def _conv_loihi_ref(args, attrs):
    s, w = args[0], args[1]
    steps, batch = s.shape[:2]
    # float32 sums of binary spikes times integer weights are exact while they stay below 2^24
    exact32 = float(np.abs(w).max(initial=0)) * w[0].size < 2**24
    flat = s.reshape((steps * batch,) + s.shape[2:]).astype(np.float32 if exact32 else np.float64, copy=False)
    acc = conv2d(flat, w.astype(flat.dtype), None, attrs["strides"], attrs["pads"], attrs["dilations"], attrs["group"])
    acc = acc.reshape((steps, batch) + acc.shape[1:])
    # int32 holds the shifted sums unless they could reach 2^31 (Lava computes in int32 too, then clamps)
    small = exact32 and float(np.abs(w).max(initial=0)) * w[0].size * 2.0 ** attrs["weight_exp"] < 2**31
    out = np.zeros(acc.shape, np.int32 if small else np.int64)
    np.copyto(out[1:], np.rint(acc[:-1]) if not exact32 else acc[:-1], casting="unsafe")  # one-step delay
    out <<= attrs["weight_exp"]
    return [np.clip(out, -STATE_LIMIT, STATE_LIMIT - 1, out=out)]  # Lava signed_clamp(x, bits=24)


def _decay(x: np.ndarray, factor: int) -> np.ndarray:
    if factor == DECAY_UNITY:  # no decay (dv = 0): the shift below would return x unchanged
        return x
    if factor == 0:  # full decay (du = 4095 with Lava's offset of 1)
        return np.zeros_like(x)
    product = x.astype(np.int64) * factor
    return (np.sign(product) * (np.abs(product) >> DECAY_SHIFT)).astype(x.dtype)


def _recurrent_current(w_rec: np.ndarray, fired: np.ndarray, exponent: int) -> np.ndarray:
    """(W_rec . s[t-1]) << exponent for every sample: what the recurrent Dense sends at step t."""
    acc = fired.reshape(len(fired), -1).astype(np.float64) @ w_rec.T.astype(np.float64)  # exact below 2^53
    return _shift(np.rint(acc).astype(np.int64), exponent)


def lif_dynamics(a_in: np.ndarray | None, bias: np.ndarray, attrs: dict, steps: int, batch_shape: tuple,
                 w_rec: np.ndarray | None = None):
    """Yield (v after update, spikes, overflow events or None, active) per step of Lava's fixed-point LIF.

    ``active`` marks the compartments whose update did work: state not zero before the step (u after its decay, or
    v), an input current, or a bias acting; a ``reset_every_step`` neuron's state is cleared first, so only input or
    bias make it active. Silicon and SANA-FE charge those an active update, the rest an inactive
    one (Davies 2018 Table 2; SANA-FE's LIF soma), so the energy model counts them.

    State is int32 when the input cannot push a sum past 2^31 (|a| < 2^24), else int64; decays that are not
    trivial always multiply in int64. ``w_rec`` adds the recurrent Dense's current of the previous step's spikes.
    """
    small = (a_in is None or int(np.abs(a_in).max(initial=0)) < 2**24) and w_rec is None
    dtype = np.int32 if small else np.int64
    u = np.zeros(batch_shape, dtype)
    v = np.broadcast_to(np.asarray(attrs["v_init"], dtype), batch_shape).copy()
    effective_bias = _shift(np.asarray(bias, np.int64), attrs["bias_exp"]).astype(dtype)
    vth = attrs["vth"] << THRESHOLD_SHIFT
    fired = np.zeros(batch_shape, bool)
    biased = np.broadcast_to(effective_bias != 0, batch_shape)
    stateless = attrs.get("reset_every_step", 0)
    for t in range(steps):
        if stateless:  # Lava's LIFReset with reset_interval 1: u and v are zeroed before every step's update
            u[...] = 0
            v[...] = 0
        u = _decay(u, DECAY_UNITY - (attrs["du"] + CURRENT_DECAY_OFFSET))
        active = (u != 0) | (v != 0)
        if t >= attrs["bias_start"]:
            active |= biased
        if a_in is not None:
            active |= a_in[t] != 0
            u = u + (a_in[t].astype(dtype, copy=False) << ACTIVATION_SHIFT)
        if w_rec is not None:
            recurrent = _recurrent_current(w_rec, fired, attrs["rec_weight_exp"]).reshape(batch_shape)
            active |= recurrent != 0
            u = u + (recurrent << ACTIVATION_SHIFT)
        high, low = u > STATE_LIMIT, u <= -STATE_LIMIT
        wrapped = high.any() or low.any()
        if wrapped:  # 24-bit wrap-around of the current
            u[high] -= 2 * STATE_LIMIT
            u[low] += 2 * STATE_LIMIT
        v = _decay(v, DECAY_UNITY - attrs["dv"]) + u
        if t >= attrs["bias_start"]:
            v += effective_bias
        clipped = (v > STATE_LIMIT - 1) | (v < -STATE_LIMIT + 1)
        saturated = clipped.any()
        if saturated:
            np.clip(v, -STATE_LIMIT + 1, STATE_LIMIT - 1, out=v)
        fired = v > vth
        yield v, fired, ((high | low).astype(np.int32) + clipped) if wrapped or saturated else None, active
        v[fired] = 0


def _lif_inputs(node, types, params, attrs):
    a_in, bias = types[0], types[1]
    w_rec = params[2] if len(params) > 2 else None
    shape = bias.shape if bias is not None else params[1].shape if params[1] is not None else None
    if shape is None:
        raise GraphError(f"{node}: needs a bias input (parameter per neuron, or a per-sample activation)")
    if a_in is None and (bias is None or attrs["num_steps"] < 1):
        # the steps and the samples of a layer without input current come from num_steps and the bias
        raise GraphError(f"{node}: without an input current it needs a per-sample bias activation and num_steps >= 1")
    if a_in is not None and (not a_in.timed or a_in.shape != shape):
        raise GraphError(f"{node}: input current {a_in} does not match {len(shape)}-D neurons {list(shape)}")
    if bias is not None and bias.timed:
        raise GraphError(f"{node}: a per-sample bias has no time axis")
    n = int(np.prod(shape))
    if w_rec is not None and (w_rec.shape != (n, n) or len(shape) != 1):
        raise GraphError(f"{node}: recurrent weight {list(w_rec.shape)} must be [{n}, {n}] for 1-D neurons")
    return shape


def _lif_infer(node, types, params, attrs):
    shape = _lif_inputs(node, types, params, attrs)
    out = [TensorType(shape, "float32", timed=True)]
    return out + [TensorType(shape, "int64")] * (len(node.outputs) - 1)


def _run_lif(args, attrs, record):
    a_in, bias = args[0], args[1]
    w_rec = args[2] if len(args) > 2 else None
    steps = a_in.shape[0] if a_in is not None else attrs["num_steps"]
    batch = a_in.shape[1] if a_in is not None else bias.shape[0]
    shape = (batch,) + (a_in.shape[2:] if a_in is not None else bias.shape[1:])
    return record(lif_dynamics(a_in, bias, attrs, steps, shape, w_rec), steps, shape)


def _lif_ref(args, attrs):
    def record(updates, steps, shape):
        fired_steps = np.zeros((steps,) + shape, bool)
        events, updated = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        for t, (_, fired, overflow, active) in enumerate(updates):
            fired_steps[t] = fired
            updated += active
            if overflow is not None:
                events += overflow
        return [fired_steps.astype(np.float32), events, updated]

    return _run_lif(args, attrs, record)


def _readout_ref(args, attrs):
    def record(updates, steps, shape):  # the voltage after the last step (after its reset, as Lava reads it)
        v, updated = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        for v, _, _, active in updates:
            updated += active
        return [v.astype(np.float32), updated]

    return _run_lif(args, attrs, record)


def _readout_infer(node, types, params, attrs):
    shape = _lif_inputs(node, types, params, attrs)
    return [TensorType(shape, "float32")] + [TensorType(shape, "int64")] * (len(node.outputs) - 1)


_LIF_ATTRS = {
    # bounds keep the decay factors in 0..4096: netx's iDecay 0..4096 is du + 1, its vDecay 0..4096 is dv
    "du": Attr("int", doc="current decay, 12 bits; 4095 = no current memory", min=-CURRENT_DECAY_OFFSET,
               max=DECAY_UNITY - CURRENT_DECAY_OFFSET),
    "dv": Attr("int", doc="voltage decay, 12 bits; 0 = no leak", min=0, max=DECAY_UNITY),
    "vth": Attr("int", doc="threshold mantissa (17 bits); spike when v > vth << 6", min=0, max=STATE_LIMIT),
    "bias_exp": Attr("int", 0, doc="bias exponent: effective bias = bias_mant << bias_exp", min=-STATE_BITS,
                     max=STATE_BITS),
    "v_init": Attr("int", 0, doc="voltage at step 0", min=-STATE_LIMIT, max=STATE_LIMIT),
    "num_steps": Attr("int", 0, doc="steps to run when there is no input current (bias-driven layer)", min=0),
    "bias_start": Attr("int", 0, doc="first step at which the bias acts: the layer's synaptic delay, so that it does "
                                     "not integrate its bias before its first input arrives", min=0),
    "reset_every_step": Attr("int", 0, choices=(0, 1),
                             doc="1: u and v are set to 0 before every step's update (Lava's LIFReset with "
                                 "reset_interval 1), the chip form of a stateless threshold neuron"),
}
_LIF_ONLY_ATTRS = {"rec_weight_exp": Attr("int", 0, doc="exponent of the recurrent weights (input 2)",
                                          min=-STATE_BITS, max=STATE_BITS)}

LOIHI_DENSE = OpDef(
    "LoihiDense", "neuron", (2, 2), _dense_infer, _dense_ref,
    attrs={"weight_exp": Attr("int", 0, min=-STATE_BITS, max=STATE_BITS), "num_weight_bits": Attr("int", 8, min=1),
           "sign_mode": Attr("str", "mixed",
           choices=("mixed", "excitatory", "inhibitory"))},
    param_inputs=(1,), domain=NEURO_DOMAIN,
    doc="Lava Dense (bit-accurate): a[t] = (W . s[t-1]) << weight_exp, a[0] = 0; W [out, in] integer weights.",
)
LOIHI_CONV = OpDef(
    "LoihiConv", "neuron", (2, 2), _conv_loihi_infer, _conv_loihi_ref,
    attrs={**CHIP_WINDOW_ATTRS, "weight_exp": Attr("int", 0, max=STATE_BITS)},
    param_inputs=(1,), domain=NEURO_DOMAIN,
    doc="Lava Conv (fixed point): a[t] = clamp24((W x s[t-1]) << weight_exp), a[0] = 0; W as ONNX Conv.",
)
LOIHI_LIF = OpDef(
    "LoihiLIF", "neuron", (2, 3), _lif_infer, _lif_ref, attrs={**_LIF_ATTRS, **_LIF_ONLY_ATTRS}, domain=NEURO_DOMAIN,
    n_outputs=(1, 3), param_inputs=(2,),
    doc="Lava LIF (bit-accurate). Inputs: current a [T, N, ...] (or '' for a bias-driven layer), integer "
        "bias_mant (per-neuron parameter, or per-sample activation [N, ...] computed on the host), and optionally "
        "integer recurrent weights [n, n] (a Dense from its own spikes, one step late). Outputs: spikes, and "
        "optionally the count "
        "of 24-bit current wrap-arounds plus voltage saturations per neuron and sample, and the count of its active "
        "updates (steps with non-zero state, input or bias; see lif_dynamics).",
)
LOIHI_VOLTAGE_READOUT = OpDef(
    "LoihiVoltageReadout", "readout", (2, 2), _readout_infer, _readout_ref, attrs=dict(_LIF_ATTRS),
    domain=NEURO_DOMAIN, n_outputs=(1, 2),
    doc="A LoihiLIF whose voltage after the last step is read out (vth at its maximum, so it does not spike); "
        "optionally also the count of its active updates per neuron and sample.",
)

LOIHI_OPS = [LOIHI_DENSE, LOIHI_CONV, LOIHI_LIF, LOIHI_VOLTAGE_READOUT]
