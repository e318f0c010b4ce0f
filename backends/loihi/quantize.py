"""Quantize a rate-coded SNN to Loihi's fixed point and lower it to Loihi ops (LoihiDense/Conv/LIF/readout).

Expected shape of the graph (after rate conversion with reset to zero and ``fold_average_pool``)::

    DirectEncode -> W1 -> IF -> [Flatten] -> W2 -> IF -> ... -> Wn -> MembraneReadout     (W = Conv or Gemm)

The first layer runs on the host: W1(x) + b1 is a constant current, quantized into the bias mantissa of the
first LIF layer for each sample (as lava-dl netx's input layer does). Every other W becomes 8-bit synapses
with a shared exponent, every IF a LIF with du=4095 (no current memory), dv=0 (no leak), reset to 0.

Per layer, one scale s maps float membrane units to Loihi voltage units: weights w = W*s / (64 * 2^e)
with the largest |W| at the top of the weight range, threshold vth = theta*s / 64 (17-bit mantissa),
bias b*s = mant << bias_exp (13-bit mantissa, 3-bit exponent). The exponent e is the largest that keeps
vth within its mantissa. Every number of the chip (bit widths, ranges) comes from the spec.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from neurodeploy.errors import UnsupportedError
from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.ann import CURRENT_SUMS
from neurodeploy.ir.ops.loihi import ACTIVATION_SHIFT, STATE_LIMIT, THRESHOLD_SHIFT
from neurodeploy.ir.ops.neuron import is_stateless
from neurodeploy.passes.layers import SHAPE_ONLY, calibration_peaks, count_spikes_on_host, pad_input, read_untimed_input

@dataclass(frozen=True)
class LoihiNumerics:
    """Fixed-point limits read from a Loihi spec (values.numerics)."""

    weight_bits: int          # signed synaptic weight, incl. sign (8: mixed weights are even in [-256, 254])
    weight_exp_min: int
    weight_exp_max: int
    weight_exp_preferred_max: int  # largest exponent lava-dl netx can store (it clips weights to 8 bits)
    threshold_mantissa_bits: int
    bias_mantissa_bits: int   # signed
    bias_exp_max: int
    bias_exp_preferred: int   # lava-dl netx writes every layer with this bias exponent
    decay_bits: int

    @classmethod
    def from_spec(cls, spec) -> LoihiNumerics:
        return cls(**{f: int(spec.value(f"numerics.{f}")) for f in cls.__dataclass_fields__})

    @property
    def vth_max(self) -> int:
        return 2 ** self.threshold_mantissa_bits - 1

    @property
    def bias_max(self) -> int:
        return 2 ** (self.bias_mantissa_bits - 1) - 1

    @property
    def no_current_memory(self) -> int:
        return 2 ** self.decay_bits - 1


@dataclass
class LayerQuantization:
    """What quantizing one layer did (the numbers of the quantization report)."""

    layer: str
    scale: float
    weight_exp: int
    sign_mode: str
    vth: int
    bias_exp: int
    du: int
    dv: int
    weights: int
    weights_clipped: int
    weights_zeroed: int
    biases_clipped: int
    bias_current_steady_state: bool = False  # a bias current into a decaying current, given as voltage bias / i_decay
    recurrent_weight_exp: int | None = None   # the recurrent synapse's own exponent (None: no recurrence)


def quantize_weights(w: np.ndarray, scale: float, exp: int, num: LoihiNumerics) -> tuple[np.ndarray, str, dict]:
    """Integer weights as Lava's Dense would hold them after clip_weights and truncate_weights (8 bits)."""
    mode = "excitatory" if w.min() >= 0 else "inhibitory" if w.max() <= 0 else "mixed"
    top = 2 ** num.weight_bits
    lo, hi, step = {"mixed": (-top, top - 2, 2), "excitatory": (0, top - 1, 1), "inhibitory": (-(top - 1), 0, 1)}[mode]
    exact = w.astype(np.float64) * scale / (2 ** ACTIVATION_SHIFT * 2.0 ** exp)
    q = np.rint(exact / step) * step
    stats = {"weights_clipped": int(((q < lo) | (q > hi)).sum()), "weights_zeroed": int(((q == 0) & (w != 0)).sum())}
    return np.clip(q, lo, hi).astype(np.int64), mode, stats


