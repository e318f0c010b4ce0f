"""The figures of report.html, drawn with matplotlib from report dicts (what report.json holds).

matplotlib, not plotly: it is already a dependency, its PNGs embed in the page as data URIs, so a report opens
offline with no script at all (plotly needs its 3.5 MB JavaScript bundle inlined in every file, or a network
fetch), and the pictures are the kind papers print. Figures are built on ``matplotlib.figure.Figure`` directly
(no pyplot), so rendering a report never touches a notebook's or a user's global plotting state.
"""
from __future__ import annotations

import base64
import io

import numpy as np

WIDTH = 9.0  # inches at DPI: 900 px wide figures
DPI = 100
UNUSED = "#eeeeee"


def new_figure(height: float, width: float = WIDTH, layout: str | None = "constrained"):
    """A figure; small multiples pass ``layout=None`` and set their margins (constrained layout costs ~40 ms per
    axes, the largest part of a report's rendering time)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout=layout)


_DRAWN: dict[str, str] = {}  # figure key -> data URI: a --target all page shows each target's figures again


def drawn(make, *data) -> str:
    """The data URI of ``make(*data)``, drawn once per process for the same data."""
    import hashlib
    import json

    key = make.__name__ + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    if key not in _DRAWN:
        if len(_DRAWN) > 64:
            _DRAWN.clear()
        _DRAWN[key] = png_data_uri(make(*data))
    return _DRAWN[key]


def png_data_uri(fig) -> str:
    """The figure as a PNG data URI (no metadata: two renders of one report are byte-identical)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def colors(count: int) -> list:
    from matplotlib import colormaps

    if count > 20:  # more layers than a qualitative map has colours: spread them over a continuous one
        return [colormaps["turbo"](i / max(count - 1, 1)) for i in range(count)]
    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i) for i in range(count)]


def grouped_bars(ax, groups: dict[str, dict[str, float | None]], palette: list | None = None) -> list:
    """Bars side by side: one group per key of ``groups`` along x, one colour per series inside it; a None value
    draws no bar. Returns each series' bars."""
    series = list(dict.fromkeys(k for g in groups.values() for k in g))
    x, width = np.arange(len(groups)), 0.8 / max(len(series), 1)
    drawn = [ax.bar(x + (i - (len(series) - 1) / 2) * width, [np.nan if g.get(name) is None else g[name]
                                                               for g in groups.values()], width, label=name,
                    color=color) for i, (name, color) in enumerate(zip(series, palette or colors(len(series))))]
    _group_ticks(ax, x, list(groups))
    return drawn


def _group_ticks(ax, x, names) -> None:
    """Tick labels of grouped bars, slanted when they would overlap."""
    crowded = len(names) >= 8 or sum(len(str(n)) for n in names) > 60
    ax.set_xticks(x, names, rotation=25 if crowded else 0, ha="right" if crowded else "center", fontsize=8)


def _log_axis(axis, set_scale) -> None:
    """A log scale with major ticks only: placing and labelling minor ticks is most of a log figure's drawing time."""
    from matplotlib.ticker import NullLocator

    set_scale("log")
    axis.set_minor_locator(NullLocator())


def _pct(value):
    return np.nan if value is None else 100.0 * value


# ------------------------------------------------------------------------------------------------ accuracy

def accuracy_figure(groups: dict[str, dict[str, float | None]]):
    """Grouped bars: for each group (a target, a model) the accuracy (fraction) of each network in it."""
    percent = {group: {name: _pct(v) for name, v in values.items()} for group, values in groups.items()}
    fig = new_figure(2.6 + 0.1 * len(groups))
    ax = fig.add_subplot()
    for bars in grouped_bars(ax, percent):
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    low = np.nanmin([v for g in percent.values() for v in g.values()] + [100.0])
    ax.set_ylim(max(0.0, low - 10), 101)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(loc="lower right", fontsize=8)
    return fig


# ------------------------------------------------------------------------------------------------ spikes

def raster_figure(activity: dict):
    """The spikes of the first test sample: one band of rows per layer (a row per neuron shown), time step across;
    drawn as one image, a pixel per (neuron, step), so that rendering stays fast for any number of spikes."""
    layers = activity["layers"]
    steps = max(max(layer["steps"] for layer in layers), 1)
    gap = 3  # blank rows between layers
    bands, starts, row = [], [], 0
    for i, layer in enumerate(layers):
        raster = layer["raster"]
        band = np.zeros((raster["neurons_shown"], steps))
        band[raster["neuron"], raster["step"]] = i + 1
        bands += [band, np.zeros((gap, steps))]
        starts.append(row)
        row += raster["neurons_shown"] + gap
    image = np.concatenate(bands[:-1])
    from matplotlib.colors import ListedColormap

    fig = new_figure(min(12.0, 1.0 + image.shape[0] / 110))
    ax = fig.add_subplot()
    ax.imshow(image, cmap=ListedColormap(["white"] + colors(len(layers))), vmin=0, vmax=len(layers),
              interpolation="nearest", aspect="auto", extent=(-0.5, steps - 0.5, image.shape[0] - 0.5, -0.5))
    names = [f"{layer['layer']} ({len(layer['raster']['step'])} spikes; {layer['raster']['neurons_shown']} of "
             f"{layer['neurons']} neurons)" for layer in layers]
    ax.set_yticks([s + layer["raster"]["neurons_shown"] / 2 for s, layer in zip(starts, layers)], names, fontsize=7)
    for s in starts[1:]:
        ax.axhline(s - gap / 2 - 0.5, color="#bbbbbb", lw=0.5)
    ax.set_xlabel("time step")
    return fig


