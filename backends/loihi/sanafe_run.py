"""Run a Loihi build in SANA-FE (the open simulator calibrated on Loihi silicon), with the same placement.

Each on-chip neuron layer becomes a SANA-FE neuron group of Loihi LIF compartments (SANA-FE's
``leaky_integrate_fire`` soma of its bundled ``loihi.yaml``), neuron for neuron in the IR's C order, on the cores the
neurodeploy mapping gives it; every nonzero synapse becomes one SANA-FE connection through the synapse unit of its
format (dense, sparse or conv: ``connections.Synapses.format``). Values are in the golden simulator's integer units
(weights already shifted by 6 as Lava does), so the float arithmetic of SANA-FE is exact for them and its spikes
equal the golden simulator's wherever the layer's dynamics are expressible (``expressible_problems``): no leak or a
full current decay, and no right-shifted Dense sums. The host layer's per-sample bias is written before each sample,
a late bias (``bias_start``) between run segments, as the Lava runner does.

SANA-FE is an optional dependency (``pip install sanafe``, done by ``./nd``); ``import sanafe`` happens here only.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from neurodeploy.backends.loihi.connections import Synapses, connections, placement, synapse_sets
from neurodeploy.backends.loihi.lava_run import host_values
from neurodeploy.backends.loihi.mapping import NEURON_OPS, map_to_cores, spike_source
from neurodeploy.errors import UnsupportedError
from neurodeploy.progress import bar
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.ops.loihi import (ACTIVATION_SHIFT, CURRENT_DECAY_OFFSET, DECAY_UNITY, STATE_LIMIT,
                                      THRESHOLD_SHIFT, _shift)

SOMA = "loihi_lif"
DENDRITE = "loihi_dendrites"
SYNAPSE_UNITS = {"dense": "loihi_dense_synapse", "sparse": "loihi_sparse_synapse", "conv": "loihi_conv_synapse"}
ENERGY_TERMS = ("synapse", "dendrite", "soma", "network")


def sanafe_available() -> str | None:
    """None when SANA-FE can be imported, else why not (for skips and errors)."""
    try:
        import sanafe  # noqa: F401
    except ImportError as e:
        return f"SANA-FE is not installed (pip install 'neurodeploy[sanafe]' or sanafe==2.2.9; ./nd installs it): {e}"
    return None


def require_sanafe() -> None:
    problem = sanafe_available()
    if problem:
        raise UnsupportedError(problem)


def expressible_problems(g: Graph) -> list[str]:
    """Layers whose Loihi arithmetic SANA-FE's float LIF does not reproduce exactly (it still runs them)."""
    problems = []
    for node in g.find(*NEURON_OPS):
        a = node.attrs
        if a.get("dv", 0) != 0 or a.get("du", 0) + CURRENT_DECAY_OFFSET not in (DECAY_UNITY, 0):
            problems.append(f"{node.name}: decays du={a.get('du')} dv={a.get('dv')} truncate in Loihi's integers, not "
                            "in SANA-FE's floats")
    for node in g.find("LoihiDense"):
        if node.attrs.get("weight_exp", 0) < 0:
            problems.append(f"{node.name}: weight_exp {node.attrs['weight_exp']} floors the summed current; SANA-FE "
                            "adds exact per-synapse fractions")
    for node in g.find("LoihiLIF"):
        if len(node.inputs) > 2 and node.inputs[2] and node.attrs.get("rec_weight_exp", 0) < 0:
            problems.append(f"{node.name}: rec_weight_exp {node.attrs['rec_weight_exp']} floors the recurrent current; "
                            "SANA-FE adds exact per-synapse fractions")
    return problems


def check_runnable(g: Graph, spec) -> None:
    """Refuse, with every reason, a build SANA-FE's bundled Loihi description cannot run (before any work)."""
    _check_runnable(g, spec, map_to_cores(g, spec))


def _check_runnable(g: Graph, spec, mapping) -> None:
    problems = [f"{n}: {n.op} neurons have no SANA-FE model" for n in g.find("LoihiTTFS", "LoihiTTFSReadout")]
    if spec.name != "loihi1":
        problems.append(f"the build is for {spec.name}; SANA-FE's bundled description is Loihi 1 (1024 compartments "
                        "per core): compile with --target loihi1")
    if mapping.chips > 1:
        problems.append(f"the build needs {mapping.chips} chips; SANA-FE's bundled Loihi description is one chip "
                        f"(128 cores)")
    if next(iter(g.inputs.values())).timed:
        problems.append("spike inputs sent by the host have no SANA-FE export yet (host-driven input layers do)")
    if mapping.violations:
        problems += mapping.violations
    if problems:
        raise UnsupportedError("cannot run this build in SANA-FE:", problems)


