"""Energy and latency per inference on SpiNNaker (the power model of SpiNNMachine and SpiNNFrontEndCommon: idle
chips, active cores, router packets), from counted spikes, with the range the two codebases' constants span.

* Time: one tick per step in real time (``time.tick_ms``), steps = T plus one tick per projection.
* Static: idle power of every chip used, times that time.
* Dynamic: the active overhead of every application core used, for the whole run (the cores run the neuron and
  synapse code every tick); one multicast packet per spike, charged at every router it crosses (its chip plus the
  mean hops to the chips of the next population).
* Synaptic events are counted; their energy is the ARM cores' work, which is inside the active core power, and the
  published per-event figures include idle power, so that term is listed as unknown, never 0.
* A spec whose power model is unknown (spinnaker2: null) gives None for every energy figure and its range.
"""
from __future__ import annotations

from neurodeploy.energy.ranges import Span, figure, range_name, spec_span
from neurodeploy.errors import SpecError

SYSTEM_NOTE = ("the boards around the chips (FPGAs, board controller, power supplies), boxes, frames and cooling, "
               "the host computer and its Ethernet link, and loading and reading out the network are not modelled: "
               "only the chips are")


def _known_span(spec, dotted: str) -> Span | None:
    """The constant with its range, or None when the spec gives it as unknown (null)."""
    try:
        spec.value(dotted)
    except SpecError:
        return None
    return spec_span(spec, dotted)


def synaptic_events(mapping, spikes: dict[str, float]) -> float:
    """Per inference: each spike of a population times the mean number of synapses leaving one of its neurons."""
    size = {p.layer: p.neurons for p in mapping.populations}
    return sum(spikes.get(p.source, 0.0) * p.synapses / size[p.source] for p in mapping.populations if p.source)


def _scaled(span: Span | None, count: float) -> Span | None:
    return None if span is None else span * count


def _total(terms: list[Span | None]) -> Span | None:
    known = [t for t in terms if t is not None]
    return None if not known else sum(known[1:], known[0])


def _figure(name: str, span: Span | None) -> dict:
    return figure(name, span) if span is not None else {name: None, range_name(name): None}


def estimate_energy(spec, mapping, activity, steps: int) -> dict:
    """Energy (uJ) and latency (us) per inference with ranges and breakdown; unknown constants give None terms."""
    events = synaptic_events(mapping, activity.spikes_per_layer)
    latency_us = steps * float(spec.value("time.tick_ms")) * 1e3
    spikes = activity.spikes_per_layer
    packets = sum(spikes.get(layer, 0.0) * (1 + hops) for layer, hops in mapping.mean_hops.items())
    static = _scaled(_known_span(spec, "power.idle_w_per_chip"), mapping.chips * latency_us)  # W x us = uJ
    breakdown = {
        "active_cores": _scaled(_known_span(spec, "power.active_w_per_core"), mapping.cores * latency_us),
        "packets": _scaled(_known_span(spec, "energy_nj.packet_per_router"), packets * 1e-3),
        "synaptic_events": _scaled(_known_span(spec, "energy_nj.synaptic_event"), events * 1e-3),
    }
    dynamic = _total(list(breakdown.values()))
    unknown = (["static"] if static is None else []) + [k for k, v in breakdown.items() if v is None]
    notes = [] if breakdown["active_cores"] is None or breakdown["synaptic_events"] is not None else [
        f"the {events:.0f} synaptic events per inference are not priced separately: the ARM cores process them "
        "inside active_cores (published per-event figures include idle power), so synaptic_events is unknown, not 0"]
    return {**_figure("energy_uj", _total([dynamic, static])), **_figure("dynamic_energy_uj", dynamic),
            **_figure("static_energy_uj", static), "system_energy_uj": None, "system_energy_note": SYSTEM_NOTE,
            "energy_breakdown_uj": {k: None if v is None else v.value for k, v in breakdown.items()},
            "energy_breakdown_range_uj": {k: None if v is None else v.as_range() for k, v in breakdown.items()},
            "energy_unknown_terms": unknown, **figure("latency_us", Span.exact(latency_us)), "steps": steps,
            "synaptic_events_per_inference": events, "router_packets_per_inference": packets,
            "energy_basis": spec.value("energy_basis"), **({"energy_notes": notes} if notes else {})}
