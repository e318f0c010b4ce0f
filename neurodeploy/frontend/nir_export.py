"""Write a float SNN IR graph as a NIR file (nir 1.0.8) that ``nir.read`` loads and Norse's ``from_nir`` runs.

The mapping inverts the import's forward-Euler reading (docs/nir.md) at the given ``dt``:
* IR LIF with i_decay = 1 -> NIR LIF, tau = dt / v_decay, r = 1; the 1 / v_decay input gain is folded into the
  weights of the Affine/Conv2d that feeds it (Norse 1.1.0's from_nir ignores a LIF's r).
* IR LIF with i_decay < 1 -> CubaLIF, tau_syn = dt / i_decay, tau_mem = dt / v_decay, w_in = 1 / i_decay,
  r = 1 / v_decay (both honoured by Norse). A LIF that resets by subtraction is written as this CubaLIF with
  tau_syn = dt (no current state), since Norse applies ``reset_method`` to CubaLIF only.
* IR IF -> NIR IF (r = 1); a memoryless LIF (v_decay 1, i_decay 1, '>', no refractory steps, no recurrent
  weight; its reset changes no spike) -> Threshold.
* a recurrent weight -> a Linear ``<neuron>.w_rec`` in a cycle neuron -> Linear -> neuron (one-step delay).
* a neuron's bias -> the bias of the layer feeding it (exact for LIF and IF), else v_leak = bias / v_decay.
* Gemm -> Affine/Linear, Conv -> Conv2d, Flatten -> Flatten, AveragePool -> SumPool2d with 1 / k^2 folded into
  the next layer's weights (Norse reads no AvgPool2d), Mul by a parameter -> folded into the next layer.
* SpikeCount -> the Output reads the spikes; MembraneReadout -> LI (tau = dt / v_decay) or Integrator.
* DirectEncode / RateEncode: the NIR graph starts after the encoder (its input is the encoded train).
What NIR or Norse cannot express is written into node metadata (neurodeploy's import reads it back) and
listed in the returned notes: reset timing, fire_when 'ge', refractory steps, v_init, subtraction in IF.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from neurodeploy.errors import UnsupportedError
from neurodeploy.frontend.nir_import import DEFAULT_DT
from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.neuron import is_stateless

_RESET_NAMES = {("zero", "immediate"): "zero", ("subtract", "immediate"): "subtract",
                ("subtract", "next_step"): "snntorch-subtract", ("zero", "next_step"): "snntorch-zero",
                ("none", "immediate"): "none"}
_ALIASES = ("Identity", "Dropout")


@dataclass
class _Handle:
    """What an IR value is in the NIR graph: the sum of ``sources`` (NIR node names) times ``scale``."""

    sources: list
    scale: np.ndarray
    shape: tuple


class _Exporter:
    """Translates the IR nodes in order; NIR nodes are kept as (type, fields, metadata) until all are known,
    because a later neuron folds its input gain into the layer before it."""

    def __init__(self, g: Graph, dt: float) -> None:
        self.g, self.dt = g, dt
        self.nodes: dict = {}  # name -> [type, fields, metadata]
        self.edges: list = []
        self.handles: dict = {}  # IR value -> _Handle
        self.layer: dict = {}  # IR value -> NIR weight node that computes it alone
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.resets: Counter = Counter()

    # --- plumbing

    def name(self, hint: str) -> str:
        base = hint.replace("/", ".") or "node"
        name, i = base, 1
        while name in self.nodes:
            name, i = f"{base}_{i}", i + 1
        return name

    def emit(self, hint: str, kind: str, fields: dict, sources: list, meta: dict | None = None) -> str:
        name = self.name(hint)
        self.nodes[name] = [kind, fields, meta or {}]
        self.edges += [(s, name) for s in sources]
        return name

    def shape(self, value: str) -> tuple:
        return tuple(self.g.types[value].shape)

    def param(self, node: Node, index: int) -> np.ndarray | None:
        p = self.g.param_of(node, index)
        return None if p is None else np.asarray(p, np.float64)

    def sole_layer(self, value: str) -> str | None:
        """The NIR weight node computing ``value`` when nothing else reads it (so its rows may be rescaled)."""
        name = self.layer.get(value)
        if name is None or len(self.g.consumers(value)) != 1 or value in self.g.outputs:
            return None
        return name

    # --- the walk

    def run(self) -> None:
        g = self.g
        (name, t), = g.inputs.items()
        start = self._encoded_start(name) if not t.timed else name
        first = self.emit("input", "Input", {"shape": np.array(self.shape(start))}, [])
        self.handles[start] = _Handle([first], np.ones(()), self.shape(start))
        for node in g.nodes:
            if node.op in ("DirectEncode", "RateEncode"):
                continue
            handler = getattr(self, f"_{node.op.lower()}", None)
            if handler is None:
                self.problems.append(f"{node}: no NIR form for IR op {node.op}")
            elif all(v in self.handles for v in g.activation_inputs(node)):  # else an earlier node was refused
                handler(node)
        self._output()

    def _encoded_start(self, name: str) -> str:
        encoders = [n for n in self.g.consumers(name) if n.op in ("DirectEncode", "RateEncode")]
        if len(encoders) != 1:
            raise UnsupportedError(f"graph '{self.g.name}': its input '{name}' has no time axis and no single "
                                   "encoder; NIR graphs take timed input")
        enc = encoders[0]
        what = ("the analog input, repeated at each of the T steps" if enc.op == "DirectEncode" else
                "the rate-coded spike train (the encoder's random draws are not part of NIR)")
        self.notes.append(f"{enc}: the NIR graph starts after the encoder: feed it {what}; T = "
                          f"{enc.attrs.get('num_steps')}")
        return enc.outputs[0]

    def _input_of(self, node: Node) -> _Handle:
        return self.handles[self.g.activation_inputs(node)[0]]

    def _identity(self, node: Node) -> None:
        self.handles[node.outputs[0]] = self._input_of(node)

    _dropout = _identity

    # --- stateless layers

    def _columns(self, node: Node, h: _Handle, channels_axis: int) -> np.ndarray | None:
        """The input scale of ``h`` per input feature (Gemm) or channel (Conv), or None when it varies otherwise."""
        s = np.broadcast_to(h.scale, h.shape)
        if channels_axis == 0 and len(h.shape) == 3:
            per = s.reshape(h.shape[0], -1)
            return per[:, 0] if (per == per[:, :1]).all() else None
        return s.reshape(-1)

    def _gemm(self, node: Node) -> None:
        h = self._input_of(node)
        b_param, c = self.param(node, 1), self.param(node, 2)
        w = node.attrs.get("alpha", 1.0) * (b_param if node.attrs.get("transB", 0) else b_param.T)
        w = w * self._columns(node, h, 1)[None, :]
        fields = {"weight": w}
        if c is not None:
            fields["bias"] = node.attrs.get("beta", 1.0) * np.broadcast_to(c.reshape(-1), (w.shape[0],))
        name = self.emit(node.name, "Affine" if c is not None else "Linear", fields, h.sources)
        self._produce(node, name, (w.shape[0],), layer=True)

    def _conv(self, node: Node) -> None:
        h = self._input_of(node)
        scale = self._columns(node, h, 0)
        if scale is None:
            h = self._materialize(node.name, h, np.ones(h.shape), None)
            scale = np.ones(h.shape[0])
        pads = node.attrs.get("pads") or (0, 0, 0, 0)
        if pads[0] != pads[2] or pads[1] != pads[3]:
            self.problems.append(f"{node}: asymmetric pads {list(pads)}; NIR's Conv2d pads both sides alike")
            return
        if node.attrs.get("group", 1) > 1 and self.param(node, 1).shape[1] != h.shape[0]:
            # nir 1.0.8's type inference reads a Conv2d's input channels from weight.shape[1] (C / groups)
            self.problems.append(f"{node}: a grouped convolution (group {node.attrs['group']}): the NIR library's type "
                                 "check takes its input channels from the kernel, C / group, and refuses the graph")
            return
        w = self._grouped(node, scale)
        bias = self.param(node, 2)
        fields = {"weight": w, "bias": np.zeros(w.shape[0]) if bias is None else bias,
                  "stride": np.array(node.attrs.get("strides") or (1, 1)), "padding": np.array(pads[:2]),
                  "dilation": np.array(node.attrs.get("dilations") or (1, 1)), "groups": node.attrs.get("group", 1),
                  "input_shape": np.array(h.shape[1:])}
        name = self.emit(node.name, "Conv2d", fields, h.sources)
        self._produce(node, name, self.shape(node.outputs[0]), layer=True)

    def _grouped(self, node: Node, scale: np.ndarray) -> np.ndarray:
        """Conv weights [M, C/g, kh, kw] with input channel c scaled by ``scale[c]`` (groups: output channel o
        reads input channels of its group only)."""
        w, groups = self.param(node, 1), node.attrs.get("group", 1)
        m, cg = w.shape[:2]
        per = scale.reshape(groups, cg)  # input channel of group k, position j
        out_group = np.repeat(np.arange(groups), m // groups)
        return w * per[out_group][:, :, None, None]

    def _produce(self, node: Node, name: str, shape: tuple, layer: bool = False, scale=None) -> None:
        self.handles[node.outputs[0]] = _Handle([name], np.ones(()) if scale is None else scale, shape)
        if layer:
            self.layer[node.outputs[0]] = name

    def _flatten(self, node: Node) -> None:
        h = self._input_of(node)
        out = self.shape(node.outputs[0])
        if len(h.shape) == 1:
            self.handles[node.outputs[0]] = h
            return
        name = self.emit(node.name, "Flatten", {"start_dim": 0, "end_dim": -1, "input_type": np.array(h.shape)},
                         h.sources)
        self._produce(node, name, out, scale=np.broadcast_to(h.scale, h.shape).reshape(-1))

    def _reshape(self, node: Node) -> None:
        if len(self.shape(node.outputs[0])) == 1:
            return self._flatten(node)
        self.problems.append(f"{node}: a reshape to {list(self.shape(node.outputs[0]))} has no NIR form "
                             "(only flattening does)")

    def _averagepool(self, node: Node) -> None:
        h = self._input_of(node)
        k = tuple(node.attrs["kernel_shape"])
        pads = tuple(node.attrs.get("pads") or (0, 0, 0, 0))
        strides = tuple(node.attrs.get("strides") or (1, 1))
        if pads[0] != pads[2] or pads[1] != pads[3] or (any(pads) and not node.attrs.get("count_include_pad")):
            self.problems.append(f"{node}: average pooling with pads {list(pads)} that do not count in the average "
                                 "has no NIR form")
            return
        fields = {"kernel_size": np.array(k), "stride": np.array(strides), "padding": np.array(pads[:2])}
        name = self.emit(node.name, "SumPool2d", fields, self._unit(node.name, h).sources)
        out = self.shape(node.outputs[0])
        scale = np.broadcast_to(h.scale, h.shape)
        per = scale.reshape(h.shape[0], -1)
        if not (per == per[:, :1]).all():
            self.problems.append(f"{node}: pools an input whose scale varies within a channel")
            return
        factor = (per[:, 0] / (k[0] * k[1])).reshape(-1, 1, 1)
        self._produce(node, name, out, scale=factor)

    def _mul(self, node: Node) -> None:
        factor = next((self.param(node, i) for i in (0, 1) if self.g.is_param(node.inputs[i])), None)
        if factor is None:
            self.problems.append(f"{node}: a product of two activations has no NIR form")
            return
        h = self._input_of(node)
        scale = np.broadcast_to(h.scale, h.shape) * _per_sample(factor, h.shape)
        self.handles[node.outputs[0]] = _Handle(h.sources, scale, h.shape)

    def _add(self, node: Node) -> None:
        acts = self.g.activation_inputs(node)
        if len(acts) == 2:
            a, b = (self._unit(node.name, self.handles[v]) for v in acts)
            self.handles[node.outputs[0]] = _Handle(a.sources + b.sources, np.ones(()), a.shape)
            return
        constant = next(self.param(node, i) for i in (0, 1) if self.g.is_param(node.inputs[i]))
        value = acts[0]
        h = self.handles[value]
        layer = self.sole_layer(value)
        constant = _per_sample(constant, h.shape)
        if layer is None or (np.asarray(h.scale) != 1).any() or not self._foldable(layer, constant, h.shape):
            self.problems.append(f"{node}: adds a constant to a value that no Affine/Conv2d computes alone")
            return
        self._add_bias(layer, constant)
        self.handles[node.outputs[0]] = h
        self.layer[node.outputs[0]] = layer

    def _sum(self, node: Node) -> None:
        """Sum of synapse paths (expand_current_sums): in NIR, edges into one node add up."""
        acts = self.g.activation_inputs(node)
        if len(acts) != len(node.inputs):
            self.problems.append(f"{node}: a Sum with a constant term has no NIR form")
            return
        units = [self._unit(node.name, self.handles[v]) for v in acts]
        self.handles[node.outputs[0]] = _Handle([s for u in units for s in u.sources], np.ones(()), units[0].shape)

    def _add_bias(self, layer: str, constant: np.ndarray) -> None:
        """Add a constant (broadcast to the layer's output; per channel for a Conv2d) to a layer's bias."""
        kind, fields, _ = self.nodes[layer]
        out = fields["weight"].shape[0]
        per = np.broadcast_to(constant, (out,) if kind != "Conv2d" else constant.shape).reshape(out, -1)[:, 0]
        fields["bias"] = fields.get("bias", np.zeros(out)) + per
        if kind == "Linear":
            self.nodes[layer][0] = "Affine"

    # --- scales that must become nodes

    def _unit(self, hint: str, h: _Handle) -> _Handle:
        """``h`` with its scale applied by a node, when it has one other than 1."""
        if (np.asarray(h.scale) == 1).all():
            return h
        return self._materialize(hint, h, np.broadcast_to(h.scale, h.shape), None)

    def _materialize(self, hint: str, h: _Handle, factor: np.ndarray, constant: np.ndarray | None) -> _Handle:
        """A node computing factor * x + constant (per element): a diagonal Affine for 1-D values, a 1x1
        Conv2d for per-channel factors, else Scale (which Norse 1.1.0 cannot read)."""
        factor = np.broadcast_to(factor * np.broadcast_to(h.scale, h.shape), h.shape)
        if (factor == 1).all() and (constant is None or not constant.any()):
            return _Handle(h.sources, np.ones(()), h.shape)
        if len(h.shape) == 1:
            fields = {"weight": np.diag(factor)}
            if constant is not None:
                fields["bias"] = np.broadcast_to(constant, h.shape).astype(np.float64)
            name = self.emit(f"{hint}.gain", "Affine" if constant is not None else "Linear", fields, h.sources)
            self.layer[name] = name
            return _Handle([name], np.ones(()), h.shape)
        per = factor.reshape(h.shape[0], -1)
        if len(h.shape) == 3 and (per == per[:, :1]).all():
            c = h.shape[0]
            fields = {"weight": np.diag(per[:, 0]).reshape(c, c, 1, 1),
                      "bias": np.zeros(c) if constant is None else np.broadcast_to(constant, h.shape)[:, 0, 0],
                      "stride": np.array([1, 1]), "padding": np.array([0, 0]), "dilation": np.array([1, 1]),
                      "groups": 1, "input_shape": np.array(h.shape[1:])}
            return _Handle([self.emit(f"{hint}.gain", "Conv2d", fields, h.sources)], np.ones(()), h.shape)
        if constant is not None and constant.any():
            self.problems.append(f"{hint}: a per-position constant input on a {list(h.shape)} value has no NIR form")
        self.notes.append(f"{hint}: written as a NIR Scale node, which Norse 1.1.0's from_nir skips")
        return _Handle([self.emit(f"{hint}.scale", "Scale", {"scale": factor.copy()}, h.sources)], np.ones(()),
                       h.shape)

    def _drive(self, node: Node, factor: float, bias: np.ndarray | None) -> _Handle:
        """The neuron's input plus ``bias``, all times ``factor``: folded into the weights and bias of the layer
        feeding it when nothing else reads that layer, else computed by an inserted node."""
        value = self.g.activation_inputs(node)[0]
        h = self.handles[value]
        layer = self.sole_layer(value)
        constant = None if bias is None or not bias.any() else np.broadcast_to(bias, h.shape)
        if layer is not None and (np.asarray(h.scale) == 1).all() and self._foldable(layer, constant, h.shape):
            fields = self.nodes[layer][1]
            fields["weight"] = fields["weight"] * factor
            if "bias" in fields:
                fields["bias"] = fields["bias"] * factor
            if constant is not None:
                self._add_bias(layer, constant * factor)
            return h
        return self._materialize(node.name, h, np.full(h.shape, factor),
                                 None if constant is None else constant * factor)

    def _foldable(self, layer: str, constant: np.ndarray | None, shape: tuple) -> bool:
        if constant is None or self.nodes[layer][0] != "Conv2d":
            return True
        per = constant.reshape(shape[0], -1)
        return bool((per == per[:, :1]).all())

    # --- neurons

    def _neuron_meta(self, node: Node) -> dict:
        a = node.attrs
        reset = _RESET_NAMES.get((a.get("reset", "subtract"), a.get("reset_timing", "immediate")), a.get("reset"))
        self.resets[reset] += 1
        meta = {"reset": reset}
        if a.get("v_init", 0.0):
            meta["v_init"] = float(a["v_init"])
            self.notes.append(f"{node}: starts at v = {a['v_init']:g} (node metadata 'v_init'; other NIR readers "
                              "start at rest)")
        if a.get("fire_when", "ge") == "ge":
            meta["fire_when"] = "ge"
            self.notes.append(f"{node}: fires when v >= v_th; NIR's neurons fire when v > v_th (node metadata "
                              "'fire_when' = 'ge' keeps it for neurodeploy)")
        if a.get("refractory", 0):
            meta["refractory"] = int(a["refractory"])
            self.notes.append(f"{node}: {a['refractory']} refractory steps have no NIR form (node metadata "
                              "'refractory')")
        if a.get("reset_timing") == "next_step":
            self.notes.append(f"{node}: resets in the next step's update (snnTorch); NIR and Norse reset at once "
                              f"(node metadata 'reset' = '{reset}')")
        return meta

    def _neuron_arrays(self, shape: tuple, **values) -> dict:
        return {k: np.broadcast_to(np.asarray(v, np.float64), shape).copy() for k, v in values.items()}

    def _lif(self, node: Node) -> None:
        a, shape = node.attrs, self.shape(node.outputs[0])
        v_decay, i_decay = float(a["v_decay"]), float(a.get("i_decay", 1.0))
        bias = self.param(node, 1)
        if _memoryless(node):  # (is_stateless: no recurrent weight either)
            return self._threshold(node, shape, bias)
        if v_decay == 0.0 and i_decay == 1.0:
            return self._if(node)
        if v_decay == 0.0 or i_decay == 0.0:
            self.problems.append(f"{node}: a LIF with v_decay {v_decay:g} and i_decay {i_decay:g} has no NIR form "
                                 "(an infinite time constant)")
            return
        if a.get("reset") == "none":
            self.notes.append(f"{node}: never resets; NIR's neurons reset to v_reset (node metadata 'reset')")
        meta = self._neuron_meta(node)
        subtract = a.get("reset") == "subtract"
        if i_decay < 1.0 or subtract:
            self._cuba(node, shape, v_decay, i_decay, bias, meta, subtract)
        else:
            h = self._drive(node, 1.0 / v_decay, bias)
            fields = self._neuron_arrays(shape, tau=self.dt / v_decay, r=1.0, v_leak=0.0, v_threshold=a["v_th"],
                                         v_reset=0.0)
            self._neuron(node, "LIF", fields, meta, h, 1.0 / v_decay)

    def _cuba(self, node, shape, v_decay, i_decay, bias, meta, subtract) -> None:
        """CubaLIF with w_in = 1 / i_decay and r = 1 / v_decay: the IR's current and voltage, unscaled."""
        h = self._drive(node, 1.0, None if i_decay < 1.0 else bias)
        leak = 0.0 if bias is None or i_decay == 1.0 else bias / v_decay
        if i_decay == 1.0 and subtract:
            self.notes.append(f"{node}: a LIF that resets by subtraction, written as a CubaLIF with tau_syn = dt (no "
                              "current state) so that Norse's from_nir(reset_method=reset_subtract) applies")
        if np.any(leak):
            meta.setdefault("v_init", float(node.attrs.get("v_init", 0.0)))
            self.notes.append(f"{node}: its bias is written as v_leak = bias / v_decay; Norse 1.1.0's from_nir "
                              "also adds v_leak to the synaptic current and starts at v_leak, so Norse differs")
        fields = self._neuron_arrays(shape, tau_syn=self.dt / i_decay, tau_mem=self.dt / v_decay, r=1.0 / v_decay,
                                     v_leak=leak, v_threshold=node.attrs["v_th"], v_reset=0.0, w_in=1.0 / i_decay)
        self._neuron(node, "CubaLIF", fields, meta, h, 1.0)

    def _if(self, node: Node) -> None:
        a, shape = node.attrs, self.shape(node.outputs[0])
        meta = self._neuron_meta(node)
        if a.get("reset") == "subtract":
            self.notes.append(f"{node}: resets by subtraction; Norse 1.1.0's IAFCell resets to v_reset only")
        bias = self.param(node, 1)
        h = self._drive(node, 1.0, bias)
        fields = self._neuron_arrays(shape, r=1.0, v_threshold=a["v_th"], v_reset=0.0)
        self._neuron(node, "IF", fields, meta, h, 1.0)

    def _neuron(self, node: Node, kind: str, fields: dict, meta: dict, h: _Handle, rec_factor: float) -> None:
        name = self.emit(node.name, kind, fields, h.sources, meta)
        w_rec = self.param(node, 2)
        if w_rec is not None:
            rec = self.emit(f"{name}.w_rec", "Linear", {"weight": w_rec * rec_factor}, [name])
            self.edges.append((rec, name))
        self._produce(node, name, self.shape(node.outputs[0]))

    def _threshold(self, node: Node, shape: tuple, bias: np.ndarray | None) -> None:
        h = self._unit(node.name, self._input_of(node))
        level = node.attrs["v_th"] - (0.0 if bias is None else np.broadcast_to(bias, shape))
        name = self.emit(node.name, "Threshold", self._neuron_arrays(shape, threshold=level), h.sources)
        self._produce(node, name, shape)

    # --- readouts

    def _spikecount(self, node: Node) -> None:
        self.handles[node.outputs[0]] = self._input_of(node)
        self.notes.append(f"{node}: the NIR Output carries the spikes of every step; neurodeploy's readout counts "
                          "them over the T steps")

    def _membranereadout(self, node: Node) -> None:
        d, shape = float(node.attrs.get("v_decay", 0.0)), self.shape(node.outputs[0])
        if d == 0.0:
            h = self._drive(node, 1.0, None)
            name = self.emit(node.name, "I", self._neuron_arrays(shape, r=1.0), h.sources)
        else:
            h = self._drive(node, 1.0 / d, None)
            name = self.emit(node.name, "LI", self._neuron_arrays(shape, tau=self.dt / d, r=1.0, v_leak=0.0),
                             h.sources)
        self.notes.append(f"{node}: written as NIR {'I' if d == 0 else 'LI'}; the readout is its value after the "
                          "last step (Norse 1.1.0's from_nir skips LI and I nodes)")
        self._produce(node, name, shape)

    def _output(self) -> None:
        if len(self.g.outputs) != 1:
            self.problems.append(f"graph '{self.g.name}' has {len(self.g.outputs)} outputs; NIR export writes one")
            return
        h = self.handles.get(self.g.outputs[0])
        if h is None:
            return
        h = self._unit("output", h)
        self.emit("output", "Output", {"shape": np.array(h.shape)}, h.sources)


def _memoryless(node: Node) -> bool:
    """A stateless LIF (``is_stateless``: v = x + bias every step, so it spikes when x + bias > v_th whatever its
    reset) that fires on '>': a NIR Threshold ('ge' is not NIR's '>')."""
    return is_stateless(node) and node.attrs.get("fire_when", "ge") == "gt"


def _per_sample(param: np.ndarray, shape: tuple) -> np.ndarray:
    """An IR Mul/Add parameter broadcast to one sample (a leading axis of 1 is the batch axis)."""
    if param.ndim > len(shape):
        param = param.reshape(param.shape[param.ndim - len(shape):])
    return np.broadcast_to(param, shape)


def _nir_node(kind: str, fields: dict, meta: dict):
    import nir

    # weights as float32 (what the IR computes with); time constants stay float64 so that dt / tau reads back
    # as the IR's decay exactly
    f = {k: (np.asarray(v, np.float32) if k in ("weight", "bias") else v) for k, v in fields.items()}
    if kind == "Input":
        return nir.Input(input_type={"input": f["shape"]}, metadata=meta)
    if kind == "Output":
        return nir.Output(output_type={"output": f["shape"]}, metadata=meta)
    if kind == "Flatten":
        return nir.Flatten(input_type={"input": f["input_type"]}, start_dim=0, end_dim=-1, metadata=meta)
    cls = {"I": nir.I}.get(kind) or getattr(nir, kind)
    return cls(**f, metadata=meta)


def to_nir_graph(g: Graph, dt: float | None = None):
    """The NIR graph (a ``nir.NIRGraph``) of float SNN ``g`` at ``dt`` seconds per step, and the notes.

    ``dt`` defaults to ``g.meta['time']['dt']``, else to the neurons' own ``dt``, else DEFAULT_DT (noted).
    Raises UnsupportedError naming every node that has no NIR form."""
    import nir

    g = g.copy()
    infer_shapes(g)
    dt, source = _dt(g, dt)
    ex = _Exporter(g, dt)
    if source:
        ex.notes.append(source)
    ex.run()
    if ex.problems:
        raise UnsupportedError(f"graph '{g.name}' cannot be written as NIR", ex.problems)
    reset = ex.resets.most_common(1)[0][0] if ex.resets else "zero"
    meta = {"dt": float(dt), "integration": "euler", "reset": reset, "fire_when": "gt",
            "writer": "neurodeploy"}
    nodes = {name: _nir_node(kind, fields, m) for name, (kind, fields, m) in ex.nodes.items()}
    return nir.NIRGraph(nodes=nodes, edges=ex.edges, metadata=meta), ex.notes


def _dt(g: Graph, dt: float | None) -> tuple[float, str]:
    if dt is not None:
        return float(dt), ""
    known = (g.meta.get("time") or {}).get("dt")
    if known:
        return float(known), ""
    own = [n.attrs["dt"] for n in g.nodes if n.op == "LIF" and n.attrs.get("dt")]
    if own:
        return float(own[0]), ""
    return DEFAULT_DT, f"dt = {DEFAULT_DT:g} s (the default): the graph states no time step"


def nir_writer(g: Graph, dt: float | None = None) -> tuple[Callable[[Path], None], list[str]]:
    """The NIR form of ``g`` built now (UnsupportedError if there is none), as a function writing it to the path
    it is given, and the notes for the report (what NIR or Norse cannot express)."""
    graph, notes = to_nir_graph(g, dt)

    def write(path: Path) -> None:
        import nir

        nir.write(str(path), graph)

    return write, notes


def export_nir(g: Graph, path: str | Path, dt: float | None = None) -> list[str]:
    """Write float SNN ``g`` to ``path`` as NIR (see the module docstring); returns the notes on what NIR or
    Norse cannot express, for the report. Raises UnsupportedError when a node has no NIR form at all."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"export_nir(g, path, dt): path must be a file path, got {path!r} (nir_writer(g, dt) "
                        "returns a writer and the notes)")
    write, notes = nir_writer(g, dt)
    write(Path(path))
    return notes