def _lif_attributes(node) -> dict:
    a = node.attrs
    return {"threshold": float(a["vth"] << THRESHOLD_SHIFT), "reset": 0.0, "reset_mode": "hard",
            "reverse_threshold": float(-(STATE_LIMIT - 1)), "reverse_reset_mode": "saturate",
            "leak_decay": (DECAY_UNITY - a["dv"]) / DECAY_UNITY,
            "input_decay": (DECAY_UNITY - (a["du"] + CURRENT_DECAY_OFFSET)) / DECAY_UNITY,
            "potential": float(a.get("v_init", 0)), "bias": 0.0}


def _bias(g: Graph, node) -> np.ndarray | None:
    """A layer's own effective bias per neuron (v units), or None when the host writes it per sample."""
    value = node.inputs[1]
    if value not in g.params:
        return None
    bias = np.broadcast_to(g.params[value], g.types[node.outputs[0]].shape).reshape(-1).astype(np.int64)
    return _shift(bias, node.attrs.get("bias_exp", 0))


def _synapse_scale(syn: Synapses) -> tuple[int, int]:
    """(integer factor from Lava weights to v units, the synapse's exponent)."""
    exponent = syn.node.attrs.get("rec_weight_exp" if syn.recurrent else "weight_exp", 0)
    return 2 ** (max(exponent, 0) + ACTIVATION_SHIFT), exponent


@dataclass
class SanafeNetwork:
    """A built SANA-FE chip loaded with one graph's network."""

    chip: object
    network: object
    layers: list[str] = field(default_factory=list)            # neuron layers in graph order
    host_bias: dict[str, str] = field(default_factory=dict)     # layer -> host value of its per-sample bias
    late_bias: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)   # layer -> (bias_start, bias)
    initial_v: dict[str, float] = field(default_factory=dict)
    readouts: list[str] = field(default_factory=list)           # layers whose voltage is read (they log potentials)


def build_sanafe(g: Graph, spec) -> SanafeNetwork:
    """The SANA-FE network of a Loihi-lowered graph, loaded on SANA-FE's bundled Loihi chip as neurodeploy maps it."""
    mapping = map_to_cores(g, spec)
    _check_runnable(g, spec, mapping)
    require_sanafe()
    import sanafe

    arch = sanafe.load_loihi()
    net = sanafe.Network()
    where = placement(mapping, spec)
    cores_per_tile = int(spec.value("mesh.cores_per_tile"))
    built = SanafeNetwork(None, net)
    groups = {}
    for node in g.find(*NEURON_OPS):
        size = g.types[node.outputs[0]].size
        groups[node.name] = group = net.create_neuron_group(
            node.name, size, model_attributes=_lif_attributes(node),
            default_synapse_hw_name=SYNAPSE_UNITS["dense"], default_dendrite_hw_name=DENDRITE,
            soma_hw_name=SOMA, log_spikes=node.op == "LoihiLIF", log_potential=node.op != "LoihiLIF")
        built.layers.append(node.name)
        if node.op != "LoihiLIF":
            built.readouts.append(node.name)
        built.initial_v[node.name] = float(node.attrs.get("v_init", 0))
        bias = _bias(g, node)
        start = node.attrs.get("bias_start", 0)
        if bias is None:
            built.host_bias[node.name] = node.inputs[1]
        elif start > 0:
            built.late_bias[node.name] = (start, bias)
        elif bias.any():
            for i, b in enumerate(bias.tolist()):
                group[i].set_attributes(model_attributes={"bias": float(b)})
        cores = where.core_of(node.name, np.arange(size))
        for i, core in enumerate(cores.tolist()):
            tile, offset = divmod(core, cores_per_tile)
            group[i].map_to_core(arch.tiles[tile].cores[offset])
    for syn in synapse_sets(g):
        source = syn.target if syn.recurrent else spike_source(g, syn.source_value)
        scale, exponent = _synapse_scale(syn)
        for neuron in groups[syn.target]:  # a connection takes its target's synapse unit when it is made
            neuron.set_attributes(default_synapse_hw_name=SYNAPSE_UNITS[syn.format])
        for src, dst, weight in connections(g, syn):
            w = weight * scale if exponent >= 0 else (weight * 2 ** ACTIVATION_SHIFT) / 2 ** -exponent
            groups[source].connect_neurons_sparse(groups[syn.target], {"weight": np.asarray(w, float).tolist()},
                                                  list(zip(src.tolist(), dst.tolist())))
    with _quiet():
        built.chip = sanafe.SpikingChip(arch)
        built.chip.load(net)
    return built


