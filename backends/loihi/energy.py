"""Energy and latency per inference on Loihi from counted events times the spec's per-event costs.

Events per inference (means over the evaluated samples, from the golden simulator's spikes):
* synaptic ops: each spike into a layer costs one op per outgoing synapse of that neuron (Dense: out
  features; Conv: synapses / presynaptic neurons on average);
* neuron updates: every compartment is updated every step; those that spiked count as active, the rest as
  inactive (Davies 2018 distinguishes the two costs);
* spikes: one within-tile message each, plus one mesh hop per spike to the next layer's cores when those sit on
  another tile (east-west and north-south hops averaged).
Static power times run time is added. Time per step = slowest core's work (neuron updates + synaptic ops)
plus the barrier synchronisation.
"""
from __future__ import annotations

from neurodeploy.backends.loihi.mapping import (
    NEURON_OPS,
    SPIKING_NEURON_OPS,
    spike_train,
    synapse_counts,
    synapse_nodes,
)
from neurodeploy.ir.graph import Graph


def _synops_per_spike(g: Graph) -> dict[str, float]:
    """Outgoing synapses per spike of each layer, summed over every synapse node its spikes reach; a layer with
    several spike trains (SC-TTFS: encoding, calibration) averages over them, each spike taking its own train's."""
    per_train: dict[str, dict[str, float]] = {}
    for neuron in g.find(*NEURON_OPS):
        for syn in synapse_nodes(g, neuron):
            source, train = spike_train(g, syn.inputs[0])
            if source is not None:
                trains = per_train.setdefault(source, {})
                trains[train] = trains.get(train, 0.0) + synapse_counts(g, syn)[0] / max(g.types[syn.inputs[0]].size, 1)
        recurrent = g.param_of(neuron, 2) if neuron.op == "LoihiLIF" else None
        if recurrent is not None:  # its own spikes also reach its recurrent synapses
            trains = per_train.setdefault(neuron.name, {})
            trains[neuron.outputs[0]] = trains.get(neuron.outputs[0], 0.0) + int((recurrent != 0).sum()) / len(recurrent)
    return {source: sum(trains.values()) / len(trains) for source, trains in per_train.items()}


def estimate_energy(g: Graph, spec, mapping, activity) -> dict:
    """Energy (uJ) and latency (us) per inference with their breakdown; raises SpecError on unknown costs."""
    e, t = (lambda k: float(spec.value(f"energy_pj.{k}"))), (lambda k: float(spec.value(f"time_ns.{k}")))
    steps = int(g.meta["num_steps"])
    spikes = {n.name: activity.spikes_per_layer.get(n.name, 0.0) for n in g.find(*SPIKING_NEURON_OPS)}
    fan_out = _synops_per_spike(g)
    synops = sum(spikes[name] * fan_out.get(name, 0.0) for name in spikes)
    neuron_steps = sum(m.neurons for m in mapping.layers) * steps
    active = min(sum(spikes.values()), neuron_steps)
    hop = (e("hop_east_west") + e("hop_north_south")) / 2
    breakdown_pj = {
        "synaptic_ops": synops * e("synaptic_op"),
        "neuron_updates_active": active * e("neuron_update_active"),
        "neuron_updates_inactive": (neuron_steps - active) * e("neuron_update_inactive"),
        "spikes": sum(spikes.values()) * (e("spike_within_tile") + hop),
    }
    busiest = max((m.neurons_per_core for m in mapping.layers), default=0)
    step_ns = busiest * t("neuron_update_active") + synops / max(mapping.cores, 1) / steps * t("synaptic_op") \
        + t("barrier_sync_max")
    latency_us = steps * step_ns / 1e3
    static_uj = float(spec.value("static_power_mw_per_chip")) * mapping.chips * latency_us * 1e-3
    dynamic_uj = sum(breakdown_pj.values()) * 1e-6
    return {
        "energy_uj": dynamic_uj + static_uj,
        "energy_breakdown_uj": {**{k: v * 1e-6 for k, v in breakdown_pj.items()}, "static": static_uj},
        "latency_us": latency_us,
        "steps": steps,
        "synaptic_ops_per_inference": synops,
        "energy_basis": spec.value("energy_basis"),
    }
