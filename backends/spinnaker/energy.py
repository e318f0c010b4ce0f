"""Energy and latency per inference on SpiNNaker (the model of SpiNNMachine: idle chips, active cores, router
packets), from counted spikes.

* Time: one tick per step in real time (``time.tick_ms``), steps = T plus one tick per projection.
* Idle power per chip and active overhead per core, times that time.
* Packets: one multicast packet per spike, charged at every router it crosses (its chip plus the mean hops to the
  chips of the next population).
* Synaptic events are counted; their marginal energy is unknown (the ARM's work is inside the active core power,
  and the published per-event figures include idle power), so that term is listed as unknown, never 0.
"""
from __future__ import annotations

from neurodeploy.errors import SpecError


def _known(spec, dotted: str) -> float | None:
    try:
        return float(spec.value(dotted))
    except SpecError:
        return None


def synaptic_events(mapping, spikes: dict[str, float]) -> float:
    """Per inference: each spike of a population times the mean number of synapses leaving one of its neurons."""
    size = {p.layer: p.neurons for p in mapping.populations}
    return sum(spikes.get(p.source, 0.0) * p.synapses / size[p.source] for p in mapping.populations if p.source)


def estimate_energy(spec, mapping, activity, steps: int) -> dict:
    """Energy (uJ) and latency (us) per inference with their breakdown; unknown constants give None terms."""
    events = synaptic_events(mapping, activity.spikes_per_layer)
    latency_us = steps * float(spec.value("time.tick_ms")) * 1e3
    spikes = activity.spikes_per_layer
    packets = sum(spikes.get(layer, 0.0) * (1 + hops) for layer, hops in mapping.mean_hops.items())
    idle, active = _known(spec, "power.idle_w_per_chip"), _known(spec, "power.active_w_per_core")
    packet, event = _known(spec, "energy_nj.packet_per_router"), _known(spec, "energy_nj.synaptic_event")
    terms = {
        "idle_chips": None if idle is None else idle * mapping.chips * latency_us,
        "active_cores": None if active is None else active * mapping.cores * latency_us,
        "packets": None if packet is None else packet * packets * 1e-3,
        "synaptic_events": None if event is None else event * events * 1e-3,
    }
    unknown = [k for k, v in terms.items() if v is None]
    return {
        "energy_uj": None if len(unknown) == len(terms) else sum(v for v in terms.values() if v is not None),
        "energy_breakdown_uj": terms,
        "energy_unknown_terms": unknown,
        "latency_us": latency_us,
        "steps": steps,
        "synaptic_events_per_inference": events,
        "router_packets_per_inference": packets,
        "energy_basis": spec.value("energy_basis"),
    }
