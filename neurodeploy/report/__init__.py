"""Compile reports: one dict (written as report.json, schema in docs/report.md), rendered as text and markdown."""
from __future__ import annotations

from neurodeploy.ir.summary import summary_dicts

LAYER_COLUMNS = ("name", "op", "shape", "neurons", "synapses", "parameters", "spikes_per_sample")


def build_report(name, request, spec, ann, snn, ann_eval, snn_eval, estimate, dataset, timings) -> dict:
    """Assemble the report dict of one compile (see docs/report.md for the fields)."""
    from neurodeploy import __version__
    from neurodeploy.compile import request_dict

    layers = summary_dicts(snn)
    for row in layers:
        row["spikes_per_sample"] = snn_eval.spikes_per_layer.get(row["name"])
    return {
        "neurodeploy_version": __version__,
        "model": name,
        "target": spec.name,
        "dataset": dataset,
        "test_samples": snn_eval.num_samples,
        "ann": {"accuracy": ann_eval.accuracy, "nodes": len(ann.nodes)},
        "snn": {
            "accuracy": snn_eval.accuracy,
            "num_steps": request.conversion.num_steps,
            "spikes_per_inference": snn_eval.spikes_per_inference,
            "thresholds": snn.meta.get("thresholds", {}),
            "maxpool_replaced_by_avgpool": snn.meta.get("maxpool_replaced_by_avgpool", []),
        },
        "accuracy_gap_points": round(100 * (ann_eval.accuracy - snn_eval.accuracy), 4),
        "layers": layers,
        "estimate": estimate,
        "passes": snn.meta.get("passes", []),
        "timings_s": timings,
        "request": request_dict(request),
        "spec": spec.to_dict(),
    }


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def text_table(headers, rows) -> str:
    """Left-aligned plain-text table."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def markdown_table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def _headline(r: dict) -> list[tuple[str, str]]:
    return [
        ("ANN accuracy", f"{100 * r['ann']['accuracy']:.2f} %"),
        (f"SNN accuracy (T={r['snn']['num_steps']})",
         f"{100 * r['snn']['accuracy']:.2f} %  (gap {r['accuracy_gap_points']:+.2f} points)"),
        ("spikes per inference", f"{r['snn']['spikes_per_inference']:.0f}"),
    ] + [(k.replace("_", " "), _cell(v)) for k, v in r["estimate"].items() if k != "spikes_per_inference"]


def _layer_rows(r: dict) -> list[list]:
    return [[row[c] for c in LAYER_COLUMNS] for row in r["layers"]]


def render_text(r: dict) -> str:
    """Console summary of a report."""
    title = f"{r['model']} -> {r['target']}  ({r['dataset']} test split, {r['test_samples']} samples)"
    width = max(len(k) for k, _ in _headline(r))
    lines = [title] + [f"  {k.ljust(width)}  {v}" for k, v in _headline(r)]
    if r["snn"]["maxpool_replaced_by_avgpool"]:
        lines.append(f"  MaxPool replaced by AveragePool: {', '.join(r['snn']['maxpool_replaced_by_avgpool'])}")
    return "\n".join(lines) + "\n\n" + text_table(LAYER_COLUMNS, _layer_rows(r))


def render_markdown(r: dict) -> str:
    lines = [f"# {r['model']} on {r['target']}", "",
             f"Data set: {r['dataset']} test split, {r['test_samples']} samples.", "",
             markdown_table(("figure", "value"), _headline(r)), "", "## Layers", "",
             markdown_table(LAYER_COLUMNS, _layer_rows(r)), "", "## Passes", "",
             ", ".join(r["passes"]), ""]
    return "\n".join(lines)
