"""Energy and latency per inference on TrueNorth from counted events (Merolla 2014, Akopyan 2015), with ranges.

* Synaptic events: each spike arriving at an axon reads the crossbar row and adds one weight per connected neuron.
  A layer's events = spikes into it x (crossbar bits per input), where a connection of level q uses one bit per
  axon type of its decomposition; plus one event per partial-neuron spike at its merge neuron and one per
  splitter copy. Their energy is the marginal slope of whole-chip power against synaptic-event rate (a
  two-endpoint fit of Akopyan 2015 Fig. 17 at 0.8 V). The fitted networks' spikes travelled their routes, so the
  slope already contains routing: no per-hop energy is added. The high end of the range adds Merolla 2014's
  2.3 pJ per hop for this network's own hops, as if the fit held no routing at all.
* Hops and packets are counted (every copy of a spike is one packet travelling the mean hop distance to the next
  layer's cores) and reported as figures. Packets that leave a chip pay the chip-to-chip link, which the
  single-chip fit cannot contain.
* Static power times the run time (ticks x 1 ms real-time tick). ``energy_uj`` charges whole chips;
  ``static_energy_used_cores_uj`` is the used cores' share of a chip, reported next to it (``static_accounting``).
  The nominal static power (the fit's 64.4 mW intercept) goes with the fitted slope; its range reaches down to
  Akopyan's 42 mW corner (0.70 V, 0 Hz).
* Latency: ticks x tick length, from real time (1 ms) down to the 0.2 ms tick Merolla 2014 verified bit-exact.
  Static energy is priced at real time, the only tick rate with published static power.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.backends.truenorth.quantize import reachable_levels
from neurodeploy.energy.ranges import Span, figure, spec_span
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.summary import conv_synapses

SYSTEM_NOTE = ("the host computer (it sends the input spikes and counts the output spikes), the spike I/O link "
               "between host and chip, the board around the chip and its power supplies are not modelled")


@dataclass
class Events:
    """Events of one inference (means over the evaluated samples)."""

    synaptic: float = 0.0
    packets: float = 0.0
    hops: float = 0.0
    chip_crossings: float = 0.0


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


def count_events(g: Graph, mapping, activity) -> Events:
    """Synaptic events, packets, hops and chip crossings per inference from the mapping and measured spikes."""
    spikes, counts = activity.spikes_per_layer, activity.counts_per_layer
    nodes = g.find("TrueNorthLayer")
    encoders = g.find("RateEncode")  # the host's input spikes: rate coded, or a spike input (counted by its name)
    source = encoders[0].name if encoders else next(iter(g.inputs))
    inputs_spikes = [spikes.get(source, 0.0)] + [spikes.get(n.name, 0.0) for n in nodes[:-1]]
    plans = {p.layer: p for p in mapping.layers}
    ev = Events()
    for node, into in zip(nodes, inputs_spikes):
        ev.synaptic += into * crossbar_bits_per_input(g, node) + counts.get(f"{node.name}:partial_spikes", 0.0)
        plan = plans.get(node.name)
        if plan is None:
            continue
        copies = max(plan.copies_per_neuron, 1.0)
        out = spikes.get(node.name, 0.0)
        ev.synaptic += out * copies if plan.splitter_cores else 0.0
        ev.packets += out * copies
        ev.hops += out * copies * mapping.mean_hops.get(node.name, 0.0)
        ev.chip_crossings += out * copies * mapping.mean_chip_crossings.get(node.name, 0.0)
    return ev


def dynamic_pj(ev: Events, spec) -> dict[str, Span]:
    """Dynamic energy terms (pJ) with ranges: synaptic events (routing inside the fit; the high end adds the hops),
    and chip-to-chip links."""
    hop_high = spec_span(spec, "energy_pj.hop").high
    synaptic = spec_span(spec, "energy_pj.synaptic_event_marginal") * ev.synaptic + Span(0.0, 0.0, hop_high) * ev.hops
    links = spec_span(spec, "energy_pj.chip_to_chip") * ev.chip_crossings
    return {"synaptic_events": synaptic, "chip_crossings": links}


def static_accounting(mapping, cores_per_chip: int) -> str:
    return (f"energy_uj charges the static power of {mapping.chips} whole chip(s) for the run: the published static "
            f"figures are whole-chip measurements and no source used here describes powering down unused cores, "
            f"so this is the conservative choice; static_energy_used_cores_uj is the share of the {mapping.cores} "
            f"cores used ({mapping.cores}/{cores_per_chip} of a chip), the static energy if unused cores cost nothing")


def _notes(ev: Events, spec) -> list[str]:
    hop, tick = spec_span(spec, "energy_pj.hop").high, spec_span(spec, "time.tick_ms")
    per_event = ev.hops / ev.synaptic if ev.synaptic else 0.0
    notes = [f"no per-hop energy is added: the fitted synaptic-event energy contains the routing of the fitted "
             f"networks; the high end of synaptic_events adds {hop:g} pJ per hop for this network's "
             f"{ev.hops:.0f} hops per inference ({per_event:.2f} per synaptic event)",
             f"latency range: ticks of {tick.low:g}-{tick.high:g} ms (the fastest verified bit-exact up to real "
             f"time); static energy is priced at the {tick.value:g} ms real-time tick, the only rate with published "
             "static power"]
    if ev.chip_crossings:
        notes.append(f"{ev.chip_crossings:.0f} packets per inference cross chips; their link energy is added, since "
                     "the single-chip fit cannot contain it")
    return notes


def estimate_energy(g: Graph, spec, mapping, activity) -> dict:
    """Energy (uJ) and latency (us) per inference with ranges, breakdown and both static accountings."""
    steps = int(g.meta["num_steps"])
    ev = count_events(g, mapping, activity)
    tick_ms = spec_span(spec, "time.tick_ms")
    latency_us = tick_ms * steps * 1e3
    cores_per_chip = int(spec.value("cores.grid_x")) * int(spec.value("cores.grid_y"))
    static_mw = spec_span(spec, "power.static_mw_per_chip")
    chip_time = latency_us.value * 1e-3  # mW x us = nJ; x 1e-3 -> uJ, at the nominal (real-time) tick
    static_uj = static_mw * (mapping.chips * chip_time)
    used_cores_uj = static_mw * (mapping.cores / cores_per_chip * chip_time)
    breakdown = {k: v * 1e-6 for k, v in dynamic_pj(ev, spec).items()}
    dynamic_uj = breakdown["synaptic_events"] + breakdown["chip_crossings"]
    return {**figure("energy_uj", dynamic_uj + static_uj), **figure("dynamic_energy_uj", dynamic_uj),
            **figure("static_energy_uj", static_uj), **figure("static_energy_used_cores_uj", used_cores_uj),
            "static_accounting": static_accounting(mapping, cores_per_chip),
            "system_energy_uj": None, "system_energy_note": SYSTEM_NOTE,
            "energy_breakdown_uj": {k: v.value for k, v in breakdown.items()},
            "energy_breakdown_range_uj": {k: v.as_range() for k, v in breakdown.items()},
            **figure("latency_us", latency_us), "steps": steps,
            "synaptic_events_per_inference": ev.synaptic, "packets_per_inference": ev.packets,
            "hops_per_inference": ev.hops, "chip_crossings_per_inference": ev.chip_crossings,
            "energy_basis": spec.value("energy_basis"), "energy_notes": _notes(ev, spec)}
