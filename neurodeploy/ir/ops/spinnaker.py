"""SpiNNaker ops (sPyNNaker's integer arithmetic): their references are the SpiNNaker simulator.

* ``SpiNNakerSynapses``: 16-bit unsigned weights, excitatory (W > 0) and inhibitory (W < 0) synapse types. A
  spike of tick t lands in the ring buffer slot of tick t + 1 (delay 1); each slot is 16 bits and saturates
  (counted). At tick t+1 the slot becomes input in s16.15: (exc << left_shift_exc) - (inh << left_shift_inh),
  as sPyNNaker's ``synapses_convert_weight_to_input``.
* ``SpiNNakerIF``: IF_curr_delta, state s16.15 in 32 bits: v = v e + input + offset (saturating, counted); spike
  when v >= v_thresh, then v = v_reset. ``exp_tc`` = e = exp(-dt / tau_m) in s16.15 (2^15: no leak). sPyNNaker's
  closed form V = a - e (a - V), a = R I, is V e + (1 - e) R I: the export chooses R (1 - e) = 1, so the input
  adds as it is; the product v e is rounded to the nearest raw unit (half up; sPyNNaker's decay multiply, not
  checked on a machine here). ``SpiNNakerVoltageReadout`` returns v after the last tick of a population that
  never fires.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import TensorType
from neurodeploy.ir.ops.ann import CHIP_WINDOW_ATTRS, _conv_infer
from neurodeploy.ir.ops.base import NEURO_DOMAIN, Attr, OpDef
from neurodeploy.ir.ops.ticks import delayed, synaptic_input

RING_LIMIT = 2 ** 16 - 1     # one 16-bit ring-buffer slot
STATE_MIN, STATE_MAX = -2 ** 31, 2 ** 31 - 1  # s16.15 in a 32-bit word


def _syn_infer(node, types, params, attrs):
    x, w = types[0], params[1]
    if x is None or not x.timed:
        raise GraphError(f"{node}: input 0 must be a timed spike tensor [T, N, ...]")
    if w is None or w.ndim not in (2, 4) or np.abs(w).max(initial=0) > RING_LIMIT:
        raise GraphError(f"{node}: weight must be a parameter [M, F] or [M, C/group, kh, kw] within +-{RING_LIMIT}")
    if w.ndim == 2:
        if x.shape != (w.shape[1],):
            raise GraphError(f"{node}: weight {list(w.shape)} does not take input {list(x.shape)}")
        shape = (w.shape[0],)
    else:
        shape = _conv_infer(node, [x, None, None], [None, w, None], attrs)[0].shape
    return [TensorType(shape, "int64", timed=True)] + [TensorType(shape, "int64")] * (len(node.outputs) - 1)


def _syn_ref(args, attrs):
    s, w = args[0], args[1].astype(np.int64)
    x = delayed(s, 1)
    exc = synaptic_input(x, np.maximum(w, 0), attrs)
    inh = synaptic_input(x, np.maximum(-w, 0), attrs)
    events = (exc > RING_LIMIT).sum(0) + (inh > RING_LIMIT).sum(0)
    current = (np.minimum(exc, RING_LIMIT) << attrs["left_shift_exc"]) - \
        (np.minimum(inh, RING_LIMIT) << attrs["left_shift_inh"])
    return [current, events.astype(np.int64)]


def if_dynamics(current, offset, attrs, steps: int, shape: tuple):
    """Yield (v, spikes, saturation events or None) per tick of the s16.15 IF_curr_delta neuron."""
    v = np.full(shape, attrs["v_init"], np.int64)
    offset = np.zeros(shape, np.int64) + (0 if offset is None else offset.astype(np.int64))
    leak = attrs["exp_tc"] != UNITY
    for t in range(steps):
        if leak:
            v = (v * attrs["exp_tc"] + UNITY // 2) >> FRACTION
        v += offset + (current[t] if current is not None else 0)
        out = (v > STATE_MAX) | (v < STATE_MIN)
        if out.any():
            np.clip(v, STATE_MIN, STATE_MAX, out=v)
        fired = v >= attrs["v_thresh"]
        yield v, fired, out if out.any() else None
        v[fired] = attrs["v_reset"]


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _neuron_shape(node, types, params, attrs):
    current, offset = types[0], types[1]
    shape = current.shape if current is not None else offset.shape if offset is not None else \
        params[1].shape if params[1] is not None else None
    if shape is None:
        raise GraphError(f"{node}: needs an input current or an offset")
    if current is not None and (not current.timed or not current.dtype.startswith("int")):
        raise GraphError(f"{node}: the input current must be an integer timed tensor [T, N, ...], got {current}")
    if offset is not None and (offset.timed or not offset.dtype.startswith("int") or offset.shape != shape):
        raise GraphError(f"{node}: a per-sample offset must be an integer [N, {', '.join(map(str, shape))}], "
                         f"got {offset}")
    if params[1] is not None and (params[1].dtype.kind not in "iu" or not _broadcasts_to(params[1].shape, shape)):
        raise GraphError(f"{node}: the offset parameter must hold integers per neuron {list(shape)}, got "
                         f"{params[1].dtype} {list(params[1].shape)}")
    if current is None and (offset is None or attrs["num_steps"] < 1):
        # the ticks and the samples of a layer without input current come from num_steps and the offset
        raise GraphError(f"{node}: without an input current it needs a per-sample offset and num_steps >= 1")
    return shape


def _if_infer(node, types, params, attrs):
    shape = _neuron_shape(node, types, params, attrs)
    return [TensorType(shape, "float32", timed=True)] + [TensorType(shape, "int64")] * (len(node.outputs) - 1)


def _run(args, attrs):
    current, offset = args[0], args[1]
    steps = current.shape[0] if current is not None else attrs["num_steps"]
    batch_shape = current.shape[1:] if current is not None else offset.shape
    return if_dynamics(current, offset, attrs, steps, batch_shape), steps, batch_shape


def _if_ref(args, attrs):
    updates, steps, shape = _run(args, attrs)
    fired_steps = np.zeros((steps,) + shape, np.float32)
    events = np.zeros(shape, np.int64)
    for t, (_, fired, out) in enumerate(updates):
        fired_steps[t] = fired
        if out is not None:
            events += out
    return [fired_steps, events]


def _readout_infer(node, types, params, attrs):
    return [TensorType(_neuron_shape(node, types, params, attrs), "float32")]


def _readout_ref(args, attrs):
    updates, _, shape = _run(args, attrs)
    v = np.zeros(shape, np.int64)
    for v, _, _ in updates:
        pass
    return [v.astype(np.float32)]


FRACTION = 15
UNITY = 1 << FRACTION  # 1.0 in s16.15
_STATE = {"min": STATE_MIN, "max": STATE_MAX}
_NEURON = {"v_thresh": Attr("int", doc="s16.15 raw; STATE_MAX + 1 never fires", min=STATE_MIN, max=STATE_MAX + 1),
           "v_reset": Attr("int", 0, **_STATE),
           "v_init": Attr("int", 0, **_STATE),
           "exp_tc": Attr("int", UNITY, doc="membrane decay e = exp(-dt/tau_m) per tick, s16.15 raw; 2^15 = no leak",
                          min=0, max=UNITY),
           "num_steps": Attr("int", 0, doc="ticks to run when there is no input current (offset-driven layer)", min=0)}

SPINNAKER_SYNAPSES = OpDef(
    "SpiNNakerSynapses", "neuron", (2, 2), _syn_infer, _syn_ref,
    attrs={**CHIP_WINDOW_ATTRS, "left_shift_exc": Attr("int", 0, min=0, max=47),
           "left_shift_inh": Attr("int", 0, min=0, max=47)},
    param_inputs=(1,), domain=NEURO_DOMAIN, n_outputs=(1, 2),
    doc="sPyNNaker synapses (see module doc). Outputs: s16.15 input per tick, and ring-buffer saturations.",
)
SPINNAKER_IF = OpDef(
    "SpiNNakerIF", "neuron", (2, 2), _if_infer, _if_ref, attrs=dict(_NEURON), domain=NEURO_DOMAIN, n_outputs=(1, 2),
    doc="IF_curr_delta in s16.15. Inputs: input per tick (or '') and offset (i_offset per tick, a parameter or "
        "a per-sample activation computed on the host). Outputs: spikes, and optionally saturation events.",
)
SPINNAKER_VOLTAGE_READOUT = OpDef(
    "SpiNNakerVoltageReadout", "readout", (2, 2), _readout_infer, _readout_ref, attrs=dict(_NEURON),
    domain=NEURO_DOMAIN, doc="A SpiNNakerIF that never fires; its s16.15 voltage after the last tick is read out.",
)

SPINNAKER_OPS = [SPINNAKER_SYNAPSES, SPINNAKER_IF, SPINNAKER_VOLTAGE_READOUT]
