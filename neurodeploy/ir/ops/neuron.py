"""Neuromorphic ops (ONNX domain ``ai.neurodeploy``): encoders, spiking neurons and readouts.

Time-step semantics, shared by all of them: a timed value is ``[T, N, *shape]`` and step t of every layer
is computed from step t of its inputs (no feed-forward synaptic delay in the IR; a backend whose hardware adds
delays models them itself). The one exception is a recurrent synapse (input 2 of IF/LIF): it carries the
layer's own spikes of step t-1 into step t, as every chip does. Neurons start each sample from ``v_init`` and
carry state only along the time axis. One step of IF/LIF, in this order (docs/snn.md gives the derivation
from continuous-time models and the settings that reproduce snnTorch, Norse and NIR):

    i[t] = (1 - i_decay) i[t-1] + x[t] + W_rec s[t-1]
    v[t] = (1 - v_decay) v'[t-1] + i[t] + bias - (v_th s[t-1] when reset_timing = 'next_step')
    s[t] = v[t] >= v_th  (fire_when 'ge')  or  v[t] > v_th  ('gt'); the spike is 1.0
    v'[t] = v[t] - v_th s[t] ('subtract'), 0 where s[t] ('zero'), or v[t] ('none'; and for 'next_step')

A neuron in its refractory period (``refractory`` steps after a spike) keeps v at its reset value and
neither integrates nor fires; its current still evolves.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import Node, TensorType
from neurodeploy.ir.ops.base import NEURO_DOMAIN, Attr, OpDef


def _input(node: Node, types: list, timed: bool) -> TensorType:
    acts = [t for t in types if t is not None]
    if len(acts) != 1:
        raise GraphError(f"{node}: expects exactly one activation input, got {len(acts)}")
    if acts[0].timed != timed:
        want = "a time axis [T, N, ...]" if timed else "no time axis"
        raise GraphError(f"{node}: input must have {want}, got {acts[0]}")
    return acts[0]


def _encode_infer(node, types, params, attrs):
    x = _input(node, types, timed=False)
    return [TensorType(x.shape, "float32", timed=True)]


def _neuron_infer(node, types, params, attrs):
    x = _input(node, types, timed=True)
    if attrs["v_th"] <= 0:
        raise GraphError(f"{node}: threshold v_th must be > 0, got {attrs['v_th']}")
    if attrs.get("dt") is not None and attrs["dt"] <= 0:
        raise GraphError(f"{node}: dt must be > 0 seconds, got {attrs['dt']}")
    return [TensorType(x.shape, "float32", timed=True)]


def _readout_infer(node, types, params, attrs):
    x = _input(node, types, timed=True)
    return [TensorType(x.shape, "float32", timed=False)]


# ------------------------------------------------------------------ encoders


def _direct_ref(args, attrs):
    x = args[0]
    return [np.broadcast_to(x, (attrs["num_steps"],) + x.shape)]


def _rate_ref(args, attrs):
    x = args[0]
    rate = np.clip(attrs["gain"] * x, 0.0, None)
    prob = np.minimum(rate, 1.0) if attrs["distribution"] == "bernoulli" else 1.0 - np.exp(-rate)
    rng = np.random.default_rng(attrs["seed"])
    draws = rng.random((attrs["num_steps"],) + x.shape, dtype=np.float32)
    return [(draws < prob).astype(np.float32)]


DIRECT_ENCODE = OpDef(
    "DirectEncode", "encode", (1, 1), _encode_infer, _direct_ref,
    attrs={"num_steps": Attr("int", doc="T, the number of time steps", min=1)},
    domain=NEURO_DOMAIN,
    doc="Analog (direct) input: the same real-valued input x is presented at every one of T steps.",
)
RATE_ENCODE = OpDef(
    "RateEncode", "encode", (1, 1), _encode_infer, _rate_ref,
    attrs={
        "num_steps": Attr("int", min=1),
        "distribution": Attr("str", "bernoulli", choices=("bernoulli", "poisson")),
        "gain": Attr("float", 1.0, doc="spike probability (bernoulli) or rate (poisson) per unit input"),
        "seed": Attr("int", 0, min=0),  # numpy refuses negative seeds
    },
    domain=NEURO_DOMAIN,
    doc="Stochastic rate code: at each step spike with p = clip(gain*x, 0, 1) (bernoulli) "
        "or p = 1 - exp(-gain*x), the chance of at least one Poisson event in the step (poisson).",
)

# ------------------------------------------------------------------ neurons


def _recurrent_weight(node: Node, params: list, shape: tuple) -> None:
    w = params[2] if len(params) > 2 else None
    if w is None:
        return
    n = int(np.prod(shape))
    if w.ndim != 2 or w.shape != (n, n) or len(shape) != 1:
        raise GraphError(f"{node}: recurrent weight {list(w.shape)} must be [{n}, {n}] for 1-D neurons {list(shape)}")


def _spiking_infer(node, types, params, attrs):
    out = _neuron_infer(node, types, params, attrs)
    shape = out[0].shape
    bias = params[1] if len(params) > 1 else None
    if bias is not None and np.broadcast_shapes(bias.shape, shape) != tuple(shape):
        raise GraphError(f"{node}: bias {list(bias.shape)} does not broadcast to neurons {list(shape)}")
    _recurrent_weight(node, params, shape)
    return out


def _integrate_and_fire(args: list, attrs: dict, v_decay: float, i_decay: float) -> np.ndarray:
    """Shared loop of IF and LIF over the time axis of x [T, N, ...] (module docstring); returns spikes.

    State is float32 and every operation is one float32 operation in the order of the module docstring: the same
    roundings as a float32 torch loop (neurodeploy.nn) and the libraries whose files NIR carries, so that a
    potential that lands on the threshold is decided alike."""
    f32 = np.float32
    x = args[0].astype(f32, copy=False)
    bias = args[1].astype(f32) if len(args) > 1 and args[1] is not None else None
    w_rec = args[2].astype(f32).T if len(args) > 2 and args[2] is not None else None
    v_th, reset, later = f32(attrs["v_th"]), attrs["reset"], attrs["reset_timing"] == "next_step"
    keep_v, keep_i = f32(1.0 - v_decay), f32(1.0 - i_decay)
    fire = np.greater_equal if attrs["fire_when"] == "ge" else np.greater
    v = np.full(x.shape[1:], attrs["v_init"], dtype=f32)
    current = np.zeros(x.shape[1:], dtype=f32)
    fired = np.zeros(x.shape[1:], dtype=f32)  # spikes of the previous step
    refractory = np.zeros(x.shape[1:], dtype=np.int64)
    spikes = np.empty(x.shape, dtype=f32)
    for t in range(x.shape[0]):
        current = x[t] if i_decay == 1.0 else current * keep_i + x[t]
        if w_rec is not None:
            current = current + fired @ w_rec
        previous = v * (f32(1) - fired) if later and reset == "zero" else v
        integrated = (previous if v_decay == 0.0 else previous * keep_v) + current
        if bias is not None:
            integrated = integrated + bias
        if later and reset == "subtract":
            integrated = integrated - v_th * fired
        resting = refractory > 0
        held = v  # a resting neuron keeps its reset value (a reset left for this step is applied now)
        if later and reset == "subtract":
            held = v - v_th * fired
        elif later and reset == "zero":
            held = v * (f32(1) - fired)
        v = np.where(resting, held, integrated)
        fired = (fire(v, v_th) & ~resting).astype(f32)
        spikes[t] = fired
        if not later and reset == "subtract":
            v = v - v_th * fired
        elif not later and reset == "zero":
            v = v * (f32(1) - fired)
        refractory = np.where(fired > 0, attrs["refractory"], np.maximum(refractory - 1, 0))
    return spikes


_NEURON_ATTRS = {
    "v_th": Attr("float", doc="firing threshold"),
    "reset": Attr("str", "subtract", choices=("subtract", "zero", "none"),
                  doc="after a spike: v -= v_th, v = 0, or no reset"),
    "reset_timing": Attr("str", "immediate", choices=("immediate", "next_step"),
                         doc="'immediate': the reset acts on v right after the spike (and then decays); "
                             "'next_step': it acts in the next step's update, after the decay (snnTorch)"),
    "fire_when": Attr("str", "ge", choices=("ge", "gt"), doc="spike when v >= v_th ('ge') or v > v_th ('gt')"),
    "refractory": Attr("int", 0, min=0, doc="steps after a spike during which v holds and nothing fires"),
    "v_init": Attr("float", 0.0, doc="membrane potential at step 0 of every sample"),
}
_NEURON_INPUTS = (1, 3)  # x; optional per-neuron bias (parameter, added to v); optional recurrent weight [n, n]

IF = OpDef(
    "IF", "neuron", _NEURON_INPUTS, _spiking_infer,
    lambda a, at: [_integrate_and_fire(a, at, 0.0, 1.0)],
    attrs=dict(_NEURON_ATTRS), param_inputs=(1, 2),
    domain=NEURO_DOMAIN,
    doc="Integrate-and-fire: v[t] = v'[t-1] + x[t] + W_rec s[t-1] + bias; s[t] = v[t] >= v_th (or >); reset by "
        "subtraction, to zero or none (module docstring).",
)
LIF = OpDef(
    "LIF", "neuron", _NEURON_INPUTS, _spiking_infer,
    lambda a, at: [_integrate_and_fire(a, at, at["v_decay"], at["i_decay"])],
    param_inputs=(1, 2),
    attrs={
        **_NEURON_ATTRS,
        "v_decay": Attr("float", doc="fraction of v lost per step, dt/tau_mem for a continuous-time LIF",
                        min=0, max=1),
        "i_decay": Attr("float", 1.0, doc="fraction of the synaptic current lost per step; 1 = no current state",
                        min=0, max=1),
        "dt": Attr("float", None, doc="physical duration of one step in seconds, when known"),
    },
    domain=NEURO_DOMAIN,
    doc="Current-based leaky integrate-and-fire: i[t] = (1-i_decay) i[t-1] + x[t] + W_rec s[t-1]; "
        "v[t] = (1-v_decay) v'[t-1] + i[t] + bias; s[t] = v[t] >= v_th (or >); reset as IF (module docstring).",
)


def is_stateless(node: Node) -> bool:
    """Whether a neuron or readout keeps nothing from one step to the next: a LIF with v_decay = 1 and i_decay = 1
    and no recurrent weight or reset left for the next step (the IR's stateless threshold neuron, papers/002's "turn-off" neuron), or a
    MembraneReadout with v_decay = 1 (it reads the last step's input)."""
    a = node.attrs
    if node.op == "MembraneReadout":
        return a.get("v_decay", 0.0) == 1.0
    delayed_subtract = a.get("reset") == "subtract" and a.get("reset_timing") == "next_step"  # v - v_th s[t-1]
    return node.op == "LIF" and a.get("v_decay") == 1.0 and a.get("i_decay", 1.0) == 1.0 and \
        not a.get("refractory", 0) and not (len(node.inputs) > 2 and node.inputs[2]) and not delayed_subtract


# ------------------------------------------------------------------ readouts


def _membrane_ref(args, attrs):
    x = args[0]
    if attrs["v_decay"] == 0.0:
        return [x.sum(axis=0, dtype=np.float64).astype(np.float32)]
    v = np.zeros(x.shape[1:], dtype=np.float64)
    for t in range(x.shape[0]):
        v = v * (1.0 - attrs["v_decay"]) + x[t]
    return [v.astype(np.float32)]


SPIKE_COUNT = OpDef(
    "SpikeCount", "readout", (1, 1), _readout_infer,
    lambda a, at: [a[0].sum(axis=0, dtype=np.float64).astype(np.float32)],
    domain=NEURO_DOMAIN,
    doc="Number of spikes of each neuron over the T steps.",
)
MEMBRANE_READOUT = OpDef(
    "MembraneReadout", "readout", (1, 1), _readout_infer, _membrane_ref,
    attrs={"v_decay": Attr("float", 0.0, min=0, max=1)},
    domain=NEURO_DOMAIN,
    doc="Membrane potential after T steps of a non-spiking integrator: v[t] = (1-v_decay) v[t-1] + x[t].",
)

# ------------------------------------------------------------------ time alignment


def _pad_infer(node, types, params, attrs):
    x = _input(node, types, timed=True)
    return [TensorType(x.shape, x.dtype, timed=True)]


def _pad_ref(args, attrs):
    x = args[0]
    return [np.concatenate([x, np.zeros((attrs["steps"],) + x.shape[1:], x.dtype)])]


PAD_STEPS = OpDef(
    "PadSteps", "neuron", (1, 1), _pad_infer, _pad_ref,
    attrs={"steps": Attr("int", doc="silent steps appended", min=0)},
    domain=NEURO_DOMAIN,
    doc="Append ``steps`` silent (zero) steps to a spike train: the host feeds them so that the last input "
        "steps still reach the output through a chip's one-step-per-layer synaptic delays.",
)

# ------------------------------------------------------------------ host-side fixed point


def _quantize_infer(node, types, params, attrs):
    x = types[0]
    if x is None:
        raise GraphError(f"{node}: input 0 must be an activation")
    return [TensorType(x.shape, "int64", x.timed)]


def _quantize_ref(args, attrs):
    limit = 2 ** (attrs["bits"] - 1)
    return [np.clip(np.rint(args[0].astype(np.float64) * attrs["scale"]), -limit, limit - 1).astype(np.int64)]


QUANTIZE = OpDef(
    "Quantize", "ann", (1, 1), _quantize_infer, _quantize_ref,
    attrs={"scale": Attr("float"), "bits": Attr("int", doc="signed width of the result", min=2, max=32)},
    domain=NEURO_DOMAIN,
    doc="Host-side fixed point: y = clip(round(x * scale), -2^(bits-1), 2^(bits-1) - 1), an integer tensor.",
)

NEURO_OPS = [DIRECT_ENCODE, RATE_ENCODE, IF, LIF, SPIKE_COUNT, MEMBRANE_READOUT, PAD_STEPS, QUANTIZE]
