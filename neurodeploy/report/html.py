"""report.html: one self-contained page (figures as PNG data URIs, inline CSS, no script, no fetch) for a build, a
``--target all`` folder, a ``codings`` folder and a ``benchmark`` folder, drawn from the same dicts their JSON holds
(figures: neurodeploy.report.figures; fields: docs/report.md)."""
from __future__ import annotations

import html

from neurodeploy.report import cell_text, figures as F
from neurodeploy.report.labels import column_labels
from neurodeploy.sim.evaluate import RASTER_NEURONS

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1180px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 12px; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } figure { margin: 1em 0; } figcaption { color: #555; font-size: 12px; max-width: 900px; }
img.figure { max-width: 100%; border: 1px solid #eee; } dl.legend { font-size: 12px; color: #444; }
dl.legend dt { font-weight: 600; float: left; margin-right: 0.5em; } dl.legend dd { margin: 0 0 0.2em 0; }
.error { color: #a00; white-space: pre-wrap; font-family: monospace; font-size: 12px; }
"""


class Page:
    """An HTML document built section by section."""

    def __init__(self, title: str) -> None:
        self.title, self.parts, self._figures = title, [f"<h1>{html.escape(title)}</h1>"], 0

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str, css: str = "") -> None:
        self.parts.append(f'<p class="{css}">{html.escape(text)}</p>' if css else f"<p>{html.escape(text)}</p>")

    def figure(self, make, *data, caption: str) -> None:
        """A figure ``make(*data)`` (neurodeploy.report.figures) with its caption; the caption's first words are the
        image's alternative text."""
        self._figures += 1
        alt = html.escape(caption.split(":")[0])
        self.parts.append(f'<figure id="figure-{self._figures}"><img class="figure" alt="{alt}" '
                          f'src="{F.drawn(make, *data)}"><figcaption>Figure {self._figures}. '
                          f"{html.escape(caption)}</figcaption></figure>")

    def table(self, headers, rows, legend: dict[str, str] | None = None) -> None:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell_text(v))}</td>" for v in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        if legend:
            items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in legend.items())
            self.parts.append(f'<dl class="legend">{items}</dl>')

    def render(self) -> str:
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f"</title><style>{STYLE}</style></head><body>\n" + "\n".join(self.parts) + "\n</body></html>\n")


def page_body(page: str) -> str:
    """What a page shows, without its document and style: for embedding (a notebook cell)."""
    return page.split("<body>", 1)[-1].rsplit("</body>", 1)[0].strip()


# ------------------------------------------------------------------------------------------------ one build

def build_html(report: dict) -> str:
    """The page of one build (report.json of one target)."""
    page = Page(f"{report['model']} on {report['target']}")
    page.text(f"Data set: {report['dataset']}, {report['test_samples']} test samples. neurodeploy "
              f"{report.get('neurodeploy_version', '')}; the figures are in report.json (docs/report.md).")
    from neurodeploy.report import headline_rows

    page.table(("figure", "value"), headline_rows(report))
    page.heading("Accuracy")
    page.figure(F.accuracy_figure, {report["target"]: _accuracies(report)},
                caption="Accuracy: test accuracy of the ANN, the float SNN (reference simulator) and the deployed "
                "network (the target's simulator).")
    if "energy_uj" in report["estimate"]:
        page.heading("Energy, latency and cores")
        page.figure(F.cost_figure, [{"target": report["target"], "estimate": report["estimate"]}],
                    caption=COST_CAPTION)
    target_sections(page, report, level=2)
    page.heading("Layers")
    from neurodeploy.report import LAYER_COLUMNS, layer_table_rows

    page.table(column_labels("build", "layers[]", LAYER_COLUMNS), layer_table_rows(report))
    return page.render()


COST_CAPTION = ("Energy, latency and cores: energy per inference (log scale, stacked static and dynamic terms; the "
                "whisker is the range of docs/energy.md), each term's share, latency per inference (range "
                "whisker) and cores used.")


def _accuracies(report: dict) -> dict[str, float | None]:
    out = {}
    if report.get("ann"):
        out["ANN"] = report["ann"]["accuracy"]
    if report.get("snn"):
        out["float SNN"] = report["snn"]["accuracy"]
    if report["target"] != "ref":
        out["deployed"] = report["deployed"]["accuracy"]
    return out


def target_sections(page: Page, report: dict, level: int) -> None:
    """Core map, spikes and quantization of one target's build."""
    core_map = report["estimate"].get("core_map")
    if core_map and core_map["cells"]:
        page.heading("Core map", level)
        page.figure(F.core_map_figure, core_map, caption=f"Core map: {core_map['title']}.")
    activity = report.get("activity")
    if activity and activity["layers"]:
        network = "the deployed network" if activity["network"] == "deployed" else "the float SNN"
        page.heading("Spikes", level)
        page.figure(F.raster_figure, activity, caption=f"Spike raster: the spikes of {network} on sample "
                    f"{activity['sample']} of {report['dataset']}, per layer (a layer of more than {RASTER_NEURONS} "
                    f"neurons shows {RASTER_NEURONS} of them, evenly spaced).")
        page.figure(F.histogram_figure, activity, caption="Spikes per neuron: how many neurons of each layer of "
                    f"{network} fire how often, in mean spikes per test sample.")
    if report.get("quantization"):
        page.heading("Quantization", level)
        page.figure(F.layer_activity_figure, report["quantization"],
                    caption="Activity before and after quantization: spikes per sample of each layer in the float "
                    "SNN and on the target (symmetric log scale).")
        quantization_table(page, report)


