"""Compile reports: one dict (written as report.json, schema in docs/report.md), rendered as text and markdown."""
from __future__ import annotations

from neurodeploy.ir.summary import summary_dicts
from neurodeploy.report.labels import column_labels, label

LAYER_COLUMNS = ("name", "op", "shape", "neurons", "synapses", "parameters", "spikes_per_sample")


def _quantization_rows(snn_float, deployed, graph) -> list[dict]:
    """Per layer: the target's quantization figures, spikes before/after, overflow events."""
    rows = []
    for row in graph.meta.get("quantization", []):
        layer = row["layer"]
        rows.append({**row, "spikes_before": snn_float.spikes_per_layer.get(layer),
                     "spikes_after": deployed.spikes_per_layer.get(layer),
                     "overflow_events": deployed.counts_per_layer.get(layer)})
    return rows


HISTOGRAM_BINS = 20


def activity_block(evaluation, network: str) -> dict:
    """What a report draws of a run's spikes: per layer, the first sample's spikes of its raster neurons
    (sim.evaluate.raster_neurons; a spike event per spike, so two trains of one SC-TTFS layer firing together give
    two) and the histogram over all its neurons of their mean spikes per sample."""
    import numpy as np

    from neurodeploy.sim.evaluate import raster_neurons

    layers = []
    for layer, per_neuron in evaluation.spikes_per_neuron.items():
        train, shown = evaluation.first_sample_spikes[layer], raster_neurons(per_neuron.size)
        step, row = np.nonzero(train)
        step, row = np.repeat(step, train[step, row]), np.repeat(row, train[step, row])
        top = float(per_neuron.max()) if per_neuron.size else 0.0
        counts, edges = np.histogram(per_neuron, bins=HISTOGRAM_BINS, range=(0.0, top if top > 0 else 1.0))
        layers.append({"layer": layer, "neurons": int(per_neuron.size), "steps": int(train.shape[0]),
                       "raster": {"neurons_shown": int(shown.size), "neuron": row.tolist(), "step": step.tolist(),
                                  "neuron_index": shown.tolist()},
                       "spikes_per_neuron": {"edges": [round(float(e), 6) for e in edges], "counts": counts.tolist()},
                       "silent_neurons": int((per_neuron == 0).sum())})
    return {"network": network, "sample": 0, "layers": layers}


def _accuracy_block(result, graph, conversion) -> dict | None:
    if result is None:
        return None
    return {"accuracy": result.accuracy, "coding": conversion.coding if conversion else "trained",
            "num_steps": conversion.num_steps if conversion else graph.meta.get("num_steps"),
            "latency_steps": steps_per_inference(graph),
            "spikes_per_inference": result.spikes_per_inference, "thresholds": graph.meta.get("thresholds", {}),
            "finetune": graph.meta.get("finetune"),
            "maxpool_replaced_by_avgpool": graph.meta.get("maxpool_replaced_by_avgpool", [])}


def steps_per_inference(graph) -> int | None:
    """Time steps one inference takes: a rate SNN's window, or layers x T for a temporal one (as the graph says)."""
    return graph.meta.get("latency_steps", graph.meta.get("num_steps"))


def operation_costs() -> dict:
    """papers/003's per-operation energies (45 nm), from the reference target's spec with their source."""
    from neurodeploy.backends import get_backend

    ref = get_backend("ref").spec
    return {"mac_pj": ref.value("operation_energy_pj.mac"), "ac_pj": ref.value("operation_energy_pj.ac"),
            "source": ref.source_of("operation_energy_pj.mac")}


def metrics_block(graphs: dict, results: dict, spec) -> dict:
    """papers/000 / NeuroBench / papers/003 metrics of the ANN, the float SNN and the deployed network
    (neurodeploy.metrics; definitions in docs/metrics.md)."""
    from neurodeploy.backends import get_backend
    from neurodeploy.metrics import deployed_metrics, network_metrics

    ref, costs = get_backend("ref").spec, operation_costs()
    block = {"definitions": "docs/metrics.md"}
    for name in ("ann", "snn"):
        if name in graphs:
            block[name] = network_metrics(graphs[name], results.get(name), ref.values["memory_bits"], costs)
    deployed = graphs.get("deployed", graphs.get("snn"))
    structure = graphs.get("snn", deployed)
    block["deployed"] = deployed_metrics(deployed, results.get("deployed"), structure,
                                         spec.values.get("memory_bits"))
    return block


