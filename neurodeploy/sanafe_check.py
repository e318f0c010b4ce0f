"""SANA-FE's energy and latency beside neurodeploy's estimate for the same samples, term by term.

SANA-FE reports energy per hardware unit (synapse, dendrite, soma, network); neurodeploy's Loihi terms map onto
them as: synapse = synaptic ops; soma = neuron updates + spike-outs; network = messages + hops; dendrite has no
neurodeploy term (SANA-FE's Loihi accumulator costs nothing). Latency is SANA-FE's simulated time per inference
(its detailed timing model) against neurodeploy's latency. Static power is outside SANA-FE's Loihi description, so
only the dynamic energy is compared.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

TERMS = {"synapse": ("synaptic_ops",), "dendrite": (), "soma": ("neuron_updates", "spikes_out"),
         "network": ("messages", "hops")}


def crosscheck(g, target: str, x: np.ndarray, y, sanafe: dict, network_path: Path | None = None) -> dict:
    """The comparison table of one run (``sanafe``: run_sanafe's energy_j and sim_time_s per sample, and the network,
    which ``network_path`` receives)."""
    from neurodeploy.backends import get_backend
    from neurodeploy.backends.loihi.sanafe_run import expressible_problems
    from neurodeploy.sim.evaluate import evaluate

    backend = get_backend(target)
    activity = evaluate(g, x, y, backend.simulate, backend.counters(g))
    ours = backend.estimate(g, activity)
    theirs = {k: float(np.mean([s[k] for s in sanafe["energy_j"]])) * 1e6 for k in sanafe["energy_j"][0]}
    rows = []
    for term, parts in TERMS.items():
        value = sum(ours["energy_breakdown_uj"][p] for p in parts)
        spread = [sum(ours["energy_breakdown_range_uj"][p][i] for p in parts) for i in (0, 1)]
        rows.append(_row(term, value, spread, theirs[term]))
    rows.append(_row("dynamic total", ours["dynamic_energy_uj"], ours["dynamic_energy_range_uj"], theirs["total"]))
    latency = float(np.mean(sanafe["sim_time_s"])) * 1e6
    out = {"samples": len(sanafe["energy_j"]), "energy_uj": rows,
           "latency_us": _row("latency per inference", ours["latency_us"], ours["latency_range_us"], latency),
           "step_time_us": _row("time per step", ours["step_time_us"], ours["step_time_range_us"],
                                latency / ours["steps"]),
           "arithmetic_notes": expressible_problems(g), "overflow_notes": _overflow_notes(g, activity),
           "note": "dynamic energy only (SANA-FE's Loihi description has no static power); SANA-FE's constants are "
                   "its silicon fit, the same values neurodeploy's nominal uses"}
    if network_path is not None:
        out["network_file"] = str(_save_network(sanafe["network"], Path(network_path)))
    return out


def _overflow_notes(g, activity) -> list[str]:
    """Layers whose run hit Loihi's 24-bit limits: SANA-FE saturates v downwards as Loihi does (the export sets it),
    but does not wrap u or clamp a conv's sum, so spikes can differ there."""
    return [f"{n.name}: {activity.counts_per_layer[n.name]:.2f} 24-bit wrap or saturation events per sample; SANA-FE "
            "reproduces the negative saturation of v only" for n in g.find("LoihiLIF")
            if activity.counts_per_layer.get(n.name)]


def _row(term: str, ours: float, spread, theirs: float) -> dict:
    return {"term": term, "neurodeploy": ours, "neurodeploy_range": list(spread), "sanafe": theirs,
            "ratio": ours / theirs if theirs else None}


def _save_network(network, path: Path) -> Path:
    """The SANA-FE network YAML, written whole or not at all (neurodeploy.buildfolder.write_file)."""
    from neurodeploy.buildfolder import write_file
    from neurodeploy.errors import InputError

    def save(tmp: Path) -> None:
        try:
            network.save(str(tmp))
        except RuntimeError as e:  # SANA-FE reports a failed write as a RuntimeError
            raise InputError(f"cannot write the SANA-FE network {path}: {e}") from None

    write_file(path, save)
    return Path(path)


def render_crosscheck(check: dict) -> str:
    from neurodeploy.report import text_table

    def cells(r):
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        low, high = r["neurodeploy_range"]
        return [r["term"], f"{r['neurodeploy']:.4g}", f"{low:.3g}-{high:.3g}", f"{r['sanafe']:.4g}", ratio]

    head = ("term", "neurodeploy", "range", "SANA-FE", "ratio")
    lines = [f"SANA-FE cross-check ({check['samples']} samples; {check['note']})",
             text_table(("energy uJ",) + head[1:], [cells(r) for r in check["energy_uj"]]),
             text_table(("time us",) + head[1:], [cells(check["latency_us"]), cells(check["step_time_us"])])]
    lines += [f"arithmetic note: {n}" for n in check["arithmetic_notes"] + check.get("overflow_notes", [])]
    if check.get("network_file"):
        lines.append(f"SANA-FE network written to {check['network_file']}")
    return "\n".join(lines)
