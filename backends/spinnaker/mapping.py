"""Core mapping for SpiNNaker: populations split into cores, placed on chips, routed, memory counted.

* Cores: each population (SpiNNakerIF / readout) is split into cores of at most ``cores.neurons_per_core``
  neurons (sPyNNaker's default 256; override with ``--set cores.neurons_per_core=N``). The host-driven first
  layer is on chip too: only its input is computed on the host.
* Synaptic matrix (SDRAM of the post core's chip): one row per (pre neuron, post core) pair with a synapse, of
  ``synapse_row_header_words`` plus one 32-bit word per synapse (16-bit weight, 4-bit delay, 8-bit index).
  Rows count every pre neuron once per post core (exact for Gemm and for conv cores holding whole channels,
  an upper bound otherwise).
* Placement: cores fill chips in layer order (``cores.application_cores_per_chip``); chips lie row by row on a
  square grid of chips; boards = ceil(chips / chips_per_board).
* Routing: one key per pre core; dimension-order routing (x then y) from its chip to every chip holding a post
  core. A chip needs a router entry for a key where the key starts (source), turns, or is delivered; straight
  hops use default routing. Entries per chip must stay within ``router.entries_per_chip``.
Every limit that is exceeded is a violation naming the layer or chip, the amount and the limit.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from neurodeploy.ir.graph import Graph
from neurodeploy.ir.summary import conv_synapses
from neurodeploy.passes.layers import upstream_of

POPULATION_OPS = ("SpiNNakerIF", "SpiNNakerVoltageReadout")


@dataclass
class Population:
    layer: str
    neurons: int
    cores: int
    synapses: int
    synaptic_matrix_bytes: int
    source: str | None        # the population whose spikes the projection carries (None: host-driven)
    first_core: int = 0


@dataclass
class Mapping:
    populations: list[Population] = field(default_factory=list)
    cores: int = 0
    chips: int = 0
    boards: int = 0
    chip_grid: tuple[int, int] = (0, 0)
    router_entries_max: int = 0
    sdram_bytes_max: int = 0
    mean_hops: dict = field(default_factory=dict)   # layer -> mean chip-to-chip hops of one of its packets
    violations: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["chip_grid"] = list(self.chip_grid)
        return d


def _population(node) -> str | None:
    return node.name if node is not None and node.op in POPULATION_OPS else None


def _populations(g: Graph, spec) -> list[Population]:
    per_core = int(spec.value("cores.neurons_per_core"))
    header = int(spec.value("synapses.row_header_words"))
    word = int(spec.value("synapses.word_bytes"))
    out = []
    for neuron in g.find(*POPULATION_OPS):
        neurons = g.types[neuron.outputs[0]].size
        cores = math.ceil(neurons / per_core)
        syn = g.producer(neuron.inputs[0]) if neuron.inputs[0] else None
        if syn is None:
            out.append(Population(neuron.name, neurons, cores, 0, 0, None))
            continue
        weight = g.param_of(syn, 1)
        synapses = int((weight != 0).sum()) if weight.ndim == 2 else conv_synapses(g, syn)
        rows = g.types[syn.inputs[0]].size * cores
        out.append(Population(neuron.name, neurons, cores, synapses, word * (synapses + header * rows),
                              _population(upstream_of(g, syn.inputs[0])[0])))
    return out


def _place(pops: list[Population], per_chip: int) -> np.ndarray:
    """Chip index of every core, cores numbered in layer order."""
    start = 0
    for p in pops:
        p.first_core, start = start, start + p.cores
    return chips_of_cores(start, per_chip)


def chips_of_cores(cores: int, per_chip: int) -> np.ndarray:
    """The chip of each of ``cores`` cores filled chip by chip in core order."""
    return np.arange(cores) // per_chip


def _chips_of(p: Population, chip_of_core: np.ndarray) -> np.ndarray:
    return chip_of_core[p.first_core:p.first_core + p.cores]


def _route(sources: np.ndarray, targets: np.ndarray, width: int, entries: np.ndarray) -> float:
    """Add the router entries of keys from cores on chips ``sources`` to chips ``targets``; mean hops per packet."""
    tx, ty = targets % width, targets // width
    hops = []
    for chip, keys in zip(*np.unique(sources, return_counts=True)):
        sx, sy = chip % width, chip // width
        turns = {int(sy * width + x) for x, y in zip(tx, ty) if x != sx and y != sy}
        for node in {int(chip)} | set(int(t) for t in targets) | turns:
            entries[node] += keys
        hops.append(keys * float(np.mean(np.abs(tx - sx) + np.abs(ty - sy))))
    return float(sum(hops) / max(len(sources), 1))


def map_to_cores(g: Graph, spec) -> Mapping:
    """Mapping of every population of a lowered graph (see the module docstring)."""
    m = Mapping(populations=_populations(g, spec))
    per_chip = int(spec.value("cores.application_cores_per_chip"))
    chip_of_core = _place(m.populations, per_chip)
    m.cores = len(chip_of_core)
    m.chips = int(chip_of_core[-1]) + 1 if m.cores else 0
    m.boards = math.ceil(m.chips / int(spec.value("chips.per_board")))
    width = max(1, math.ceil(math.sqrt(m.chips)))
    m.chip_grid = (width, math.ceil(m.chips / width) if m.chips else 0)
    entries = np.zeros(m.chips, np.int64)
    sdram = np.zeros(m.chips, np.int64)
    by_name = {p.layer: p for p in m.populations}
    for p in m.populations:
        chips = _chips_of(p, chip_of_core)
        np.add.at(sdram, chips, p.synaptic_matrix_bytes // max(p.cores, 1))
        if p.source is not None:
            m.mean_hops[p.source] = _route(_chips_of(by_name[p.source], chip_of_core), np.unique(chips), width, entries)
    limit_entries = int(spec.value("router.entries_per_chip"))
    limit_sdram = int(spec.value("chips.sdram_bytes"))
    m.router_entries_max = int(entries.max(initial=0))
    m.sdram_bytes_max = int(sdram.max(initial=0))
    layers = lambda c: ", ".join(p.layer for p in m.populations if c in _chips_of(p, chip_of_core))
    m.violations += [f"chip {c} ({layers(c)}): {int(entries[c])} router entries, limit {limit_entries}"
                     for c in np.flatnonzero(entries > limit_entries)]
    m.violations += [f"chip {c} ({layers(c)}): synaptic matrices need {int(sdram[c])} bytes of SDRAM, limit {limit_sdram}"
                     for c in np.flatnonzero(sdram > limit_sdram)]
    return m


def core_map(m: Mapping, spec) -> dict:
    """The application cores used on each chip, chips as the mapping lays them out (neurodeploy.coremap)."""
    from neurodeploy.coremap import core_map as make

    per_chip = int(spec.value("cores.application_cores_per_chip"))
    used = np.bincount(chips_of_cores(m.cores, per_chip), minlength=m.chips)
    width = max(m.chip_grid[0], 1)
    cells = [(0, chip // width, chip % width, count) for chip, count in enumerate(used)]
    title = (f"{m.cores} application cores on {m.chips} chip(s), {m.boards} board(s) "
             f"({per_chip} application cores per chip)")
    return make("counts", title, max(m.chip_grid[1], 1), width, m.chips, cells, value_label="cores used")