def build_report(name, request, conversion, spec, graphs, results, estimate, dataset, timings) -> dict:
    """Assemble the report dict of one compile (fields: docs/report.md).

    ``graphs``/``results`` hold 'ann', 'snn' (float SNN) and 'deployed'; a network imported already in a
    chip's arithmetic has only 'deployed'.
    """
    from dataclasses import asdict

    from neurodeploy.pipeline import request_dict
    from neurodeploy.report.schema import versioned

    deployed_graph = graphs.get("deployed", graphs.get("snn"))
    ann, snn, deployed = results.get("ann"), results.get("snn"), results["deployed"]
    layers = summary_dicts(deployed_graph)
    for row in layers:
        row["spikes_per_sample"] = deployed.spikes_per_layer.get(row["name"])
    gap = None if ann is None or deployed.accuracy is None else round(100 * (ann.accuracy - deployed.accuracy), 4)
    return {
        **versioned("build"),
        "model": name,
        "target": spec.name,
        "dataset": dataset,
        "test_samples": deployed.num_samples,
        "ann": {"accuracy": ann.accuracy, "nodes": len(graphs["ann"].nodes)} if ann else None,
        "snn": _accuracy_block(snn, graphs.get("snn"), conversion),
        "deployed": {"accuracy": deployed.accuracy, "spikes_per_inference": deployed.spikes_per_inference,
                     "steps": steps_per_inference(deployed_graph) or (conversion.num_steps if conversion else None)},
        "accuracy_gap_points": gap,
        "quantization": _quantization_rows(snn, deployed, deployed_graph) if snn else [],
        "activity": activity_block(deployed, "deployed" if "deployed" in graphs else "snn"),
        "layers": layers,
        "estimate": estimate,
        "conversion": asdict(conversion) if conversion else None,
        "passes": deployed_graph.meta.get("passes", []),
        "metrics": metrics_block(graphs, results, spec),
        "timings_s": timings,
        "request": request_dict(request),
        "spec": spec.to_dict(),
    }


