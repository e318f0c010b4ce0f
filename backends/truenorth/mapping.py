"""Core mapping for TrueNorth: tile every layer into 256-axon x 256-neuron cores, add splitters, place, route.

* Axons: every input of a core is repeated on ``axons_per_input`` axons (one per axon type, see
  neurodeploy/ir/ops/truenorth.py), so a core takes floor(256 / axons_per_input) distinct inputs.
* Gemm: outputs in blocks of 256 neurons; when the fan-in needs more axons than a core has, the inputs are split
  into K groups, each group core holding a +/- partial neuron pair per output (128 outputs), and merge cores
  hold floor(256 / 2K) merge neurons each (a merge neuron needs 2K axons).
* Conv: the output map is cut into tiles of p x q positions x c output channels; the tile's receptive field x
  the input channels of one group must fit the core's axons. Every tile size is tried and the one with the
  fewest cores is kept.
* Splitters: a neuron drives one axon; a layer's outputs feed ``axon_slots`` axons of the next layer, so when
  that is more than one per neuron, splitter cores (one axon in, up to 256 copies out) copy them: one extra
  tick per splitter level.
* Placement: cores in layer order, row by row on the 64 x 64 grid of a chip, chips side by side in a square
  grid; spikes travel with dimension-order routing (x then y), so hops = |dx| + |dy| between cores.
Every limit that cannot be met is a violation naming the layer and the numbers.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class LayerPlan:
    layer: str
    neurons: int
    fan_in: int                 # inputs of one neuron
    groups: int                 # K fan-in groups (1: no partial neurons)
    tile: tuple                 # (p, q, c) output positions x channels per core (conv); (1, 1, c) for gemm
    partial_cores: int          # cores holding the layer's neurons (or its partial neurons)
    merge_cores: int
    axon_slots: int             # input axons this layer's cores use, summed over cores
    splitter_cores: int = 0     # cores copying this layer's output spikes to the next layer's axons
    splitter_levels: int = 0
    copies_per_neuron: float = 0.0

    @property
    def cores(self) -> int:
        return self.partial_cores + self.merge_cores + self.splitter_cores


@dataclass
class Mapping:
    layers: list[LayerPlan] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    cores: int = 0
    chips: int = 0
    splitter_cores: int = 0
    utilization: float = 0.0
    mean_hops: dict = field(default_factory=dict)            # layer -> mean hops of one of its output spikes
    mean_chip_crossings: dict = field(default_factory=dict)  # layer -> mean chip boundaries crossed per spike

    def as_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "layers"},
                "layers": [{**asdict(p), "cores": p.cores} for p in self.layers]}


@dataclass(frozen=True)
class CoreLimits:
    axons: int
    neurons: int
    axons_per_input: int

    @classmethod
    def from_spec(cls, spec) -> CoreLimits:
        return cls(int(spec.value("cores.axons_per_core")), int(spec.value("cores.neurons_per_core")),
                   len(spec.value("quantization.codebook")))

    @property
    def inputs(self) -> int:
        return self.axons // self.axons_per_input


def _merge_cores(outputs: int, groups: int, lim: CoreLimits) -> int:
    per_core = min(lim.neurons, lim.axons // (2 * groups))
    return math.ceil(outputs / per_core) if per_core else 0


def plan_gemm(name: str, outputs: int, fan_in: int, lim: CoreLimits) -> tuple[LayerPlan, list[str]]:
    groups = math.ceil(fan_in / lim.inputs)
    per_core = lim.neurons if groups == 1 else lim.neurons // 2
    blocks = math.ceil(outputs / per_core)
    plan = LayerPlan(name, outputs, fan_in, groups, (1, 1, per_core), groups * blocks,
                     _merge_cores(outputs, groups, lim) if groups > 1 else 0, fan_in * lim.axons_per_input * blocks)
    return plan, _merge_violation(plan, lim)


def _merge_violation(plan: LayerPlan, lim: CoreLimits) -> list[str]:
    if plan.groups > 1 and 2 * plan.groups > lim.axons:
        return [f"{plan.layer}: fan-in {plan.fan_in} needs {plan.groups} input groups; a merge neuron needs "
                f"{2 * plan.groups} axons, limit {lim.axons}"]
    return []


def plan_conv(name: str, in_shape: tuple, out_shape: tuple, kernel: tuple, strides: tuple, dilations: tuple,
              group: int, lim: CoreLimits) -> tuple[LayerPlan | None, list[str]]:
    """The tile with the fewest cores (ties: fewer groups); None with a violation when no tile fits."""
    c_in, h, w = in_shape
    m, oh, ow = out_shape
    c_group, m_group = c_in // group, m // group
    span = lambda n, s, k, d, size: min((n - 1) * s + d * (k - 1) + 1, size)
    best = None
    for p in range(1, oh + 1):
        for q in range(1, ow + 1):
            field_size = span(p, strides[0], kernel[0], dilations[0], h) * span(q, strides[1], kernel[1], dilations[1], w)
            channels_per_group = lim.inputs // field_size
            if channels_per_group == 0:
                break
            groups = math.ceil(c_group / channels_per_group)
            if groups > 1 and group != 1:
                continue
            c = min(m_group, lim.neurons // (p * q * (2 if groups > 1 else 1)))
            if c == 0:
                break
            tiles = math.ceil(oh / p) * math.ceil(ow / q) * group * math.ceil(m_group / c)
            merge = _merge_cores(m * oh * ow, groups, lim) if groups > 1 else 0
            key = (tiles * groups + merge, groups)
            if best is None or key < best[0]:
                slots = tiles * field_size * c_group * lim.axons_per_input
                best = key, LayerPlan(name, m * oh * ow, c_group * kernel[0] * kernel[1], groups, (p, q, c),
                                      tiles * groups, merge, slots)
    if best is None:
        return None, [f"{name}: one output needs {kernel[0]}x{kernel[1]} taps x {lim.axons_per_input} axons per "
                      f"input = {kernel[0] * kernel[1] * lim.axons_per_input} axons, limit {lim.axons}"]
    return best[1], _merge_violation(best[1], lim)


def plan_layer(g, weighted, name: str, lim: CoreLimits) -> tuple[LayerPlan | None, list[str]]:
    """The plan of one layer from its weighted node (Gemm/Conv, or a TrueNorthLayer holding levels)."""
    from neurodeploy.ir.ops import OPS, resolve_attrs

    weight = g.param_of(weighted, 1)
    out_shape = g.types[weighted.outputs[0]].shape
    if weight.ndim == 2:
        return plan_gemm(name, out_shape[0], weight.shape[1], lim)
    a = resolve_attrs(OPS[weighted.op], weighted)
    return plan_conv(name, g.types[weighted.inputs[0]].shape, out_shape, weight.shape[2:], a["strides"] or (1, 1),
                     a["dilations"] or (1, 1), a["group"], lim)


def map_to_cores(g, spec) -> Mapping:
    """Mapping of every TrueNorthLayer of a lowered graph (see the module docstring)."""
    lim, m = CoreLimits.from_spec(spec), Mapping()
    for node in g.find("TrueNorthLayer"):
        plan, problems = plan_layer(g, node, node.name, lim)
        m.violations += problems
        if plan is not None:
            m.layers.append(plan)
    for source, target in zip(m.layers, m.layers[1:]):
        add_splitters(source, target.axon_slots, lim)
    place_and_route(m, spec)
    return m


def add_splitters(source: LayerPlan, target_slots: int, lim: CoreLimits) -> None:
    """Splitter cores copying ``source``'s spikes onto the ``target_slots`` axons of the next layer."""
    copies = target_slots / max(source.neurons, 1)
    source.copies_per_neuron = copies
    if copies <= 1:
        return
    source.splitter_levels = max(1, math.ceil(math.log(copies, lim.neurons)))
    inner = source.neurons * math.ceil(copies / lim.neurons) if source.splitter_levels > 1 else 0
    source.splitter_cores = math.ceil((target_slots + inner) / lim.neurons)


