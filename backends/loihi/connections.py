"""The synapses of a Loihi-lowered graph one by one, and where the mapping puts each neuron.

Both the energy model (messages per destination core, hops, per-core work) and the SANA-FE export (the same
network neuron by neuron) need every nonzero synapse (source element, target neuron, weight) and the core of
every neuron. Neurons are numbered in the IR's C order (channel, row, column) within a layer; a layer's neurons
fill its cores in that order, ``neurons_per_core`` at a time (``mapping.map_to_cores``), and cores follow one
another on the mesh tile by tile.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from neurodeploy.backends.loihi.mapping import NEURON_OPS, Mapping, synapse_nodes
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops import OPS
from neurodeploy.ir.ops.base import resolve_attrs

CHUNK = 1 << 22  # synapses per yielded block: bounds memory on large layers


@dataclass(frozen=True)
class Synapses:
    """One synapse node (or a layer's recurrent weights) feeding neuron layer ``target``."""

    name: str          # the node's name, or '<layer>.recurrent' (as neurodeploy.metrics names it)
    node: Node
    target: str        # the neuron layer it feeds
    source_value: str  # the value whose elements are the presynaptic neurons
    weight: np.ndarray
    recurrent: bool = False

    @property
    def format(self) -> str:
        """Loihi's synapse encoding: convolutional for a Conv; for a Dense, sparse (index per synapse) when fewer than
        half of its weights are nonzero, dense otherwise (neurodeploy's rule; the Loihi compiler's is unpublished)."""
        if self.node.op == "LoihiConv" and not self.recurrent:
            return "conv"
        return "sparse" if np.count_nonzero(self.weight) < self.weight.size / 2 else "dense"


def synapse_sets(g: Graph) -> list[Synapses]:
    """Every synapse node of the graph with its target layer, in graph order; recurrent weights after their layer's
    input synapses."""
    out = []
    for neuron in g.find(*NEURON_OPS):
        for syn in synapse_nodes(g, neuron):
            out.append(Synapses(syn.name, syn, neuron.name, syn.inputs[0], g.param_of(syn, 1)))
        if neuron.op == "LoihiLIF" and len(neuron.inputs) > 2 and neuron.inputs[2]:
            out.append(Synapses(f"{neuron.name}.recurrent", neuron, neuron.name, neuron.outputs[0],
                                g.param_of(neuron, 2), recurrent=True))
    return out


def connections(g: Graph, syn: Synapses, weights: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Blocks of (source element, target neuron, integer weight or None) for every nonzero synapse of ``syn``."""
    if syn.recurrent or syn.node.op == "LoihiDense":
        rows, cols = np.nonzero(syn.weight)  # weight [out, in]
        for i in range(0, len(rows), CHUNK):
            r, c = rows[i:i + CHUNK], cols[i:i + CHUNK]
            yield c.astype(np.int64), r.astype(np.int64), syn.weight[r, c].astype(np.int64) if weights else None
        return
    yield from _conv_connections(g, syn.node, syn.weight, weights)


def _conv_connections(g: Graph, node: Node, w: np.ndarray, weights: bool):
    from neurodeploy.ir.ops.ann import _window_params

    attrs = resolve_attrs(OPS[node.op], node)
    channels, height, width = g.types[node.inputs[0]].shape
    out_c, out_h, out_w = g.types[node.outputs[0]].shape
    m, cg, kh, kw = w.shape
    per_group = m // (attrs.get("group") or 1)
    (sh, sw), pads, (dh, dw) = _window_params(attrs, (kh, kw))
    for ky in range(kh):
        rows_out, rows_in = _tap(out_h, sh, pads[0], dh, ky, height)
        for kx in range(kw):
            cols_out, cols_in = _tap(out_w, sw, pads[1], dw, kx, width)
            if not len(rows_out) or not len(cols_out):
                continue
            pos_out = (rows_out[:, None] * out_w + cols_out[None, :]).reshape(-1)
            pos_in = (rows_in[:, None] * width + cols_in[None, :]).reshape(-1)
            co, ci = np.nonzero(w[:, :, ky, kx])
            step = max(1, CHUNK // len(pos_out))
            for i in range(0, len(co), step):
                o, c = co[i:i + step], ci[i:i + step]
                source_channel = (o // per_group) * cg + c
                src = (source_channel[:, None].astype(np.int64) * (height * width) + pos_in[None, :]).reshape(-1)
                dst = (o[:, None].astype(np.int64) * (out_h * out_w) + pos_out[None, :]).reshape(-1)
                weight = np.repeat(w[o, c, ky, kx].astype(np.int64), len(pos_out)) if weights else None
                yield src, dst, weight


def _tap(out_size: int, stride: int, pad: int, dilation: int, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Output indices whose window puts tap ``k`` inside the input, and the input index each lands on."""
    out = np.arange(out_size)
    index = out * stride - pad + k * dilation
    inside = (index >= 0) & (index < size)
    return out[inside], index[inside]


@dataclass(frozen=True)
class Placement:
    """Where the mapping puts each layer's neurons: its first global core and neurons per core, and each core's
    chip and mesh tile position."""

    first_core: dict[str, int]
    per_core: dict[str, int]
    cores: dict[str, int]
    chip: np.ndarray    # [cores] chip index
    tile_x: np.ndarray  # [cores] tile column on its chip's mesh
    tile_y: np.ndarray  # [cores] tile row

    def core_of(self, layer: str, neuron: np.ndarray) -> np.ndarray:
        return self.first_core[layer] + neuron // self.per_core[layer]


def placement(mapping: Mapping, spec) -> Placement:
    """Cores in mapping order; a tile's position on the mesh as SANA-FE numbers it (x = tile // rows, y = tile %
    rows)."""
    first, per_core, count, core = {}, {}, {}, 0
    for layer in mapping.layers:
        first[layer.layer], per_core[layer.layer], count[layer.layer] = core, layer.neurons_per_core, layer.cores
        core += layer.cores
    rows = int(spec.value("mesh.tiles_y"))
    chip = np.array([p[0] for p in mapping.placement], np.int64)
    tile = np.array([p[1] for p in mapping.placement], np.int64)
    return Placement(first, per_core, count, chip, tile // rows, tile % rows)
