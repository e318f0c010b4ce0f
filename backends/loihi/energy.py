"""Energy and latency per inference on Loihi: counted events times the spec's per-event costs, each with its range.

Events per inference (means over the evaluated samples, from the golden simulator):

* synaptic ops, per synapse format (dense, sparse, conv): one per nonzero synapse each spike reaches, counted per
  neuron and tap (``connections``);
* neuron updates: every compartment is accessed every step; an *active* one (non-zero state, input or bias: the
  golden simulator counts them, ``lif_dynamics``) costs an update on top, a firing one a spike-out;
* messages: a spike is sent once per destination core holding one of its targets (not once per spike), each
  crossing the tile mesh east-west then north-south (hops counted per message from the placement); messages
  between chips are counted, their link energy is not modelled (no published figure);
* static power per chip times the run time.

Latency per step: the latest core's neuron work (accesses, updates, spike-outs, messages sent) and synaptic work
(messages received, their hops, synaptic ops), at each step of the layers' measured spike profiles, between an
overlapped and a serial bound (``busiest_core_ns``), plus the barrier: SANA-FE's silicon-fitted table by tiles in
use on one chip, Frady 2020's measured multi-chip barrier on several. Nominal constants are the
silicon-fitted ones SANA-FE ships (Boyle et al., cited as such in spec.yaml); the ranges span them and Davies 2018's
pre-silicon Table 2, so every figure has a low-high range. Host, x86 cores and I/O are not modelled (stated in
the report).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodeploy.backends.loihi.connections import Placement, connections, placement, synapse_sets
from neurodeploy.backends.loihi.mapping import NEURON_OPS, SPIKING_NEURON_OPS, spike_source
from neurodeploy.energy.ranges import Span, figure, span_sum, spec_span
from neurodeploy.errors import SpecError
from neurodeploy.ir.graph import Graph

UPDATES = "updates"  # counters suffix: '<layer>:updates' = active neuron updates per inference
FORMATS = ("dense", "sparse", "conv")
SYSTEM_NOTE = "host CPU, Loihi's embedded x86 cores, spike I/O and board power are not modelled"


@dataclass
class Traffic:
    """Events per inference, in total and per core (arrays indexed by global core)."""

    steps: int
    cores: int
    chips: int
    tiles: int                                              # tiles in use (the single-chip barrier depends on it)
    synaptic_ops: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FORMATS, 0.0))
    neuron_steps: float = 0.0                               # compartments x steps
    active_updates: float = 0.0
    spikes: float = 0.0
    chip_crossings: float = 0.0                             # messages whose destination is on another chip
    core_layer: list[str] = field(default_factory=list)     # the layer each core holds
    core_neurons: np.ndarray | None = None                  # compartment-steps, active updates, spikes, messages sent
    core_active: np.ndarray | None = None
    core_fired: np.ndarray | None = None
    core_sent: np.ndarray | None = None
    received: dict = field(default_factory=dict)            # source layer (None: host) -> messages in, per core
    hops_x: dict = field(default_factory=dict)              # source layer -> east-west hops of those messages
    hops_y: dict = field(default_factory=dict)              # and north-south
    ops: dict = field(default_factory=dict)                 # source layer -> {format: synaptic ops per core}
    profiles: dict[str, np.ndarray] = field(default_factory=dict)  # layer -> share of its spikes at each step
    notes: list[str] = field(default_factory=list)

    @property
    def messages(self) -> float:
        """Messages the cores send: one per (spike, destination core)."""
        return float(self.core_sent.sum()) if self.core_sent is not None else 0.0

    @property
    def host_messages(self) -> float:
        """Spike messages the host sends into the chip."""
        return float(self.received[None].sum()) if None in self.received else 0.0

    @property
    def hops_east_west(self) -> float:
        return float(sum(h.sum() for h in self.hops_x.values()))

    @property
    def hops_north_south(self) -> float:
        return float(sum(h.sum() for h in self.hops_y.values()))


def count_traffic(g: Graph, mapping, activity, spec) -> Traffic:
    """Every event of one inference, per core, from the graph, its mapping and the measured activity."""
    where = placement(mapping, spec)
    n = mapping.cores
    t = Traffic(int(g.meta["num_steps"]), n, mapping.chips, len({p[:2] for p in mapping.placement}))
    t.core_neurons, t.core_active, t.core_fired, t.core_sent = (np.zeros(n) for _ in range(4))
    t.core_layer = [m.layer for m in mapping.layers for _ in range(m.cores)]
    t.profiles = _step_profiles(activity, t.steps)
    fired_per_neuron, paths = {}, {}
    for syn in synapse_sets(g):  # synapse sets from one source layer into one target share their messages
        source = spike_source(g, syn.source_value) if not syn.recurrent else syn.target
        paths.setdefault((source, syn.target), []).append(syn)
    for (source, _), syns in paths.items():
        rate = _input_rate(activity, syns[0].source_value, syns[0].name)
        if source is not None:
            fired_per_neuron.setdefault(source, rate)
        _count_synapses(g, syns, rate, source, where, t)
    _count_neurons(g, mapping, activity, fired_per_neuron, where, t)
    return t


def _input_rate(activity, value: str, layer: str) -> np.ndarray:
    measured = activity.input_activity.get(value)
    if measured is None:
        raise SpecError(f"no measured input activity for synapse layer {layer} (value '{value}')")
    return np.asarray(measured.nonzero, np.float64).reshape(-1)


def _count_synapses(g, syns: list, rate: np.ndarray, source: str | None, where: Placement, t: Traffic) -> None:
    """Ops, messages, hops and per-core work of the synapse sets from one source into one target layer: a spike
    sends one message per destination core holding any of its synapses, whichever set they belong to."""
    target = syns[0].target
    first, per_core, count = where.first_core[target], where.per_core[target], where.cores[target]
    ops = t.ops.setdefault(source, {f: np.zeros(t.cores) for f in FORMATS})
    for syn in syns:
        per_target = _ops_per_target(g, syn, rate)
        t.synaptic_ops[syn.format] += float(per_target.sum())
        ops[syn.format][first:first + count] += np.bincount(np.arange(len(per_target)) // per_core, per_target,
                                                            minlength=count)
    received, hops_x, hops_y = np.zeros(count), np.zeros(count), np.zeros(count)
    targets = np.arange(first, first + count)
    block = len(rate) if source is None else where.per_core[source]  # the sources of one sending core
    for start, reach in _reach(g, syns, len(rate), block, per_core, count):
        origin = None if source is None else where.first_core[source] + start // block
        sent = rate[start:start + len(reach)] @ reach.astype(np.float64)  # messages to each target core
        received += sent
        if origin is None:  # the host sends these spikes (host I/O is not modelled)
            continue
        t.core_sent[origin] += float(sent.sum())
        same_chip = where.chip[targets] == where.chip[origin]
        x = sent * np.abs(where.tile_x[targets] - where.tile_x[origin]) * same_chip
        y = sent * np.abs(where.tile_y[targets] - where.tile_y[origin]) * same_chip
        hops_x, hops_y = hops_x + x, hops_y + y
        t.chip_crossings += float(sent[~same_chip].sum())
    for name, values in (("received", received), ("hops_x", hops_x), ("hops_y", hops_y)):
        per_core_values = getattr(t, name).setdefault(source, np.zeros(t.cores))
        per_core_values[first:first + count] += values


def _ops_per_target(g, syn, rate: np.ndarray) -> np.ndarray:
    """Synaptic ops per target neuron per inference: the spikes of its sources over its nonzero synapses."""
    nonzero = (syn.weight != 0).astype(np.float64)
    if syn.recurrent or syn.node.op == "LoihiDense":
        return nonzero @ rate  # weight [out, in]
    from neurodeploy.ir.ops import OPS
    from neurodeploy.ir.ops.ann import _window_params, conv2d
    from neurodeploy.ir.ops.base import resolve_attrs

    attrs = resolve_attrs(OPS[syn.node.op], syn.node)
    strides, pads, dilations = _window_params(attrs, syn.weight.shape[2:])
    x = rate.reshape((1,) + tuple(g.types[syn.source_value].shape))
    return conv2d(x, nonzero, None, strides, pads, dilations, attrs.get("group") or 1).reshape(-1)


REACH_BYTES = 1 << 28  # the (source, target core) marks held at once; larger layers take several passes


def _reach(g, syns: list, sources: int, block: int, per_core: int, cores: int):
    """Yield (first source, [sources of one sending core, target cores] bool) for each sending core: whether a source
    has a nonzero synapse (of any of ``syns``) on each of the target layer's cores. The synapses are enumerated once
    per pass of as many sending cores as REACH_BYTES of marks hold."""
    per_pass = max(block, REACH_BYTES // max(cores, 1) // block * block)
    for low in range(0, sources, per_pass):
        high = min(sources, low + per_pass)
        mark = np.zeros((high - low) * cores, bool)
        for src, dst, _ in (chunk for syn in syns for chunk in connections(g, syn, weights=False)):
            inside = (src >= low) & (src < high) if (low, high) != (0, sources) else slice(None)
            mark[(src[inside] - low) * cores + dst[inside] // per_core] = True
        mark = mark.reshape(high - low, cores)
        for start in range(low, high, block):
            yield start, mark[start - low:start - low + block]


def _count_neurons(g, mapping, activity, fired_per_neuron: dict, where: Placement, t: Traffic) -> None:
    """Compartment-steps, active updates and spikes per core; a layer's active updates are spread evenly over its
    neurons (they are counted per layer), its spikes are placed per neuron where a synapse layer measured them."""
    uncounted = []
    for layer in mapping.layers:
        node = g.node(layer.layer)
        neurons = np.arange(layer.neurons)
        core = where.core_of(layer.layer, neurons)
        active = activity.counts_per_layer.get(f"{layer.layer}:{UPDATES}")
        if active is None:  # no counter (temporal neurons): charge every update as active, an upper bound
            active = float(layer.neurons * t.steps)
            uncounted.append(layer.layer)
        spikes = activity.spikes_per_layer.get(layer.layer, 0.0) if node.op in SPIKING_NEURON_OPS else 0.0
        fired = fired_per_neuron.get(layer.layer)
        fired = fired if fired is not None and len(fired) == layer.neurons else np.full(layer.neurons,
                                                                                       spikes / layer.neurons)
        t.neuron_steps += layer.neurons * t.steps
        t.active_updates += active
        t.spikes += spikes
        t.core_neurons += np.bincount(core, minlength=t.cores) * float(t.steps)
        t.core_active += np.bincount(core, minlength=t.cores) * (active / layer.neurons)
        t.core_fired += np.bincount(core, fired, minlength=t.cores)
    if uncounted:
        t.notes.append(f"active neuron updates not counted for {', '.join(uncounted)}: all charged as active")


def price(t: Traffic, spec) -> dict:
    """Energy (uJ) and latency (us) per inference with their ranges and breakdown, from counted traffic."""
    e = lambda k: spec_span(spec, f"energy_pj.{k}")
    ts = lambda k: spec_span(spec, f"time_ns.{k}")
    breakdown_pj = {
        "synaptic_ops": span_sum(e(f"synaptic_op_{f}") * t.synaptic_ops[f] for f in FORMATS),
        "neuron_updates": e("neuron_access") * t.neuron_steps + e("neuron_update_active") * t.active_updates,
        "spikes_out": e("spike_out") * t.spikes,
        "messages": e("message_out") * t.messages + e("message_in") * (t.messages + t.host_messages),
        "hops": e("hop_east_west") * t.hops_east_west + e("hop_north_south") * t.hops_north_south,
    }
    barrier = barrier_ns(t, spec)
    step_ns = busiest_core_ns(t, ts) + barrier
    latency_us = step_ns * t.steps / 1e3
    static_uj = spec_span(spec, "static_power_mw_per_chip") * latency_us * t.chips * 1e-3
    dynamic_uj = span_sum(breakdown_pj.values()) * 1e-6
    out = {**figure("energy_uj", dynamic_uj + static_uj), **figure("dynamic_energy_uj", dynamic_uj),
           **figure("static_energy_uj", static_uj), "system_energy_uj": None, "system_energy_note": SYSTEM_NOTE,
           "energy_breakdown_uj": {k: v.value * 1e-6 for k, v in breakdown_pj.items()},
           "energy_breakdown_range_uj": {k: [v.low * 1e-6, v.high * 1e-6] for k, v in breakdown_pj.items()},
           **figure("latency_us", latency_us), **figure("step_time_us", step_ns / 1e3), "steps": t.steps,
           "synaptic_ops_per_inference": float(sum(t.synaptic_ops.values())),
           "synaptic_ops_by_format": dict(t.synaptic_ops), "messages_per_inference": t.messages,
           "active_neuron_updates_per_inference": t.active_updates, "neuron_updates_per_inference": t.neuron_steps,
           "energy_basis": spec.value("energy_basis")}
    notes = list(t.notes)
    if t.chip_crossings:
        notes.append(f"{t.chip_crossings:.0f} messages per inference cross chips; their link energy is not modelled")
        out["chip_crossing_messages_per_inference"] = t.chip_crossings
    if t.host_messages:
        notes.append(f"{t.host_messages:.0f} spike messages per inference come from the host (host I/O not modelled)")
    if t.chips > 1:
        notes.append(f"{t.chips} chips: the barrier per step, {barrier.value / 1e3:g} us (range {barrier.low / 1e3:g}-"
                     f"{barrier.high / 1e3:g}), is read from Frady 2020's multi-chip measurements, not modelled")
    if notes:
        out["energy_notes"] = notes
    return out


def _step_profiles(activity, steps: int) -> dict[str, np.ndarray]:
    """Layer -> the share of its spikes at each step (mean over samples); layers without a measured profile are left
    out (their work is then spread evenly over the steps)."""
    out = {}
    for layer, per_step in (getattr(activity, "spikes_per_step", None) or {}).items():
        per_step = np.asarray(per_step, np.float64)
        if len(per_step) == steps and per_step.sum() > 0:
            out[layer] = per_step / per_step.sum()
    return out


def _share(t: Traffic, layer: str | None) -> np.ndarray:
    """[steps] share of ``layer``'s spikes at each step (even when it has no measured profile)."""
    share = t.profiles.get(layer)
    return np.full(t.steps, 1.0 / max(t.steps, 1)) if share is None else share