def histogram_figure(activity: dict):
    """Small multiples: per layer, how many neurons fire how often (mean spikes per test sample)."""
    layers = activity["layers"]
    columns = min(4, len(layers))
    rows = -(-len(layers) // columns)
    height = 0.3 + 1.7 * rows
    fig = new_figure(height, layout=None)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.45 / height, top=1 - 0.3 / height, wspace=0.3,
                        hspace=0.9 / 1.7)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, layer, color in zip(axes, layers, colors(len(layers))):
        hist = layer["spikes_per_neuron"]
        ax.stairs(hist["counts"], hist["edges"], fill=True, color=color)
        ax.set_title(f"{layer['layer']} ({layer['silent_neurons']} of {layer['neurons']} silent)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("spikes per sample", fontsize=7)
        ax.set_ylabel("neurons", fontsize=7)
    for ax in axes[len(layers):]:
        ax.set_axis_off()
    return fig


def layer_activity_figure(rows: list[dict]):
    """Per layer: spikes per sample of the float SNN and on the target (before / after quantization)."""
    fig = new_figure(2.8)
    ax = fig.add_subplot()
    grouped_bars(ax, {r["layer"]: {"float SNN": r.get("spikes_before"), "on the target": r.get("spikes_after")}
                      for r in rows}, ["#4c72b0", "#dd8452"])
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylabel("spikes per sample")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------------------------------------ cost

def energy_category(term: str) -> str:
    """Which of the page's four energy colours a backend's breakdown term belongs to."""
    if "synap" in term:
        return "synaptic"
    if any(word in term for word in ("message", "hop", "packet", "crossing", "rout")):
        return "routing"
    return "neuron"


CATEGORY_COLORS = {"static": "#8c8c8c", "synaptic": "#4c72b0", "neuron": "#55a868", "routing": "#c44e52"}


def cost_figure(rows: list[dict]):
    """Per target: energy per inference (log scale; the range as a whisker), the share of each energy term,
    latency (log; range whisker) and cores, side by side. ``rows``: {target, estimate}."""
    height = 1.3 + 0.42 * len(rows)
    fig = new_figure(height, WIDTH * 1.25, layout=None)
    fig.subplots_adjust(left=0.09, right=0.98, top=1 - 0.35 / height, bottom=0.75 / height, wspace=0.12)
    ax_energy, ax_share, ax_latency, ax_cores = fig.subplots(1, 4, sharey=True, width_ratios=(1.4, 1.2, 1, 0.8))
    y = np.arange(len(rows))
    for i, row in enumerate(rows):
        est = row["estimate"]
        _energy_bar(ax_energy, ax_share, i, est)
        _ranged_bar(ax_latency, i, est.get("latency_us"), est.get("latency_range_us"), "#937860")
        if est.get("cores") is not None:
            ax_cores.barh(i, est["cores"], color="#8172b3")
            ax_cores.text(est["cores"], i, f" {est['cores']}", va="center", fontsize=7)
    ax_energy.set_yticks(y, [r["target"] for r in rows])
    ax_energy.invert_yaxis()
    for ax, title in ((ax_energy, "energy per inference (µJ)"), (ax_latency, "latency per inference (µs)"),
                      (ax_cores, "cores")):
        _log_axis(ax.xaxis, ax.set_xscale)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in (ax_energy, ax_latency, ax_cores):  # room for the value written after each bar
        low, high = ax.get_xlim()
        ax.set_xlim(low, high * 4)
    ax_share.set_xlim(0, 100)
    ax_share.set_title("share of the energy (%)", fontsize=9)
    ax_share.tick_params(labelsize=7)
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color=c, label=k) for k, c in CATEGORY_COLORS.items()], loc="lower center", ncols=4,
               fontsize=8)
    return fig


def _energy_terms(est: dict) -> dict[str, float]:
    """Static energy and the dynamic terms by category; unknown (null) terms are left out."""
    terms = {"static": est.get("static_energy_uj") or 0.0}
    for term, value in (est.get("energy_breakdown_uj") or {}).items():
        if value is not None:
            category = energy_category(term)
            terms[category] = terms.get(category, 0.0) + value
    return terms


def _energy_bar(ax_energy, ax_share, i: int, est: dict) -> None:
    total = est.get("energy_uj")
    if total is None:
        return _unknown(ax_energy, i)
    terms, left = _energy_terms(est), 0.0
    known = sum(terms.values()) or 1.0
    for category, value in terms.items():  # stacked in linear units; the log axis stretches the small ones
        ax_energy.barh(i, value, left=left or None, color=CATEGORY_COLORS[category])
        ax_share.barh(i, 100 * value / known, left=100 * left / known, color=CATEGORY_COLORS[category])
        left += value
    _whisker(ax_energy, i, total, est.get("energy_range_uj"))


