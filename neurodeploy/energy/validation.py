"""Published hardware measurements reconstructed with neurodeploy's own cost models: the validation table.

``published.yaml`` holds each measurement (value, source, the workload as its paper states it, the ratio it must
keep); the reconstruction named by its id rebuilds the workload, prices it with the chip's ``spec.yaml`` through the
code a build uses, and sets the estimate and its range beside the measurement. ``python -m
neurodeploy.energy.validation`` prints the markdown table docs/energy.md holds (tests/test_energy_validation.py
checks that they agree and that every row keeps its tolerance).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodeploy.energy.ranges import Span, range_name, spec_span

PUBLISHED = Path(__file__).with_name("published.yaml")


@dataclass
class Validation:
    workload: str
    chip: str
    quantity: str
    unit: str
    measured: float
    estimate: float
    low: float
    high: float
    source: str
    assumptions: str
    tolerance: tuple[float, float]          # the ratio estimate / measured this row must keep (tested)
    outside_reason: str | None = None       # why the measurement lies outside the range, when it does
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.estimate / self.measured

    @property
    def inside(self) -> bool:
        return self.low <= self.measured <= self.high


def _spec(chip: str):
    from neurodeploy.backends import get_backend

    return get_backend(chip).spec


# ------------------------------------------------------------------ Loihi


def _knn_traffic(p: dict, input_spikes: float, active_share: float):
    """Frady's search: host spikes broadcast to every core of the chips, dense synapses to its pattern neurons."""
    from neurodeploy.backends.loihi.energy import FORMATS, Traffic

    cores = p["chips"] * int(_spec("loihi1").value("cores.per_chip"))
    per_core = p["patterns"] / cores
    t = Traffic(p["steps"], cores, p["chips"], tiles=0)
    t.synaptic_ops["dense"] = input_spikes * p["patterns"]
    t.neuron_steps = p["patterns"] * p["steps"]
    t.active_updates = t.neuron_steps * active_share
    t.core_layer = ["patterns"] * cores
    t.core_neurons = np.full(cores, per_core * p["steps"])
    t.core_active = t.core_neurons * active_share
    t.core_fired, t.core_sent = np.zeros(cores), np.zeros(cores)
    t.received = {None: np.full(cores, float(input_spikes))}
    t.ops = {None: {f: np.full(cores, input_spikes * per_core if f == "dense" else 0.0) for f in FORMATS}}
    return t


def _knn(p: dict, key: str, scale: float) -> Span:
    """A figure of the search at the nominal, least and most demanding readings of its spike count."""
    from neurodeploy.backends.loihi.energy import price

    low, nominal, high = p["input_spikes"]
    run = lambda spikes, active: price(_knn_traffic(p, spikes, active), _spec("loihi1"))
    n, lo, hi = run(nominal, 1.0), run(low, 0.0), run(high, 1.0)
    return Span(n[key], lo[range_name(key)][0], hi[range_name(key)][1]) * scale


def frady2020_knn_energy(p: dict) -> Span:
    return _knn(p, "dynamic_energy_uj", 1e-3)  # mJ


def frady2020_knn_step(p: dict) -> Span:
    return _knn(p, "step_time_us", 1.0)


def blouw2019_kws(p: dict) -> Span:
    """The keyword spotter as an IR graph, mapped by neurodeploy, every neuron spiking at every step."""
    from neurodeploy.backends.loihi.energy import count_traffic, price
    from neurodeploy.backends.loihi.mapping import map_to_cores
    from neurodeploy.ir.check import check_graph
    from neurodeploy.ir.graph import Graph, Node, TensorType
    from neurodeploy.metrics import InputActivity
    from neurodeploy.sim.evaluate import Evaluation

    spec, sizes, steps = _spec("loihi1"), p["layers"], p["steps"]
    g = Graph([], {"x": TensorType((sizes[0],), timed=True)}, [])
    value, activity, lif = "x", {}, {"du": 4095, "dv": 0, "vth": 100}
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        w = g.add_param(f"w{i}", np.ones((fan_out, fan_in), np.int64))
        b = g.add_param(f"b{i}", np.zeros(fan_out, np.int64))
        activity[value] = InputActivity(np.full(fan_in, float(steps)), True)
        g.nodes += [Node("LoihiDense", f"fc{i}", [value, w], [f"a{i}"]),
                    Node("LoihiLIF", f"layer{i}", [f"a{i}", b], [f"s{i}"], lif)]
        value = f"s{i}"
    g.outputs = [value]
    check_graph(g)
    g.meta["num_steps"] = steps
    spikes = {f"layer{i}": float(n * steps) for i, n in enumerate(sizes[1:])}
    updates = {f"layer{i}:updates": float(n * steps) for i, n in enumerate(sizes[1:])}
    bound = price(count_traffic(g, map_to_cores(g, spec), Evaluation(None, np.zeros(1), 1, spikes, updates, activity),
                                spec), spec)
    return Span(bound["dynamic_energy_uj"], 0.0, bound["dynamic_energy_range_uj"][1]) * 1e-3  # an upper bound


# ------------------------------------------------------------------ TrueNorth, SpiNNaker


def _truenorth_power_mw(p: dict) -> Span:
    spec = _spec("truenorth")
    events_per_s = p["neurons"] * p["rate_hz"] * p["synapses_per_neuron"]
    return spec_span(spec, "power.static_mw_per_chip") + \
        spec_span(spec, "energy_pj.synaptic_event_marginal") * events_per_s * 1e-9  # pJ/s -> mW


def _spinnaker_power_w(p: dict) -> Span:
    spec = _spec("spinnaker1")
    return spec_span(spec, "power.idle_w_per_chip") * p["chips"] + \
        spec_span(spec, "power.active_w_per_core") * p["active_cores"]


RECONSTRUCTIONS = {"frady2020_knn_energy": frady2020_knn_energy, "frady2020_knn_step": frady2020_knn_step,
                   "blouw2019_kws": blouw2019_kws, "akopyan2015_20hz": _truenorth_power_mw,
                   "merolla2014_72mw": _truenorth_power_mw, "painkras2013_chip": _spinnaker_power_w,
                   "spinnmachine_board_idle": _spinnaker_power_w}


def load_published(path: Path = PUBLISHED) -> list[dict]:
    import yaml

    return yaml.safe_load(path.read_text())["measurements"]


def validations() -> list[Validation]:
    rows = []
    for m in load_published():
        estimate = RECONSTRUCTIONS[m["id"]](m["params"])
        rows.append(Validation(m["workload"], m["chip"], m["quantity"], m["unit"], float(m["measured"]), estimate.value,
                               estimate.low, estimate.high, m["source"], m["assumptions"], tuple(m["tolerance"]),
                               m.get("outside_reason"), list(m.get("notes", []))))
    return rows


def markdown_table(rows: list[Validation]) -> str:
    head = ("workload", "chip", "quantity", "measured", "estimate (range)", "ratio", "in range", "source",
            "assumptions, and why not in range")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        why = r.assumptions + ("" if r.inside else f". **Not in range:** {r.outside_reason}")
        why += "".join(f". {n}" for n in r.notes)
        lines.append("| " + " | ".join([
            r.workload, r.chip, r.quantity, f"{r.measured:.4g} {r.unit}",
            f"{r.estimate:.3g} ({r.low:.3g}-{r.high:.3g}) {r.unit}", f"{r.ratio:.2f}", "yes" if r.inside else "no",
            r.source, why]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table(validations()))