def busiest_core_ns(t: Traffic, ts) -> Span:
    """Mean step time of the cores' work: the latest core at each step, averaged over the steps.

    A core's neuron work (accesses, updates, spike-outs, messages sent) and its synaptic work (messages received,
    synaptic ops) follow each layer's measured spikes per step (a spike's synapses are processed in the step it is
    sent; its current acts at the next). How far they overlap is the mesh's business: with free buffering a core
    finishes at max(neuron work, synaptic work); when full link buffers stall the senders (SANA-FE's detailed model
    with 16-message buffers), its synaptic work starts only after its own and its slowest sender's neuron work. The
    low end takes the first at the low constants, the high end the second at the high ones, the nominal the mean of
    the two at the nominal constants (an assumption, stated in docs/energy.md)."""
    def both(pick) -> tuple[float, float]:
        neuron, synaptic, ready = _core_work(t, ts, pick)
        overlapped = np.maximum(neuron, synaptic).max(axis=1).mean()
        serial = (np.maximum(neuron, ready) + synaptic).max(axis=1).mean()
        return float(overlapped), float(serial)

    if not t.steps or not t.cores:
        return Span.exact(0.0)
    nominal = both(lambda s: s.value)
    return Span(sum(nominal) / 2, both(lambda s: s.low)[0], both(lambda s: s.high)[1])