@contextlib.contextmanager
def _quiet():
    """SANA-FE's C++ kernel prints progress to the process's stdout; keep the user's output to neurodeploy's own."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _set(built: SanafeNetwork, layer: str, attribute: str, values) -> None:
    neurons = built.chip.mapped_neuron_groups[layer]
    for neuron, value in zip(neurons, values):
        neuron.set_attributes(model_attributes={attribute: float(value)})


def run_sanafe(g: Graph, spec, x: np.ndarray) -> dict:
    """Run every sample of ``x`` through SANA-FE: spikes per LoihiLIF output [T, N, *shape], readout voltages [N,
    *shape], per sample SANA-FE's energy by term (J) and simulated time (s), and the SANA-FE network it ran."""
    steps = int(g.meta["num_steps"])
    built = build_sanafe(g, spec)
    host = host_values(g, sorted(set(built.host_bias.values())), x)
    samples = len(x)
    nodes = {n.name: n for n in g.find(*NEURON_OPS)}
    spikes = {n.outputs[0]: np.zeros((steps, samples) + g.types[n.outputs[0]].shape, np.float32)
              for n in nodes.values() if n.op == "LoihiLIF"}
    readouts = {n.outputs[0]: np.zeros((samples,) + g.types[n.outputs[0]].shape, np.float32)
                for n in nodes.values() if n.op != "LoihiLIF"}
    energy, sim_time = [], []
    with bar(samples, "SANA-FE") as progress:
        for i in range(samples):
            _run_sample(g, built, nodes, host, i, steps, spikes, readouts, energy, sim_time)
            progress.update()
    return {"outputs": {**spikes, **readouts}, "energy_j": energy, "sim_time_s": sim_time, "network": built.network}


def _run_sample(g, built: SanafeNetwork, nodes: dict, host: dict, i: int, steps: int, spikes: dict, readouts: dict,
                energy: list, sim_time: list) -> None:
    """Write sample ``i``'s state into the chip, run it, and record its spikes, readouts, energy and time."""
    built.chip.reset()  # empties the pipeline buffers; the compartments are written below
    for layer in built.layers:
        size = g.types[nodes[layer].outputs[0]].size
        _set(built, layer, "potential", np.full(size, built.initial_v[layer]))
        if layer in built.host_bias:
            bias = host[built.host_bias[layer]][i].reshape(-1).astype(np.int64)
            _set(built, layer, "bias", _shift(bias, nodes[layer].attrs.get("bias_exp", 0)))
        elif layer in built.late_bias:
            _set(built, layer, "bias", np.zeros(size))
    terms, seconds, trace, potentials = _run_segments(built, steps)
    energy.append(terms)
    sim_time.append(seconds)
    for t, fired in enumerate(trace):
        for address in fired:
            flat = spikes[nodes[address.group_name].outputs[0]][t, i].reshape(-1)
            flat[address.neuron_offset] = 1.0
    for layer, v in potentials.items():
        out = readouts[nodes[layer].outputs[0]]
        out[i] = np.asarray(v, np.float32).reshape(out[i].shape)


def _run_segments(built: SanafeNetwork, steps: int):
    """One sample: SANA-FE runs up to each late bias's first step, the bias is written, and so on to ``steps``."""
    starts = sorted({s for s, _ in built.late_bias.values() if s < steps})
    terms, seconds, trace, potential_rows = dict.fromkeys(ENERGY_TERMS + ("total",), 0.0), 0.0, [], []
    done = 0
    for stop in starts + [steps]:
        if stop > done:
            with _quiet():
                result = built.chip.sim(stop - done, spike_trace=True, potential_trace=True)
            for k in terms:
                terms[k] += float(result["energy"][k])
            seconds += float(result["sim_time"])
            trace += list(result["spike_trace"])
            potential_rows += list(result["potential_trace"])
            done = stop
        for layer, (start, bias) in built.late_bias.items():
            if start == stop:
                _set(built, layer, "bias", bias)
    return terms, seconds, trace, _readout_potentials(built, potential_rows)


def _readout_potentials(built: SanafeNetwork, rows: list) -> dict[str, list]:
    """The last step's potentials of the readout groups, the only groups that log them; SANA-FE writes them in the
    order of its group map, sorted by name."""
    last = list(rows[-1]) if rows else []
    out, offset = {}, 0
    for layer in sorted(built.readouts):
        size = len(built.chip.mapped_neuron_groups[layer])
        out[layer] = last[offset:offset + size]
        offset += size
    return out