def _weight_exp(theta: float, w_max: float, scale_limit: float, num: LoihiNumerics,
                allow_negative: bool) -> tuple[int, float]:
    """Largest exponent whose full-range weights keep vth within its mantissa and the scale within
    ``scale_limit``; when none does, the lowest exponent with weights below full range."""
    top = 2 ** num.weight_bits - 2
    lowest = num.weight_exp_min if allow_negative else 0
    vth_limit = num.vth_max * 2 ** THRESHOLD_SHIFT / theta
    for exp in range(min(num.weight_exp_max, num.weight_exp_preferred_max), lowest - 1, -1):
        scale = top * 2 ** ACTIVATION_SHIFT * 2.0 ** exp / w_max
        if scale <= min(scale_limit, vth_limit):
            return exp, scale
    return lowest, min(scale_limit, vth_limit)


def _recurrent_exp(w_rec: np.ndarray, scale: float, num: LoihiNumerics) -> int:
    """The smallest Dense exponent at which the recurrent weights, in the layer's scale, fit the weight range."""
    top = 2 ** num.weight_bits - 2
    peak = float(np.abs(w_rec).max()) * scale / 2 ** ACTIVATION_SHIFT
    exp = math.ceil(math.log2(peak / top)) if peak > 0 else 0
    return int(np.clip(exp, num.weight_exp_min, num.weight_exp_max))


def bias_mantissa(values: np.ndarray, num: LoihiNumerics) -> tuple[int, int]:
    """Bias exponent: netx's preferred one, or the smallest above it whose mantissa holds the largest |value|;
    returns (exp, clipped count)."""
    peak = float(np.abs(values).max()) if np.size(values) else 0.0
    exp = num.bias_exp_preferred
    while exp < num.bias_exp_max and peak / 2 ** exp > num.bias_max:
        exp += 1
    return exp, int((np.abs(np.rint(np.asarray(values) / 2 ** exp)) > num.bias_max).sum())


# ------------------------------------------------------------------ lowering