def _core_work(t: Traffic, ts, pick) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[steps, cores] neuron work, synaptic work, and the neuron work of each core's slowest sender (ns)."""
    layer_of = np.array(t.core_layer, object)
    steady = (t.core_neurons * pick(ts("neuron_access")) + t.core_active * pick(ts("neuron_update_active")))
    firing = t.core_fired * pick(ts("spike_out")) + t.core_sent * pick(ts("message_out"))
    neuron = np.outer(np.ones(t.steps), steady / t.steps)
    for layer in set(t.core_layer):
        mask = layer_of == layer
        neuron[:, mask] += np.outer(_share(t, layer), firing[mask])
    synaptic, ready = np.zeros_like(neuron), np.zeros_like(neuron)
    for source, received in t.received.items():
        ops = t.ops.get(source, {})
        work = received * pick(ts("message_in")) + sum(ops[f] * pick(ts(f"synaptic_op_{f}")) for f in ops)
        if source in t.hops_x:  # a message's hops delay its processing at the receiving core
            work = work + t.hops_x[source] * pick(ts("hop_east_west")) + t.hops_y[source] * pick(ts("hop_north_south"))
        synaptic += np.outer(_share(t, source), work)
        senders = layer_of == source
        if senders.any():
            ready = np.maximum(ready, neuron[:, senders].max(axis=1, keepdims=True) * (work > 0))
    return neuron, synaptic, ready


def barrier_ns(t: Traffic, spec) -> Span:
    """Barrier synchronisation per step, from the spec's table entry for the largest count <= the tiles in use (one
    chip: SANA-FE's fit, Davies 2018 at the low end) or the chips (several: Frady 2020's measurements); each entry
    is [count, nominal, low, high] ns."""
    table = spec.value(f"time_ns.barrier_{'multi_chip' if t.chips > 1 else 'single_chip'}")
    count = t.chips if t.chips > 1 else t.tiles
    row = max((r for r in table if r[0] <= count), key=lambda r: r[0], default=min(table, key=lambda r: r[0]))
    return Span(float(row[1]), float(row[2]), float(row[3]))


def estimate_energy(g: Graph, spec, mapping, activity) -> dict:
    """Energy (uJ) and latency (us) per inference with ranges and breakdown; raises SpecError on unknown costs."""
    return price(count_traffic(g, mapping, activity, spec), spec)
