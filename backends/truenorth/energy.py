"""Energy and latency per inference on TrueNorth from counted events (Merolla 2014, Akopyan 2015).

* Synaptic events: each spike arriving at an axon reads the crossbar row and adds one weight per connected neuron.
  A layer's events = spikes into it x (crossbar bits per input), where a connection of level q uses one bit per
  axon type of its decomposition; plus one event per partial-neuron spike at its merge neuron and one per
  splitter copy.
* Hops: every copy of a spike is one packet travelling the mean hop distance to the next layer's cores; packets
  that leave a chip also pay the chip-to-chip link.
* Static power per chip times the run time (ticks x tick length; real time is 1 ms per tick).
The marginal synaptic-event energy and the static power come from the same 0.8 V fit of Akopyan Fig. 17, so they
belong together; the operating point is printed with the figures.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.backends.truenorth.quantize import reachable_levels
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.summary import conv_synapses


def crossbar_bits_per_input(g: Graph, node) -> float:
    """Mean crossbar bits set per input neuron of one TrueNorthLayer (axon copies x connected neurons)."""
    levels = g.param_of(node, 1)
    bits_of = {level: len(types) for level, types in reachable_levels(tuple(node.attrs["codebook"])).items()}
    bits = np.vectorize(bits_of.get)(levels).astype(np.float64) if levels.size else np.zeros(0)
    inputs = g.types[node.inputs[0]].size
    if levels.ndim == 2:
        return float(bits.sum()) / inputs
    # a conv tap is used at every output position where it lands inside the input: conv_synapses counts them
    connections = conv_synapses(g, node)
    return float(bits.mean()) * connections / inputs if levels.size else 0.0


def estimate_energy(g: Graph, spec, mapping, activity) -> dict:
    e = lambda k: float(spec.value(f"energy_pj.{k}"))
    steps = int(g.meta["num_steps"])
    spikes, counts = activity.spikes_per_layer, activity.counts_per_layer
    nodes = g.find("TrueNorthLayer")
    encoders = g.find("RateEncode")  # the host's input spikes: rate coded, or a spike input (counted by its name)
    source = encoders[0].name if encoders else next(iter(g.inputs))
    inputs_spikes = [spikes.get(source, 0.0)] + [spikes.get(n.name, 0.0) for n in nodes[:-1]]
    plans = {p.layer: p for p in mapping.layers}
    synaptic, packets, hops, crossings = 0.0, 0.0, 0.0, 0.0
    for node, into in zip(nodes, inputs_spikes):
        synaptic += into * crossbar_bits_per_input(g, node) + counts.get(f"{node.name}:partial_spikes", 0.0)
        plan = plans.get(node.name)
        if plan is None:
            continue
        copies = max(plan.copies_per_neuron, 1.0)
        out = spikes.get(node.name, 0.0)
        synaptic += out * copies if plan.splitter_cores else 0.0
        packets += out * copies
        hops += out * copies * mapping.mean_hops.get(node.name, 0.0)
        crossings += out * copies * mapping.mean_chip_crossings.get(node.name, 0.0)
    latency_us = steps * float(spec.value("time.tick_ms")) * 1e3
    breakdown_uj = {
        "synaptic_events": synaptic * e("synaptic_event_marginal") * 1e-6,
        "hops": hops * e("hop") * 1e-6,
        "chip_crossings": crossings * e("chip_to_chip") * 1e-6,
        "static": float(spec.value("power.static_mw_per_chip")) * mapping.chips * latency_us * 1e-3,
    }
    return {
        "energy_uj": sum(breakdown_uj.values()),
        "energy_breakdown_uj": breakdown_uj,
        "latency_us": latency_us,
        "steps": steps,
        "synaptic_events_per_inference": synaptic,
        "packets_per_inference": packets,
        "hops_per_inference": hops,
        "energy_basis": spec.value("energy_basis"),
    }