def quantization_table(page: Page, report: dict) -> None:
    from neurodeploy.report import quant_table_rows, quant_columns
    from neurodeploy.report.labels import column_description

    columns = quant_columns(report)
    headers = column_labels("build", "quantization[]", columns)
    page.table(headers, quant_table_rows(report),
               {h: column_description("build", "quantization[]", c) for h, c in zip(headers, columns)})


# ------------------------------------------------------------------------------------------------ --target all

def targets_html(summary: dict, reports: dict[str, dict | str]) -> str:
    """The page of ``compile --target all``: the comparison, then each target's core map, spikes and quantization.
    ``reports``: the report of each target's build, or the text of its refusal."""
    from neurodeploy.report.targets import COLUMNS, table_rows

    page = Page(f"{summary['model']} on every target")
    page.table(column_labels("targets", "targets[]", COLUMNS), table_rows(summary))
    built = {t: r for t, r in reports.items() if isinstance(r, dict)}
    page.heading("Accuracy")
    page.figure(F.accuracy_figure, {t: _accuracies(r) for t, r in built.items()},
                caption="Accuracy per target: ANN, float SNN (reference simulator) and the deployed network on each "
                "target.")
    chips = [{"target": t, "estimate": r["estimate"]} for t, r in built.items() if "energy_uj" in r["estimate"]]
    if chips:
        page.heading("Energy, latency and cores")
        page.figure(F.cost_figure, chips, caption=COST_CAPTION)
    for target, report in reports.items():
        page.heading(f"{target}")
        if isinstance(report, str):
            page.text(f"refused: {report}", "error")
        else:
            target_sections(page, report, level=3)
    page.text(summary["normalized_energy_note"])
    return page.render()


# ------------------------------------------------------------------------------------------------ codings

def codings_html(summary: dict) -> str:
    """The page of ``neurodeploy codings``: accuracy against latency and spikes for every window tried."""
    from neurodeploy.report.codings import COLUMNS, caption, table_rows

    page = Page(f"Coding comparison: {summary['model']} on {summary['target']}")
    page.text(caption(summary))
    page.table(column_labels("codings", "rows[]", COLUMNS), table_rows(summary))
    tried = summary.get("candidates") or {r["coding"]: [r] for r in summary["rows"]}
    ann = next((r["ann_accuracy_pct"] for r in summary["rows"] if r.get("ann_accuracy_pct") is not None), None)
    reference = None if ann is None else ("ANN", ann)
    for x_key, x_label in (("latency_steps", "latency (time steps per inference)"),
                           ("spikes_per_inference", "spikes per inference")):
        series = {c: [(p[x_key], p["snn_accuracy_pct"]) for p in points] for c, points in tried.items()}
        page.figure(F.curves_figure, series, x_label, "deployed accuracy (%)", reference, True,
                    caption=f"Accuracy against {x_label}: every window T tried, per coding, on {summary['target']}.")
    energy = {r["coding"]: {"TrueNorth weights": r.get("norm_energy_truenorth"),
                            "SpiNNaker weights": r.get("norm_energy_spinnaker")} for r in summary["rows"]}
    page.figure(F.bars_figure, energy, "normalized energy (unitless)",
                caption="Normalized energy of each coding's chosen window (papers/001 eq. 25, over the rows).")
    return page.render()


# ------------------------------------------------------------------------------------------------ benchmark

def benchmark_html(report: dict) -> str:
    """The page of ``neurodeploy benchmark``: papers/000's six models, their metrics, their cost on each chip and
    the trade-off sweeps."""
    from neurodeploy.report.benchmark import METRIC_COLUMNS, chip_text, metric_cells

    rows = report["rows"]
    name = lambda r: f"{r['number']} {r['label']} {r['architecture']}"
    page = Page("neurodeploy benchmark: papers/000's six models on the digits")
    page.table(METRIC_COLUMNS, [metric_cells(r) for r in rows])
    page.figure(F.bars_figure, {name(r): {"accuracy": None if r["accuracy"] is None else 100 * r["accuracy"]}
                                for r in rows}, "test accuracy (%)",
                caption="Accuracy of each model (float, reference).")
    page.figure(F.bars_figure, {name(r): {"M": r["memory_bits"]["M_bits"]} for r in rows}, "memory (bit)", True,
                caption="Memory per papers/000 (M = weights + activations or potentials + spikes).")
    targets = list(dict.fromkeys(t for r in rows for t in r["chips"]))
    energy = {name(r): {t: (r["chips"].get(t) or {}).get("energy_uj") for t in targets} for r in rows}
    page.figure(F.bars_figure, energy, "energy per inference (µJ)", True,
                caption="Energy per inference of each model on each chip (no bar: refused or unknown; see the table).")
    page.table(("model",) + tuple(targets), [[name(r)] + [chip_text(r["chips"][t]) if t in r["chips"] else "-"
                                                          for t in targets] for r in rows])
    for kind, sweep in (report.get("sweeps") or {}).items():
        page.heading(f"Trade-off sweeps: the {kind} SNN")
        page.figure(F.curves_figure, {"accuracy": [(p["T"], 100 * p["accuracy"]) for p in sweep["over_T"]]},
                    "time steps T", "accuracy (%)", caption=f"Accuracy over T ({kind} SNN).")
        page.figure(F.curves_figure, {"accuracy": [(p["threshold_factor"], 100 * p["accuracy"])
                                                  for p in sweep["over_threshold"]]}, "threshold factor",
                    "accuracy (%)", caption=f"Accuracy over the threshold ({kind} SNN).")
    return page.render()