class _Lowering:
    """One lowering of a rate SNN: walks its layers in order and emits Loihi nodes."""

    def __init__(self, g: Graph, ctx) -> None:
        self.g = g
        self.num = LoihiNumerics.from_spec(ctx.spec)
        self.report: list[dict] = []
        self.unlowered: dict[str, str] = {}

    def decays(self, neuron: Node) -> tuple[int, int]:
        """12-bit (du, dv): IF keeps no current and no leak; LIF's fractions per step become du + 1 = i_decay
        * 4096 (Lava adds 1 to du) and dv = v_decay * 4096, clipped to the decay registers."""
        if neuron.op != "LIF":
            return self.num.no_current_memory, 0
        unity = self.num.no_current_memory + 1
        du = int(np.clip(round(neuron.attrs.get("i_decay", 1.0) * unity) - 1, 0, self.num.no_current_memory))
        dv = int(np.clip(round(neuron.attrs["v_decay"] * unity), 0, self.num.no_current_memory))
        return du, dv

    def chip_decays(self, neuron: Node) -> tuple[int, int]:
        """(du, dv) as the chip runs them: a stateless neuron clears u and v every step (reset_every_step), so it
        needs no decay; others :meth:`decays`."""
        return (self.num.no_current_memory, 0) if is_stateless(neuron) else self.decays(neuron)

    def paths_of(self, neuron: Node) -> list[Node] | None:
        """The synaptic paths into a neuron layer: Conv/Gemm nodes, or a scalar Mul on spikes (an identity
        shortcut), summed by at most one Add or Sum; None when the input is anything else."""
        producer = self.g.producer(neuron.inputs[0])
        if producer is None:
            return None
        paths = [self.g.producer(v) for v in producer.inputs] if producer.op in CURRENT_SUMS else [producer]
        ok = all(p is not None and (p.op in ("Conv", "Gemm") or (p.op == "Mul" and _scalar_scale(self.g, p)))
                 and len(self.g.consumers(p.outputs[0])) == 1 for p in paths)
        return paths if ok else None

    def lif(self, op: str, neuron: Node, a_in: str, bias: str, vth: int, bias_exp: int, scale: float,
            steps: int = 0) -> Node:
        v_init = int(round(neuron.attrs.get("v_init", 0.0) * scale))
        du, dv = self.chip_decays(neuron)
        attrs = {"du": du, "dv": dv, "vth": vth, "bias_exp": bias_exp, "v_init": v_init, "num_steps": steps}
        if is_stateless(neuron):  # nothing to carry: Lava's LIFReset clears u and v before every step
            attrs.update(v_init=0, reset_every_step=1)
        counters = (["overflow"] if op == "LoihiLIF" else []) + ["updates"]  # see backend.counters
        outputs = list(neuron.outputs) + [self.g.unique_name(f"{neuron.name}_{c}") for c in counters]
        return Node(op, neuron.name, [a_in, bias], outputs, attrs)

    def host_layer(self, weighted: Node, neuron: Node, x: str, peak_current: float, steps: int) -> list[Node]:
        """First layer: W1 x + b1 on the host, quantized into each sample's bias mantissa."""
        theta = neuron.attrs["v_th"]
        scale = min(self.num.vth_max * 2 ** THRESHOLD_SHIFT / theta,
                    self.num.bias_max * 2 ** self.num.bias_exp_max / max(peak_current, 1e-12))
        bias_exp, _ = bias_mantissa(np.array([peak_current * scale]), self.num)
        host = Node(weighted.op, weighted.name, [x] + weighted.inputs[1:], list(weighted.outputs), dict(weighted.attrs))
        nodes, current = [host], host.outputs[0]
        if self.g.param_of(neuron, 1) is not None:  # the neuron's own bias joins the host's constant input
            current = self.g.unique_name(f"{neuron.name}_with_bias")
            nodes.append(Node("Add", self.g.unique_name(f"{neuron.name}_bias"), [host.outputs[0], neuron.inputs[1]],
                              [current]))
        mant = self.g.unique_name(f"{neuron.name}_bias_mant")
        quantize = Node("Quantize", self.g.unique_name(f"{neuron.name}_quantize"), [current], [mant],
                        {"scale": scale / 2 ** bias_exp, "bits": self.num.bias_mantissa_bits})
        vth = max(1, int(round(theta * scale / 2 ** THRESHOLD_SHIFT)))
        du, dv = self.chip_decays(neuron)
        self.report.append(asdict(LayerQuantization(neuron.name, scale, 0, "host", vth, bias_exp, du, dv, 0, 0, 0, 0)))
        return nodes + [quantize, self.lif("LoihiLIF", neuron, "", mant, vth, bias_exp, scale, steps)]

    def chip_layer(self, neuron: Node, paths: list[Node], peaks: dict[str, float]) -> list[Node]:
        """A layer on the chip: integer synapses (Dense, Conv, or an identity shortcut) into LIF neurons or
        the voltage readout; several paths share the neuron's scale and sum into its input.

        The scale keeps the largest per-step current seen on calibration data, plus the threshold, within
        half the 24-bit state, so neither the current wraps nor the voltage saturates.
        """
        num = self.num
        weights = [self.g.param_of(p, 1) if p.op != "Mul" else np.array([_scalar_scale(self.g, p)]) for p in paths]
        w_rec = self.g.param_of(neuron, 2) if neuron.op in ("IF", "LIF") else None
        w_max = max(float(np.abs(w).max()) for w in weights) or 1.0
        if neuron.op in ("IF", "LIF"):
            theta = neuron.attrs["v_th"]
            # a decaying current accumulates up to peak / i_decay before it settles; recurrence adds at most the
            # largest sum of |W_rec| over a row
            rec_peak = float(np.abs(w_rec).sum(axis=1).max()) if w_rec is not None else 0.0
            current_peak = (peaks[neuron.inputs[0]] + rec_peak) / max(neuron.attrs.get("i_decay", 1.0), 1e-3)
            limit = 0.5 * STATE_LIMIT / (theta + current_peak)
            exp, scale = _weight_exp(theta, w_max, limit, num, allow_negative=all(p.op == "Gemm" for p in paths))
            vth, op = max(1, int(round(theta * scale / 2 ** THRESHOLD_SHIFT))), "LoihiLIF"
        else:  # voltage readout: keep the integrated voltage inside 24 bits with a 2x margin
            exp, op, vth = 0, "LoihiVoltageReadout", num.vth_max
            scale = min((2 ** num.weight_bits - 2) * 2 ** ACTIVATION_SHIFT / w_max,
                        0.5 * STATE_LIMIT / max(peaks[neuron.outputs[0]], 1e-12))
        synapses, modes, stats = [], [], {"weights_clipped": 0, "weights_zeroed": 0}
        for path, w in zip(paths, weights):
            q, mode, counts = quantize_weights(w, scale, exp, num)
            stats = {k: stats[k] + counts[k] for k in stats}
            modes.append(mode)
            synapses.append(self.synapse(path, q, exp, mode))
        recurrent, rec_exp = None, None
        if w_rec is not None:  # the recurrent Dense has its own exponent: its weights are often far smaller
            rec_exp = _recurrent_exp(w_rec, scale, num)
            q, mode, counts = quantize_weights(w_rec, scale, rec_exp, num)
            stats = {k: stats[k] + counts[k] for k in stats}
            modes.append(f"recurrent {mode}")
            recurrent = self.g.add_param(f"{neuron.name}.recurrent_weight_int", q)
        mant, bias_exp, bias_clipped = self.bias_mantissas(neuron, [p for p in paths if p.op != "Mul"], scale)
        du, dv = self.chip_decays(neuron)
        steady = neuron.op == "LIF" and neuron.attrs.get("i_decay", 1.0) < 1.0 and any(
            p.op != "Mul" and self.g.param_of(p, 2) is not None and np.any(self.g.param_of(p, 2)) for p in paths)
        count = int(sum(w.size for w in weights)) + (0 if w_rec is None else int(w_rec.size))
        self.report.append(asdict(LayerQuantization(neuron.name, scale, exp, "+".join(modes), vth, bias_exp, du, dv,
                                                    count, stats["weights_clipped"], stats["weights_zeroed"],
                                                    bias_clipped, steady, rec_exp)))
        current = synapses[0].outputs[0]
        nodes = list(synapses)
        if len(synapses) > 1:  # Lava sums every connection into a LIF's input port
            current = self.g.unique_name(f"{neuron.name}_input")
            nodes.append(Node("Add" if len(synapses) == 2 else "Sum", self.g.unique_name(f"{neuron.name}_sum"),
                              [s.outputs[0] for s in synapses],
                              [current]))
        bias_name = self.g.add_param(f"{neuron.name}.bias_mant", mant)
        lif = self.lif(op, neuron, current, bias_name, vth, bias_exp, scale)
        if recurrent is not None:
            lif.inputs.append(recurrent)
            lif.attrs["rec_weight_exp"] = rec_exp
        return nodes + [lif]

    def bias_mantissas(self, neuron: Node, weighted: list[Node], scale: float) -> tuple[np.ndarray, int, int]:
        """Per-neuron bias mantissas, their exponent, and how many were clipped.

        Loihi adds its bias to the voltage. The neuron's own bias (IR input 1) is one; the paths' biases are a
        constant current, which with a decaying current (i_decay < 1) settles at bias / i_decay: that steady
        state becomes the voltage bias (exact for i_decay = 1; ``bias_current_steady_state`` in the report)."""
        spiking = neuron.op in ("IF", "LIF")
        out_shape = self.g.types[neuron.outputs[0]].shape if spiking else self.g.types[neuron.inputs[0]].shape
        total = np.zeros(out_shape)
        for node in weighted:
            bias = self.g.param_of(node, 2)
            if bias is not None:
                total = total + bias.astype(np.float64).reshape((-1,) + (1,) * (len(out_shape) - 1))
        if spiking:
            total = total / neuron.attrs.get("i_decay", 1.0)
            own = self.g.param_of(neuron, 1)
            if own is not None:
                total = total + np.broadcast_to(own.astype(np.float64), out_shape)
        bias = total * scale
        bias_exp, clipped = bias_mantissa(bias, self.num)
        mant = np.clip(np.rint(bias / 2 ** bias_exp), -self.num.bias_max - 1, self.num.bias_max).astype(np.int64)
        return mant, bias_exp, clipped

    def synapse(self, weighted: Node, q: np.ndarray, exp: int, mode: str) -> Node:
        """LoihiDense (from Gemm) or LoihiConv (from Conv, or a depthwise 1x1 identity from a shortcut's Mul)
        holding the integer weights."""
        current = self.g.unique_name(f"{weighted.name}_current")
        if weighted.op == "Mul":
            shape = self.g.types[weighted.inputs[0]].shape
            if len(shape) != 3:
                weight = self.g.add_param(f"{weighted.name}.weight_int", np.eye(shape[0], dtype=np.int64) * int(q[0]))
                return Node("LoihiDense", weighted.name, [weighted.inputs[0], weight], [current],
                            {"weight_exp": exp, "sign_mode": mode, "num_weight_bits": self.num.weight_bits})
            weight = self.g.add_param(f"{weighted.name}.weight_int", np.full((shape[0], 1, 1, 1), int(q[0]), np.int64))
            return Node("LoihiConv", weighted.name, [weighted.inputs[0], weight], [current],
                        {"kernel_shape": (1, 1), "group": shape[0], "weight_exp": exp})
        weight = self.g.add_param(f"{weighted.name}.weight_int", q)
        if weighted.op == "Gemm":
            return Node("LoihiDense", weighted.name, [weighted.inputs[0], weight], [current],
                        {"weight_exp": exp, "sign_mode": mode, "num_weight_bits": self.num.weight_bits})
        a = weighted.attrs
        attrs = {k: a[k] for k in ("kernel_shape", "strides", "pads", "dilations", "group") if k in a}
        return Node("LoihiConv", weighted.name, [weighted.inputs[0], weight], [current], {**attrs, "weight_exp": exp})