def _coordinates(first: int, count: int, side: tuple[int, int], chips_x: int) -> np.ndarray:
    """(x, y) of cores first..first+count-1 in the global grid: chips of side[0] x side[1] cores, chips_x per row."""
    index = np.arange(first, first + count)
    chip, local = index // (side[0] * side[1]), index % (side[0] * side[1])
    return np.stack([(chip % chips_x) * side[0] + local % side[0], (chip // chips_x) * side[1] + local // side[0]], 1)


def _mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a_i - b_j| over all pairs, in O((n + m) log(n + m))."""
    a, b = np.sort(a), np.sort(b)
    below = np.searchsorted(a, b, side="right")
    prefix = np.concatenate([[0], np.cumsum(a)])
    total = (b * below - prefix[below]).sum() + ((prefix[-1] - prefix[below]) - b * (len(a) - below)).sum()
    return float(total / (len(a) * len(b)))


def place_and_route(m: Mapping, spec) -> None:
    """Cores in layer order (each layer: partial, merge, then splitter cores); mean hops and chip crossings of a
    layer's output spikes (from its splitters, else its neurons) to the next layer's first cores."""
    side = (int(spec.value("cores.grid_x")), int(spec.value("cores.grid_y")))
    m.cores = sum(p.cores for p in m.layers)
    m.chips = math.ceil(m.cores / (side[0] * side[1]))
    chips_x = max(1, math.ceil(math.sqrt(m.chips)))
    starts = np.concatenate([[0], np.cumsum([p.cores for p in m.layers])]).astype(int)
    for i, (p, nxt) in enumerate(zip(m.layers, m.layers[1:])):
        if p.splitter_cores:
            src = _coordinates(starts[i + 1] - p.splitter_cores, p.splitter_cores, side, chips_x)
        else:
            count = p.merge_cores or p.partial_cores
            src = _coordinates(starts[i] + p.partial_cores + p.merge_cores - count, count, side, chips_x)
        dst = _coordinates(starts[i + 1], nxt.partial_cores, side, chips_x)
        m.mean_hops[p.layer] = _mean_distance(src[:, 0], dst[:, 0]) + _mean_distance(src[:, 1], dst[:, 1])
        m.mean_chip_crossings[p.layer] = (_mean_distance(src[:, 0] // side[0], dst[:, 0] // side[0])
                                          + _mean_distance(src[:, 1] // side[1], dst[:, 1] // side[1]))
    m.splitter_cores = sum(p.splitter_cores for p in m.layers)
    m.utilization = sum(p.neurons for p in m.layers) / max(m.cores * int(spec.value("cores.neurons_per_core")), 1)


def core_map(m: Mapping, spec) -> dict:
    """Every core on the 64 x 64 grid of its chip, coloured by its layer; splitter cores in a colour of their own
    (neurodeploy.coremap)."""
    from neurodeploy.coremap import CHIPS_SHOWN, core_map as make

    side = (int(spec.value("cores.grid_x")), int(spec.value("cores.grid_y")))
    per_chip, chips_x = side[0] * side[1], max(1, math.ceil(math.sqrt(m.chips)))
    labels = [p.layer for p in m.layers] + ["splitters"]
    kinds = [(i, p.cores - p.splitter_cores) if k == 0 else (len(m.layers), p.splitter_cores)
             for i, p in enumerate(m.layers) for k in (0, 1)]
    cells, first = [], 0
    for label, count in kinds:
        count = min(count, max(0, CHIPS_SHOWN * per_chip - first))  # cores on chips that are not drawn: skipped
        chips = np.arange(first, first + count) // per_chip
        cells += [(c, y % side[1], x % side[0], label)
                  for c, (x, y) in zip(chips, _coordinates(first, count, side, chips_x))]
        first += count
    title = f"{m.cores} cores ({m.splitter_cores} splitters) on {m.chips} chip(s) of {side[0]} x {side[1]} cores"
    return make("layers", title, side[1], side[0], m.chips, cells, labels)
