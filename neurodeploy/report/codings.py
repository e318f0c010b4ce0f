"""``neurodeploy codings``: rate vs TTFS vs SC-TTFS on one target, like papers/001 Table 2.

For each coding the window T is swept upwards and the first T whose deployed accuracy is within ``tolerance``
points of the ANN ("lossless" at tolerance 0, the paper's operating point) is kept; when none is, the most
accurate T is kept and the row says so. Per coding: ANN accuracy, float-SNN accuracy, deployed accuracy (the
target's simulator: Loihi's golden simulator for loihi2), latency in steps (what the chip runs per inference:
T plus the pipeline depth for rate, layers x T (+1 synaptic delay) for the temporal codings), spikes per
inference, and the normalized energy of eq. 25 on TrueNorth's and SpiNNaker's weights, normalized over the rows.
Every compiled candidate is kept as a build folder under OUTPUT/<coding>-T<T>/.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Callable

from neurodeploy.report import markdown_table, text_table
from neurodeploy.report.labels import column_labels

CODINGS = ("rate", "ttfs", "sc-ttfs")
DEFAULT_SWEEPS = {"rate": (16, 32, 64, 128), "ttfs": (8, 12, 16, 24, 32), "sc-ttfs": (2, 3, 4, 6, 8)}
ENERGY_CHIPS = {"truenorth": "norm_energy_truenorth", "spinnaker1": "norm_energy_spinnaker"}
COLUMNS = ("coding", "T", "ann_accuracy_pct", "snn_float_accuracy_pct", "snn_accuracy_pct", "lossless",
           "latency_steps", "spikes_per_inference", "norm_energy_truenorth", "norm_energy_spinnaker")


def _candidate(coding: str, steps: int, report: dict) -> dict:
    pct = lambda v: None if v is None else round(100 * v, 2)
    return {"coding": coding, "T": steps, "ann_accuracy_pct": pct(report["ann"]["accuracy"]),
            "snn_float_accuracy_pct": pct(report["snn"]["accuracy"]),
            "snn_accuracy_pct": pct(report["deployed"]["accuracy"]), "latency_steps": report["deployed"]["steps"],
            "spikes_per_inference": round(report["deployed"]["spikes_per_inference"], 1)}


def _choose(candidates: list[dict], tolerance: float) -> dict:
    lossless = [c for c in candidates if c["snn_accuracy_pct"] >= c["ann_accuracy_pct"] - tolerance]
    chosen = dict(lossless[0] if lossless else max(candidates, key=lambda c: (c["snn_accuracy_pct"], -c["T"])))
    chosen["lossless"] = bool(lossless)
    return chosen


def _add_normalized_energy(rows: list[dict]) -> None:
    from neurodeploy.backends import get_backend
    from neurodeploy.energy import chip_weights, normalized_energy

    runs = {r["coding"]: (r["spikes_per_inference"], r["latency_steps"]) for r in rows}
    for chip, column in ENERGY_CHIPS.items():
        energy = normalized_energy(runs, *chip_weights(get_backend(chip).spec))
        for r in rows:
            r[column] = round(energy[r["coding"]], 4)


def compare_codings(request, sweeps: dict[str, tuple[int, ...]], tolerance: float,
                    say: Callable[[str], None] = print) -> dict:
    """Compile ``request`` with every coding and window of ``sweeps``; write OUTPUT/comparison.json and .md."""
    from neurodeploy.buildfolder import TIMINGS_FILE, check_output, file_hashes, report_json, staged_folder
    from neurodeploy.pipeline import compile_model, request_dict
    from neurodeploy.report.html import codings_html

    check_output(request.output)
    rows, tried, timings = [], {}, {}
    with staged_folder(request.output, say) as tmp:
        for coding, windows in sweeps.items():
            candidates = []
            for steps in sorted(windows):
                say(f"== {coding}, T={steps}")
                conversion = {**request.conversion, "coding": coding, "num_steps": steps}
                report = compile_model(replace(request, conversion=conversion, output=tmp / f"{coding}-T{steps}"), say)
                candidates.append(_candidate(coding, steps, report))
                timings[f"{coding}-T{steps}"] = report["timings_s"]
                if _choose(candidates, tolerance)["lossless"]:
                    break
            tried[coding] = candidates
            rows.append(_choose(candidates, tolerance))
        _add_normalized_energy(rows)
        from neurodeploy.report.schema import versioned

        summary = {**versioned("codings"), "model": request.model, "target": request.target,
                   "tolerance_points": tolerance,
                   "rows": rows, "candidates": tried, "request": request_dict(request)}
        (tmp / "comparison.md").write_text(render_codings_markdown(summary))
        (tmp / "report.html").write_text(codings_html(summary))
        summary["files"] = file_hashes(tmp)
        (tmp / "comparison.json").write_text(report_json(summary))
        (tmp / TIMINGS_FILE).write_text(json.dumps(timings, indent=2) + "\n")
    return summary


def table_rows(summary: dict) -> list[list]:
    shown = lambda c, v: f"{v:.2f}" if c.endswith("_pct") and v is not None else v
    return [[shown(c, r.get(c)) for c in COLUMNS] for r in summary["rows"]]


def caption(summary: dict) -> str:
    return (f"{summary['model']} on {summary['target']}: each coding at the shortest window T within "
            f"{summary['tolerance_points']} points of the ANN (lossless = yes); T is per layer for ttfs / sc-ttfs. "
            "Normalized energy: papers/001 eq. 25, spikes and latency each divided by the largest row.")


def render_codings_text(summary: dict) -> str:
    return caption(summary) + "\n\n" + text_table(column_labels("codings", "rows[]", COLUMNS), table_rows(summary))


def render_codings_markdown(summary: dict) -> str:
    table = markdown_table(column_labels("codings", "rows[]", COLUMNS), table_rows(summary))
    return f"# Coding comparison\n\n{caption(summary)}\n\n{table}\n"