def _start_biases_with_input(g: Graph) -> None:
    """Each chip layer gets its first input k steps late (one step per synapse layer on the way); its bias acts from
    step k on, so that it does not integrate k steps of bias that the float SNN never sees."""
    from neurodeploy.backends.loihi.mapping import NEURON_OPS, spike_source, synapse_nodes

    depth: dict[str, int] = {}
    for node in g.find(*NEURON_OPS):  # in data-flow order: a layer's sources come before it
        sources = [spike_source(g, s.inputs[0]) for s in synapse_nodes(g, node)]
        depth[node.name] = max([depth.get(s, 0) + 1 for s in sources if s != node.name] or [0])
        if node.inputs[1] in g.params and np.any(g.params[node.inputs[1]]) and depth[node.name]:
            node.attrs["bias_start"] = depth[node.name]


def _neuron_problem(neuron: Node) -> str | None:
    """Why Lava's LIF cannot express an IF/LIF layer's reset, refractory period or decays; None when it can."""
    a = neuron.attrs
    if is_stateless(neuron):
        return None
    if a.get("reset", "subtract") != "zero":
        return (f"reset '{a.get('reset', 'subtract')}' (Lava's LIF resets to 0); convert or import with reset 'zero'")
    if a.get("refractory", 0):
        return f"a refractory period of {a['refractory']} steps (Lava's LIF has none)"
    return None


