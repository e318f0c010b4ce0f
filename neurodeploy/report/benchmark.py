"""The markdown of ``neurodeploy benchmark`` (benchmark.json's fields: docs/benchmark.md)."""
from __future__ import annotations

from neurodeploy.report import markdown_table

METRIC_COLUMNS = ("#", "model", "arch", "data", "accuracy %", "Mw kbit", "Ma kbit", "Mp kbit", "Ms bit", "M kbit",
                  "Cmul", "Cadd", "MACs", "ACs", "spikes", "E_ops nJ")


def _k(bits):
    return None if bits is None else bits / 1e3


def metric_cells(row: dict) -> list:
    memory, compute, nb = row["memory_bits"], row["compute"], row["neurobench"]
    energy = row["operation_energy_pj"]
    return [row["number"], row["label"], row["architecture"], row["dataset"],
            None if row["accuracy"] is None else 100 * row["accuracy"],
            _k(memory["Mw_bits"]), _k(memory["Ma_bits"]), _k(memory["Mp_bits"]), memory["Ms_bits"], _k(memory["M_bits"]),
            compute["Cmul"], compute["Cadd"], nb["effective_macs"], nb["effective_acs"], row["spikes_per_inference"],
            None if energy is None else energy / 1e3]


def chip_text(cell: dict) -> str:
    if "error" in cell:  # the reason is the first listed problem when there is one (the headline names the pass)
        lines = [line.strip().lstrip("- ") for line in cell["error"].splitlines() if line.strip()]
        reason = lines[1] if len(lines) > 1 else lines[0]
        more = f" (+{len(lines) - 2} more)" if len(lines) > 2 else ""
        return "refused: " + (reason if len(reason) <= 140 else reason[:137] + "...") + more
    acc = "-" if cell["accuracy"] is None else f"{100 * cell['accuracy']:.2f} %"
    energy = "energy unknown" if cell["energy_uj"] is None else f"{cell['energy_uj']:.3g} µJ"
    spread = cell.get("energy_range_uj")
    if cell["energy_uj"] is not None and spread:
        energy += f" ({spread[0]:.3g}-{spread[1]:.3g})"
    latency = "-" if cell["latency_us"] is None else f"{cell['latency_us']:.3g} µs"
    memory = "" if cell.get("memory_bits") is None else f", {cell['memory_bits'] / 1e3:.1f} kbit"
    return f"{acc}, {energy}, {latency}, {cell['cores']} cores{memory}"


def render_benchmark_markdown(report: dict) -> str:
    rows = report["rows"]
    targets = list(dict.fromkeys(t for r in rows for t in r["chips"]))
    from neurodeploy.report import operation_costs

    costs = report.get("operation_costs") or operation_costs()
    lines = ["# neurodeploy benchmark: papers/000's six models on the digits", "",
             "Accuracy on the test split (float ANN / float SNN on the reference simulator); memory per papers/000 "
             "(32-bit values, 1-bit spikes; Ms = each sample's most spikes in one step, mean over the samples); "
             "compute per inference (Cmul, Cadd: papers/000, an SNN's analog encoding layer counted at each of its "
             "T steps; MACs, ACs: NeuroBench's effective operations); spikes of the neurons; E_ops (papers/003): "
             f"an ANN's dense MACs x {costs['mac_pj']} pJ, an SNN's MACs x {costs['mac_pj']} pJ + ACs x {costs['ac_pj']} pJ "
             "(45 nm). Definitions: docs/metrics.md.", "",
             markdown_table(METRIC_COLUMNS, [metric_cells(r) for r in rows]), "",
             "## On each chip", "", "Accuracy, energy and latency per inference, cores, papers/000's memory at the "
             "chip's bit widths (or the chip's refusal).", "",
             markdown_table(("#", "model", "arch") + tuple(targets),
                            [[r["number"], r["label"], r["architecture"]] +
                             [chip_text(r["chips"][t]) if t in r["chips"] else r.get("chips_note", "-")
                              for t in targets] for r in rows]), ""]
    notes = sorted({f"model {r['number']}: {r['chips_note']}" for r in rows if r.get("chips_note")})
    lines += [f"- {n}" for n in notes] + [""]
    for kind, sweep in (report.get("sweeps") or {}).items():
        lines += [f"## Trade-off sweeps: the {kind} SNN ({sweep['zoo']})", "",
                  f"Reference simulator; {sweep.get('thresholds', '')}.", ""]
        for title, key, columns in (("over T", "over_T", ("T",)),
                                    ("over the threshold", "over_threshold", ("threshold_factor", "T"))):
            lines += [f"### {title}", "", markdown_table(columns + ("accuracy %", "Cadd", "Cmul", "spikes"), [
                [p[c] for c in columns] + [100 * p["accuracy"], p["Cadd"], p["Cmul"], p["spikes_per_inference"]]
                for p in sweep[key]]), ""]
        lines += [f"- {f}" for f in sweep["findings"]] + [""]
    return "\n".join(lines)