def cell_text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def text_table(headers, rows) -> str:
    """Left-aligned plain-text table."""
    cells = [[cell_text(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def markdown_table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell_text(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def headline_rows(r: dict) -> list[tuple[str, str]]:
    pct = lambda v: "-" if v is None else f"{100 * v:.2f} %"
    rows = []
    if r["ann"]:
        rows.append(("ANN accuracy", pct(r["ann"]["accuracy"])))
    if r["snn"]:
        coding = r["snn"].get("coding") or "rate"
        temporal = coding in ("ttfs", "sc-ttfs")
        rows.append((f"SNN accuracy (float, {coding}, T={r['snn']['num_steps']}{' per layer' if temporal else ''})",
                     pct(r["snn"]["accuracy"])))
    time = r.get("time_semantics")
    if time:
        dt = "dt not given" if time.get("dt") is None else f"dt {time['dt']:g} s"
        rows.append(("time semantics", f"{dt}, {time.get('integration', '-')}, from {time.get('source', '-')}"))
        if time.get("num_steps_source"):
            rows.append(("time steps", f"T = {time.get('num_steps')} from {time['num_steps_source']}"))
        rows += [("time note", note) for note in time.get("notes", [])]
        rows += [("time warning", warning) for warning in time.get("warnings", [])]
    for note in (r.get("snn_nir") or {}).get("notes", []):
        rows.append(("snn.nir", note))
    rows += [("activity warning", warning) for warning in r.get("activity_warnings", [])]
    if r["target"] != "ref" and r["deployed"]["accuracy"] is not None:
        rows.append((f"{r['target']} accuracy ({r['deployed']['steps']} steps)", pct(r["deployed"]["accuracy"])))
    if r["accuracy_gap_points"] is not None:
        rows.append(("gap to ANN", f"{r['accuracy_gap_points']:+.2f} points"))
    rows.append(("spikes per inference", f"{r['deployed']['spikes_per_inference']:.0f}"))
    rows += _metrics_rows(r)
    return rows + estimate_rows(r["estimate"])


def _ranged(value, spread) -> str:
    if value is None or not isinstance(spread, list) or len(spread) != 2:
        return cell_text(value)
    return f"{cell_text(value)} (range {cell_text(spread[0])}-{cell_text(spread[1])})"


def estimate_rows(est: dict) -> list[tuple[str, str]]:
    """The estimate's figures, each with its range where it has one; chip dynamic, chip static and the system (not
    modelled, said so) on separate lines; then the breakdown and the notes."""
    from neurodeploy.energy.ranges import range_name

    ranges = {range_name(k) for k in est}
    rows = []
    for k, v in est.items():
        if k in ranges or k in ("spikes_per_inference", "system_energy_note") or isinstance(v, (dict, list)):
            continue
        if k == "system_energy_uj":
            note = est.get("system_energy_note")
            rows.append((label("build", "estimate.system_energy_uj"), cell_text(v) if v is not None else str(note)))
            continue
        rows.append((label("build", f"estimate.{k}"), _ranged(v, est.get(range_name(k)))))
    breakdown, spreads = est.get("energy_breakdown_uj"), est.get("energy_breakdown_range_uj") or {}
    if breakdown:
        terms = ", ".join(f"{k.replace('_', ' ')} {_ranged(v, spreads.get(k))}" for k, v in breakdown.items())
        rows.append((label("build", "estimate.energy_breakdown_uj"), terms))
    rows += [("energy note", note) for note in est.get("energy_notes", [])]
    return rows


def _bits(value) -> str:
    return "-" if value is None else f"{value / 1e3:.1f} kbit"


def _ops(value) -> str:
    return "-" if value is None else f"{value:.0f}"


def _metrics_rows(r: dict) -> list[tuple[str, str]]:
    """One line per network of papers/000's memory and compute and NeuroBench's operations (docs/metrics.md)."""
    metrics = r.get("metrics") or {}
    rows = []
    for name, network, where in (("ann", "ANN", "ANN"), ("snn", "float SNN", "float SNN"),
                               ("deployed", f"{r['target']} widths", f"on {r['target']}")):
        m = metrics.get(name)
        if not m or (name == "deployed" and r["target"] == "ref"):
            continue
        memory, ops = m["memory"], m.get("compute")
        parts = "Mw + Ma" if "Ma_bits" in memory else "Mw + Mp + Ms"
        values = ", ".join(f"{k[:-5]} {_bits(memory.get(k))}" for k in ("Mw_bits", "Ma_bits", "Mp_bits") if k in memory)
        if "Ms_bits" in memory:
            spikes = memory["Ms_bits"]
            values += ", Ms " + ("-" if spikes is None else f"{spikes:.1f} bit")
        rows.append((f"memory ({network})", f"M = {parts} = {_bits(memory['M_bits'])} ({values})"))
        if ops:
            rows.append((f"operations ({where})", f"Cmul {_ops(ops['Cmul'])}, Cadd {_ops(ops['Cadd'])}; NeuroBench "
                         f"MACs {_ops(ops['effective_macs'])}, ACs {_ops(ops['effective_acs'])}"))
    return rows


_PERCENT_OF_WEIGHTS = ("weights_clipped", "weights_zeroed")


def quant_columns(r: dict) -> tuple[str, ...]:
    """The target's own quantization fields (counts of weights as % of them), then the activity columns."""
    keys = [k for k in r["quantization"][0] if k not in ("spikes_before", "spikes_after", "overflow_events", "weights")]
    keys = [f"{k}_pct" if k in _PERCENT_OF_WEIGHTS else k for k in keys]
    return tuple(keys) + ("spikes_before", "spikes_after", "overflow_events")


def quant_table_rows(r: dict) -> list[list]:
    return [[row.get(c) if c in row else _pct(row, c) for c in quant_columns(r)] for row in r["quantization"]]


def _pct(row: dict, column: str):
    base = column[: -len("_pct")]
    return 100.0 * row.get(base, 0) / max(row.get("weights", 0), 1)


def layer_table_rows(r: dict) -> list[list]:
    return [[row[c] for c in LAYER_COLUMNS] for row in r["layers"]]


def render_text(r: dict) -> str:
    """Console summary of a report."""
    where = f"{r['dataset']} test split" if r.get("dataset_source") else r["dataset"]
    title = f"{r['model']} -> {r['target']}  ({where}, {r['test_samples']} samples)"
    headline = headline_rows(r)
    width = max(len(k) for k, _ in headline)
    lines = [title] + [f"  {k.ljust(width)}  {v}" for k, v in headline]
    if r["snn"] and r["snn"]["maxpool_replaced_by_avgpool"]:
        lines.append(f"  MaxPool replaced by AveragePool: {', '.join(r['snn']['maxpool_replaced_by_avgpool'])}")
    text = "\n".join(lines) + "\n\n" + text_table(_labels(LAYER_COLUMNS), layer_table_rows(r))
    if r["quantization"]:
        text += "\n\nquantization\n" + text_table(_quant_labels(r), quant_table_rows(r))
    return text


def render_markdown(r: dict) -> str:
    lines = [f"# {r['model']} on {r['target']}", "",
             f"Data set: {r['dataset']} test split, {r['test_samples']} samples.", "",
             markdown_table(("figure", "value"), headline_rows(r)), "", "## Layers", "",
             markdown_table(_labels(LAYER_COLUMNS), layer_table_rows(r)), "",
             *(["## Quantization", "", markdown_table(_quant_labels(r), quant_table_rows(r)), "",
                *quantization_legend(r), ""] if r["quantization"] else []),
             "## Passes", "",
             ", ".join(r["passes"]), ""]
    return "\n".join(lines)


def _labels(keys) -> list[str]:
    return column_labels("build", "layers[]", keys)


def quantization_legend(r: dict) -> list[str]:
    """One markdown line per quantization column: its label and what it means (report.schema.json)."""
    from neurodeploy.report.labels import column_description

    return [f"- **{name}**: {column_description('build', 'quantization[]', c)}"
            for name, c in zip(_quant_labels(r), quant_columns(r))]


def _quant_labels(r: dict) -> list[str]:
    return column_labels("build", "quantization[]", quant_columns(r))