def _scalar_scale(g: Graph, mul: Node) -> float | None:
    p = g.param_of(mul, 1)
    return float(p.reshape(-1)[0]) if p is not None and p.size == 1 and float(p.reshape(-1)[0]) > 0 else None


def _first_weighted(g: Graph, encoder: Node) -> tuple[Node, list[Node]]:
    """The Conv/Gemm the encoder feeds, and the shape-only nodes (Flatten/Reshape) on the way."""
    through, node = [], g.consumers(encoder.outputs[0])[0]
    while node.op in SHAPE_ONLY:
        through.append(node)
        node = g.consumers(node.outputs[0])[0]
    if node.op not in ("Conv", "Gemm"):
        raise UnsupportedError(f"Loihi lowering: the input feeds {node}, not a Conv/Gemm layer")
    return node, through


def lower_to_loihi(g: Graph, ctx) -> Graph:
    """Quantize and lower a rate SNN to Loihi ops; see the module docstring. A temporal (TTFS / SC-TTFS) SNN goes
    to ``backends/loihi/temporal.py``.

    Requires: one DirectEncode input feeding a Conv/Gemm -> IF layer; IF with reset to zero;
    ``ctx.spec`` (Loihi numerics) and ``ctx.calibration``. Layers that do not fit stay unlowered and are
    listed in ``meta['loihi_unlowered']`` for the backend check. Keeps: argmax close to the float SNN.
    """
    if g.find("TTFS", "SCTTFS"):
        from neurodeploy.backends.loihi.temporal import lower_temporal_to_loihi

        return lower_temporal_to_loihi(g, ctx)
    g = infer_shapes(g.copy())
    (input_name, input_type), = g.inputs.items()
    encoders = g.find("DirectEncode")
    if input_type.timed:  # spike input (event data): every layer runs on the chip
        encoder, first, through = None, None, []
    elif len(encoders) != 1:
        raise UnsupportedError("Loihi lowering needs exactly one analog (DirectEncode) input, or a spike-train input",
                               [str(n) for n in g.find("RateEncode", "DirectEncode")])
    else:
        encoder = encoders[0]
        first, through = _first_weighted(g, encoder)
    lw = _Lowering(g, ctx)
    neurons = g.find("IF", "LIF", "MembraneReadout")
    readouts = [n.outputs[0] for n in g.find("MembraneReadout")]
    peaks = calibration_peaks(g, ctx, [n.inputs[0] for n in neurons] + readouts)
    depth = len(neurons) - 1  # an upper bound of the synaptic delays on the longest path
    steps = (encoder.attrs["num_steps"] if encoder else ctx.conversion.num_steps) + depth + (encoder is None)
    replaced: dict[str, list[Node]] = {}
    for neuron in neurons:
        paths = lw.paths_of(neuron)
        problem = _neuron_problem(neuron) if neuron.op in ("IF", "LIF") else None
        if is_stateless(neuron) and ctx.spec.values.get("neuron", {}).get("stateless_neurons"):
            problem = "a stateless threshold neuron: " + ctx.spec.values["neuron"]["stateless_neurons"]
        if paths is None:
            lw.unlowered[neuron.name] = "its input is not Conv/Gemm synapses or identity shortcuts (summed by Add/Sum)"
        elif problem:
            lw.unlowered[neuron.name] = problem
        elif neuron.op == "LIF" and neuron.attrs.get("i_decay", 1.0) < 1.0 and first in paths:
            lw.unlowered[neuron.name] = ("the host-computed first layer with a decaying current (i_decay < 1): Loihi "
                                         "adds the host's input to the voltage, not to the current")
        elif first is not None and first in paths:
            if g.param_of(neuron, 2) is not None:
                lw.unlowered[neuron.name] = "the host-computed first layer cannot have a recurrent synapse"
                continue
            if len(paths) > 1:
                lw.unlowered[neuron.name] = "the host-driven first layer cannot also take on-chip synapses"
                continue
            replaced[neuron.name] = lw.host_layer(first, neuron, read_untimed_input(encoder, through),
                                                  peaks[neuron.inputs[0]], steps)
            replaced[first.name] = []
        else:
            replaced[neuron.name] = lw.chip_layer(neuron, paths, peaks)
            adder = g.producer(neuron.inputs[0])
            replaced.update({n.name: [] for n in paths + ([adder] if adder.op in CURRENT_SUMS else [])})
    nodes = []
    for n in g.nodes:  # a layer's new nodes take its neuron's place: everything they read comes before it
        if n is encoder and first.name in replaced:
            continue
        nodes.extend(replaced.get(n.name, [n]))
    g.nodes = nodes
    if encoder is None:
        pad_input(g, input_name, steps - ctx.conversion.num_steps)
        count_spikes_on_host(g)
    if "time" in g.meta:  # a trained SNN, whose spike timing matters (a converted one keeps netx's constant bias)
        _start_biases_with_input(g)
    g.drop_unused_params()
    g.meta.update({"quantization": lw.report, "loihi_unlowered": lw.unlowered, "num_steps": steps,
                   "pipeline_depth": depth})
    chip_neurons = g.find("LoihiLIF", "LoihiVoltageReadout")
    if encoder is not None and chip_neurons and all(n.attrs.get("reset_every_step", 0) for n in chip_neurons):
        # every layer is stateless: from step `depth` on each computes the float network's one pass (steady state)
        g.meta["steady_state"] = True
    return infer_shapes(g)
