"""Core mapping for Loihi: split every on-chip layer into cores within the per-core limits of the spec.

Per layer (a LoihiLIF or voltage readout with its incoming synapses): compartments per core, synaptic memory
per core (each synapse costs weight bits + target index bits, as nengo-loihi counts it; conv synapses are
counted per existing connection, never by expanding the kernel), input axons per core (a core needs one
axon per distinct presynaptic neuron of its compartments) and output axons per core (a neuron needs one per
destination core of the next layer). Cores are filled layer after layer, placed on the
mesh in order (tile by tile), then counted per chip. Every limit that cannot be met is a violation naming the
layer, the resource, what is needed and the limit.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.ann import CURRENT_SUMS
from neurodeploy.ir.summary import conv_synapses
from neurodeploy.passes.layers import upstream_of

NEURON_OPS = ("LoihiLIF", "LoihiVoltageReadout", "LoihiTTFS", "LoihiTTFSReadout")
SPIKING_NEURON_OPS = ("LoihiLIF", "LoihiTTFS")
CURRENT_INPUTS = {"LoihiTTFS": 2, "LoihiTTFSReadout": 2}  # encoding and calibration currents; others: one


@dataclass
class LayerMapping:
    layer: str
    neurons: int
    synapses: int
    fan_in: int                 # largest number of presynaptic neurons of one compartment
    input_neurons: int          # presynaptic neurons of the whole layer
    cores: int
    limited_by: str
    neurons_per_core: int
    utilization: float          # neurons / (cores * compartments per core)


@dataclass
class Mapping:
    layers: list[LayerMapping] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    cores: int = 0
    chips: int = 0
    placement: list[tuple[int, int, int]] = field(default_factory=list)  # (chip, tile, core in tile) per core

    def as_dict(self) -> dict:
        return {"cores": self.cores, "chips": self.chips, "layers": [asdict(m) for m in self.layers],
                "violations": self.violations}


def synapse_nodes(g: Graph, neuron: Node) -> list[Node]:
    """The LoihiDense/LoihiConv nodes feeding a neuron layer (several when an Add sums their currents, or for a TTFS
    layer's encoding and calibration currents)."""
    found = []
    for value in neuron.inputs[:CURRENT_INPUTS.get(neuron.op, 1)]:
        producer = g.producer(value) if value else None
        if producer is not None and producer.op in CURRENT_SUMS:
            found += [p for p in (g.producer(v) for v in producer.inputs) if p is not None]
        elif producer is not None and producer.op in ("LoihiDense", "LoihiConv"):
            found.append(producer)
    return found


def synapse_counts(g: Graph, syn: Node) -> tuple[int, int, int]:
    """(synapses, largest fan-in, presynaptic neurons) of one synapse node."""
    weight = g.param_of(syn, 1)
    inputs = g.types[syn.inputs[0]].size
    if syn.op == "LoihiDense":
        return int((weight != 0).sum()), int(weight.shape[1]), inputs
    return conv_synapses(g, syn), int(weight[0].size), inputs


def _layer_cores(name: str, neurons: int, synapses: int, fan_in: int, inputs: int, spec, bits: int) -> tuple:
    """Cores for one layer and the resource that decides it; violations when no split can fit."""
    per_core = spec.value("cores.neurons_per_core")
    memory = spec.value("cores.synaptic_memory_bits_per_core")
    syn_bits = bits + spec.value("cores.synapse_index_bits")
    need = {"compartments": math.ceil(neurons / per_core), "synaptic memory": math.ceil(synapses * syn_bits / memory)}
    violations = []
    axons = spec.values["cores"].get("input_axons_per_core")
    if axons is not None and fan_in > axons:
        violations.append(f"{name}: input axons per core: one neuron needs {fan_in}, limit {axons}")
    if fan_in * syn_bits > memory:
        violations.append(f"{name}: synaptic memory per core: one neuron needs {fan_in * syn_bits} bits, "
                          f"limit {memory}")
    resource = max(need, key=need.get)
    return max(1, need[resource]), resource, violations


def spike_train(g: Graph, value: str) -> tuple[str | None, str]:
    """The on-chip layer whose spikes reach ``value`` through Flatten/Reshape (None if none), and which of its
    outputs they are (a TTFS layer sends two trains)."""
    producer, chain = upstream_of(g, value)
    train = chain[0].inputs[0] if chain else value
    return (producer.name if producer is not None and producer.op in NEURON_OPS else None), train


def spike_source(g: Graph, value: str) -> str | None:
    """The on-chip layer whose spikes reach ``value`` (through Flatten/Reshape), if any."""
    return spike_train(g, value)[0]


def source_layer(g: Graph, layer: str) -> str | None:
    """The on-chip layer whose spikes reach ``layer`` through its first synapse node."""
    synapses = synapse_nodes(g, g.node(layer))
    return spike_source(g, synapses[0].inputs[0]) if synapses else None


def _output_axons(g: Graph, mapping: Mapping, spec) -> None:
    """Raise each layer's core count to fit its output axons: one per (neuron, destination core)."""
    limit = spec.values["cores"].get("output_axons_per_core")
    if limit is None:
        return
    layers = {m.layer: m for m in mapping.layers}
    for target in mapping.layers:
        source = layers.get(source_layer(g, target.layer))
        if source is None:
            continue
        destinations = min(target.cores, math.ceil(target.synapses / max(source.neurons, 1)))
        if destinations > limit:
            mapping.violations.append(f"{source.layer}: output axons per core: one neuron needs {destinations}, "
                                      f"limit {limit}")
        need = math.ceil(source.neurons * destinations / limit)
        if need > source.cores:
            source.cores, source.limited_by = need, "output axons"
            source.neurons_per_core = math.ceil(source.neurons / need)
            source.utilization = source.neurons / (need * spec.value("cores.neurons_per_core"))


def map_to_cores(g: Graph, spec) -> Mapping:
    """Mapping of every on-chip layer of a lowered graph (see the module docstring)."""
    mapping = Mapping()
    bits = spec.value("numerics.weight_bits")
    for neuron in g.find(*NEURON_OPS):
        neurons = g.types[neuron.outputs[0]].size
        counts = [synapse_counts(g, syn) for syn in synapse_nodes(g, neuron)]
        recurrent = g.param_of(neuron, 2) if neuron.op == "LoihiLIF" else None
        if recurrent is not None:  # a recurrent Dense: its synapses live on the layer's own cores
            counts.append((int((recurrent != 0).sum()), int(recurrent.shape[1]), int(recurrent.shape[1])))
        synapses, fan_in, inputs = (sum(c[i] for c in counts) for i in range(3))
        cores, resource, violations = _layer_cores(neuron.name, neurons, synapses, fan_in, inputs, spec, bits)
        per_core = math.ceil(neurons / cores)
        capacity = cores * spec.value("cores.neurons_per_core")
        mapping.layers.append(LayerMapping(neuron.name, neurons, synapses, fan_in, inputs, cores, resource,
                                           per_core, neurons / capacity))
        mapping.violations += violations
    _output_axons(g, mapping, spec)
    mapping.cores = sum(m.cores for m in mapping.layers)
    per_chip = spec.value("cores.per_chip")
    mapping.chips = math.ceil(mapping.cores / per_chip)
    per_tile = spec.value("mesh.cores_per_tile")
    mapping.placement = [(i // per_chip, (i % per_chip) // per_tile, i % per_tile) for i in range(mapping.cores)]
    return mapping


def core_map(mapping: Mapping, spec) -> dict:
    """The cores of every layer on the chip's mesh of tiles (neurodeploy.coremap): tile x across, tile y down, the
    cores of one tile as a small square."""
    import math

    from neurodeploy.coremap import core_map as make

    per_tile, tiles_y = int(spec.value("mesh.cores_per_tile")), int(spec.value("mesh.tiles_y"))
    tiles_x, side = int(spec.value("mesh.tiles_x")), math.ceil(math.sqrt(spec.value("mesh.cores_per_tile")))
    layer_of = [i for i, layer in enumerate(mapping.layers) for _ in range(layer.cores)]
    cells = [(chip, (tile % tiles_y) * side + core // side, (tile // tiles_y) * side + core % side, layer_of[i])
             for i, (chip, tile, core) in enumerate(mapping.placement)]
    title = (f"{mapping.cores} cores on {mapping.chips} chip(s): {tiles_x} x {tiles_y} tiles of {per_tile} cores "
             "per chip")
    return make("layers", title, tiles_y * side, tiles_x * side, mapping.chips, cells,
                [layer.layer for layer in mapping.layers])