def _ranged_bar(ax, i: int, value, spread, color) -> None:
    if value is None:
        return _unknown(ax, i)
    ax.barh(i, value, color=color)
    _whisker(ax, i, value, spread)


def _unknown(ax, i: int) -> None:
    ax.text(0.02, i, "unknown", transform=ax.get_yaxis_transform(), va="center", fontsize=7)


def _whisker(ax, i: int, value: float, spread) -> None:
    """The [low, high] range of a bar's value as a whisker, and the value written after it."""
    if spread:
        ax.errorbar(value, i, xerr=[[value - spread[0]], [spread[1] - value]], fmt="none", ecolor="black", capsize=3,
                    lw=1)
    ax.text(spread[1] if spread else value, i, f"  {value:.3g}", va="center", fontsize=7)


def core_map_figure(core_map: dict):
    """The chip's cores as a grid per chip: coloured by layer (legend), or a number per chip (counts)."""
    if core_map["kind"] == "counts":
        return _counts_map(core_map)
    rows, columns, shown = core_map["rows"], core_map["columns"], core_map["chips_shown"]
    labels = core_map["labels"]
    panel = min(4.0, (WIDTH - 2.0) / shown)  # inches per chip; the legend takes the rest
    fig = new_figure(0.6 + panel * rows / max(columns, 1), min(WIDTH, panel * shown + 2.2))
    axes = fig.subplots(1, shown, squeeze=False)[0]
    palette = colors(len(labels))
    if labels and labels[-1] == "splitters":
        palette[-1] = (0.1, 0.1, 0.1, 1.0)
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap([UNUSED] + palette)
    for chip, ax in enumerate(axes):
        grid = np.zeros((rows, columns), int)
        for c, row, column, value in core_map["cells"]:
            if c == chip:
                grid[row, column] = value + 1
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=len(labels), interpolation="nearest", aspect="equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"chip {chip}", fontsize=8)
    from matplotlib.patches import Patch

    more = f"; {core_map['chips'] - shown} more chip(s) not drawn" if core_map["chips"] > shown else ""
    fig.legend(handles=[Patch(color=c, label=name) for name, c in zip(labels, palette)] +
               [Patch(color=UNUSED, label="unused")], loc="outside right upper", fontsize=7,
               title=f"layer{more}", title_fontsize=7)
    return fig


def _counts_map(core_map: dict):
    rows, columns = core_map["rows"], core_map["columns"]
    fig = new_figure(1.4 + 0.6 * rows, min(WIDTH, 3.5 + 0.6 * columns))
    ax = fig.add_subplot()
    grid = np.full((rows, columns), np.nan)
    for _, row, column, value in core_map["cells"]:
        grid[row, column] = value
    top = max(np.nanmax(grid), 1) if core_map["cells"] else 1
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=top, interpolation="nearest")
    for _, row, column, value in core_map["cells"]:  # dark text on the bright end of viridis
        ax.text(column, row, str(value), ha="center", va="center", fontsize=9,
                color="black" if value > 0.6 * top else "white")
    ax.set_xticks(range(columns))
    ax.set_yticks(range(rows))
    ax.set_xlabel("chip x")
    ax.set_ylabel("chip y")
    fig.colorbar(image, ax=ax, label=core_map["value_label"] or "")
    return fig


# ------------------------------------------------------------------------------------------------ sweeps

def curves_figure(series: dict[str, list[tuple[float, float]]], x_label: str, y_label: str, reference=None,
                  log_x: bool = False):
    """Lines through (x, y) points, one per series (e.g. accuracy over latency per coding); ``reference`` is a
    horizontal (label, y) line such as the ANN's accuracy."""
    fig = new_figure(2.8, WIDTH / 2)
    ax = fig.add_subplot()
    for (name, points), color in zip(series.items(), colors(len(series))):
        points = sorted(p for p in points if p[0] is not None and p[1] is not None)
        if points:
            ax.plot(*zip(*points), marker="o", ms=4, label=name, color=color)
    if reference is not None:
        ax.axhline(reference[1], color="black", ls="--", lw=1, label=reference[0])
    if log_x:  # windows and spike counts: plain numbers on the log axis, not powers of ten
        from matplotlib.ticker import FuncFormatter, NullFormatter

        _log_axis(ax.xaxis, ax.set_xscale)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        xs = sorted({p[0] for points in series.values() for p in points if p[0] is not None})
        if xs:
            ax.set_xticks(xs if len(xs) <= 8 else xs[:: -(-len(xs) // 8)])
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def bars_figure(values: dict[str, dict[str, float | None]], y_label: str, log: bool = False):
    """Grouped bars of any figure: groups (x) by series (colours); None is drawn as no bar."""
    fig = new_figure(2.8)
    ax = fig.add_subplot()
    series = grouped_bars(ax, values)
    if log:
        _log_axis(ax.yaxis, ax.set_yscale)
    ax.set_ylabel(y_label)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return fig
