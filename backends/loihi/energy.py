"""Energy and latency per inference on Loihi from counted events times the spec's per-event costs.

Events per inference (means over the evaluated samples, from the golden simulator's spikes):
* synaptic ops: each spike into a layer costs one op per nonzero synapse it reaches, counted per tap
  (neurodeploy.metrics: a Conv input element at a border reaches fewer output windows);
* neuron updates: every compartment is updated every step; those that spiked count as active, the rest as
  inactive (Davies 2018 distinguishes the two costs);
* spikes: one within-tile message each, plus one mesh hop per spike to the next layer's cores when those sit on
  another tile (east-west and north-south hops averaged).
Static power times run time is added. Time per step = slowest core's work (neuron updates + synaptic ops)
plus the barrier synchronisation.
"""
from __future__ import annotations

from neurodeploy.backends.loihi.mapping import NEURON_OPS, SPIKING_NEURON_OPS
from neurodeploy.ir.graph import Graph


def on_chip_synaptic_ops(g: Graph, activity) -> float:
    """Synaptic ops per inference, exact per tap: each spike reaching a LoihiDense/LoihiConv (or a layer's recurrent
    weights) costs one op per nonzero synapse its element connects to (neurodeploy.metrics; a spike at a feature
    map's border reaches fewer taps than the layer's average fan-out)."""
    from neurodeploy.metrics import compute

    rows = compute(g, activity.input_activity)["layers"]
    on_chip = [r for r in rows if r["op"] in ("LoihiDense", "LoihiConv") or r["op"] in NEURON_OPS]
    return float(sum(r["effective_ops"] for r in on_chip))  # every evaluation measures each synapse input


def estimate_energy(g: Graph, spec, mapping, activity) -> dict:
    """Energy (uJ) and latency (us) per inference with their breakdown; raises SpecError on unknown costs."""
    e, t = (lambda k: float(spec.value(f"energy_pj.{k}"))), (lambda k: float(spec.value(f"time_ns.{k}")))
    steps = int(g.meta["num_steps"])
    spikes = {n.name: activity.spikes_per_layer.get(n.name, 0.0) for n in g.find(*SPIKING_NEURON_OPS)}
    synops = on_chip_synaptic_ops(g, activity)
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
