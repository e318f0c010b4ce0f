"""Batched evaluation: run a graph over a whole data set in memory-bounded chunks.

Spiking graphs hold [T, N, ...] values, so the chunk size is chosen from the largest value per sample
times T, to keep the working set near ``memory_budget`` bytes whatever the network and number of steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from neurodeploy.errors import InputError
from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph

DEFAULT_MEMORY_BUDGET = 256 * 2**20


def chunk_size(g: Graph, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Samples per chunk so that the live values of one chunk stay near ``memory_budget`` bytes."""
    steps = int(g.meta.get("num_steps", 1))
    itemsize = lambda t: 8 if t.dtype.startswith("int") else 4
    per_sample = sum(t.size * (steps if t.timed else 1) * itemsize(t) for t in g.types.values())
    return int(max(1, min(4096, memory_budget // max(per_sample, 1))))


def as_feed(g: Graph, x: np.ndarray) -> np.ndarray:
    """Samples as data sets hold them ([N, ...], spike trains [N, T, ...]) in the layout a graph is fed
    ([T, N, ...] for a spike-train input)."""
    return np.moveaxis(x, 0, 1) if next(iter(g.inputs.values())).timed else x


def seeded_input(g: Graph, samples: int, rate: float = 0.3, seed: int = 7) -> np.ndarray:
    """A reproducible input for a network that comes without data (netx, NIR): spike trains with ``rate`` for a
    spike-input network, else values in [-1.5, 0.5) (around the input layer's threshold for the shipped netx
    networks' transforms)."""
    rng = np.random.default_rng(seed)
    t = next(iter(g.inputs.values()))
    if t.timed:  # the steps of the run, less those the host appends (PadSteps)
        from neurodeploy.passes.layers import padded_steps

        steps = g.meta["num_steps"] - padded_steps(g)
        return (rng.random((steps, samples) + t.shape) < rate).astype(np.float32)
    return rng.uniform(-1.5, 0.5, (samples,) + t.shape).astype(np.float32)


def run_batched(
    g: Graph,
    x: np.ndarray,
    keep: Iterable[str] = (),
    reduce: Callable[[str, np.ndarray], np.ndarray] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    simulate: Callable | None = None,
) -> dict[str, np.ndarray]:
    """Run ``g`` on ``x`` chunk by chunk; returns outputs and ``keep`` values concatenated over samples.

    ``reduce(name, array)`` shrinks each kept value per chunk before it is stored (e.g. a spike count); a reduction
    that returns a dict stores each of its arrays under its own key (several figures of one value);
    ``simulate(g, feeds, keep)`` replaces the reference interpreter (a backend's simulator).
    """
    from neurodeploy.ir import reference

    infer_shapes(g)
    simulate = simulate or reference.run
    input_name, input_type = next(iter(g.inputs.items()))
    sample_axis = 1 if input_type.timed else 0  # a spike-train input is [T, N, ...]
    from neurodeploy.progress import bar

    step = chunk_size(g, memory_budget)
    parts: dict[str, list[np.ndarray]] = {}
    samples = x.shape[sample_axis]
    with bar(samples, f"simulate {g.name}") as progress:
        for start in range(0, samples, step):
            chunk = x[:, start:start + step] if sample_axis else x[start:start + step]
            out = simulate(g, {input_name: chunk}, keep)
            for name, value in out.items():
                reduced = reduce(name, value) if reduce else value
                for key, part in (reduced.items() if isinstance(reduced, dict) else [(name, reduced)]):
                    parts.setdefault(key, []).append(part)
            progress.update(chunk.shape[sample_axis])
    # reduced values lead with the sample axis; unreduced timed values are [T, N, ...]
    axis = lambda name: 1 if reduce is None and name in g.types and g.types[name].timed else 0
    return {name: np.concatenate(chunks, axis=axis(name)) for name, chunks in parts.items()}


@dataclass
class Evaluation:
    """Accuracy of one graph on one labelled set, and spike activity when the graph spikes."""

    accuracy: float | None  # None when there are no labels
    predictions: np.ndarray
    num_samples: int
    spikes_per_layer: dict[str, float] = field(default_factory=dict)  # mean spikes per sample
    counts_per_layer: dict[str, float] = field(default_factory=dict)  # mean of extra counters per sample
    input_activity: dict = field(default_factory=dict)  # synapse input value -> metrics.InputActivity
    max_spikes_per_step: float | None = None  # mean over samples of the most neuron spikes in one step
    num_steps: int | None = None  # time steps the run took (a spiking graph)
    worst_spikes_per_step: float | None = None  # the largest of those per-sample peaks
    spikes_per_step: dict[str, list[float]] = field(default_factory=dict)  # layer -> mean spikes at each step
    spikes_per_neuron: dict[str, np.ndarray] = field(default_factory=dict)  # layer -> mean spikes per sample, by neuron
    first_sample_spikes: dict[str, np.ndarray] = field(default_factory=dict)  # layer -> sample 0's spikes [T, shown]

    @property
    def spikes_per_inference(self) -> float:
        return float(sum(self.spikes_per_layer.values()))


RASTER_NEURONS = 128  # neurons per layer whose first-sample spikes are kept, for a report's raster


def raster_neurons(neurons: int) -> np.ndarray:
    """The neurons of a layer a raster shows: all of a small layer, RASTER_NEURONS evenly spaced of a larger one."""
    return np.unique(np.linspace(0, neurons - 1, min(neurons, RASTER_NEURONS)).round().astype(np.int64))


SPIKING_OPS = ("RateEncode", "IF", "LIF", "LoihiLIF", "TrueNorthLayer", "SpiNNakerIF", "TTFS", "SCTTFS", "LoihiTTFS")
TWO_TRAIN_OPS = ("SCTTFS", "LoihiTTFS")  # encoding and calibration spikes are separate outputs


def spiking_nodes(g: Graph) -> list:
    return [n for n in g.nodes if n.op in SPIKING_OPS]


def spike_outputs(node) -> list[str]:
    """The spike trains a spiking node emits (SC-TTFS neurons: encoding and calibration trains)."""
    return [v for v in node.outputs[:2] if v] if node.op in TWO_TRAIN_OPS else node.outputs[:1]


class _ElementActivity:
    """Running sums over chunks for one value feeding a synapse layer: nonzero values per element over steps and
    samples (one array of the value's per-sample size, whatever the number of chunks), and whether some value was
    neither 0 nor ±1."""

    def __init__(self) -> None:
        self.nonzero, self.nonbinary = None, 0

    def add(self, a: np.ndarray, timed: bool) -> None:
        nonzero = a != 0
        counts = (nonzero.sum(axis=(0, 1)) if timed else nonzero.sum(axis=0)).astype(np.int64)
        self.nonzero = counts if self.nonzero is None else self.nonzero + counts
        if not self.nonbinary:  # one non-binary value decides it: later chunks need no check
            self.nonbinary = int(np.count_nonzero(nonzero & (a != 1) & (a != -1)))

    def result(self, samples: int):
        from neurodeploy.metrics import InputActivity

        return InputActivity(self.nonzero / max(samples, 1), self.nonbinary == 0)


def _peak_spikes_per_step(out: dict, trains: list[str]) -> tuple[float | None, float | None]:
    """max_t (spikes of every neuron layer at step t) per sample: its mean over the samples and its largest value;
    None without neuron spikes, or when the layers' trains differ in length (no common step index)."""
    per_step = [out[(v, "steps")] for v in trains]
    if not per_step or len({p.shape for p in per_step}) != 1:
        return None, None
    peaks = np.sum(per_step, axis=0).max(axis=1)
    return float(peaks.mean()), float(peaks.max())


def evaluate(g: Graph, x: np.ndarray, y: np.ndarray | None, simulate: Callable | None = None,
             counters: dict[str, str] | None = None) -> Evaluation:
    """Classify ``x`` with ``g`` (argmax of its first output) and count spikes of every spiking node, and the
    per-element activity of every synapse layer's input (neurodeploy.metrics).

    With ``y`` None only the activity is measured (accuracy None).

    ``counters`` maps further values (e.g. overflow events per neuron) to layer names; they are summed per
    sample like spikes and reported as ``counts_per_layer``.
    """
    from neurodeploy.metrics import activity_values

    spiking = {v: n.name for n in spiking_nodes(g) for v in spike_outputs(n)}
    neuron_trains = [v for n in spiking_nodes(g) if n.op != "RateEncode" for v in spike_outputs(n)]
    (input_name, input_type), = g.inputs.items()
    if input_type.timed:  # a spike input's spikes count like a RateEncode's, under the input's name (first)
        spiking = {input_name: input_name, **spiking}
    counters = counters or {}
    element_values = activity_values(g)
    activity = {v: _ElementActivity() for v in element_values}
    output = g.outputs[0]
    output_is_spikes = g.types[output].timed  # then classes are scored by spike counts

    neuron_totals: dict[str, np.ndarray] = {}  # spike train -> spikes per neuron summed over the samples so far
    first_sample: dict[str, np.ndarray] = {}  # spike train -> sample 0's spikes of its raster neurons [T, shown]

    def per_sample(name, a):  # figures of one chunk, keeping the samples apart where they are needed
        parts = {}
        if name == output:
            parts[name] = a.sum(axis=0) if output_is_spikes else a
        if name in spiking:  # spikes per step and sample, summed over neurons: [N, T]
            trains = a.reshape(a.shape[0], a.shape[1], -1)
            parts[(name, "steps")] = trains.sum(axis=2, dtype=np.float64).T
            per_neuron = trains.sum(axis=(0, 1), dtype=np.float64)
            neuron_totals[name] = neuron_totals[name] + per_neuron if name in neuron_totals else per_neuron
            if name not in first_sample:
                first_sample[name] = (trains[:, 0][:, raster_neurons(trains.shape[2])] != 0).astype(np.uint8)
        if name in counters:
            parts[(name, "count")] = a.reshape(a.shape[0], -1).sum(axis=1)
        if name in activity:
            activity[name].add(a, g.types[name].timed)
        return parts

    out = run_batched(g, x, keep=list(dict.fromkeys(list(spiking) + list(counters) + element_values)),
                      reduce=per_sample, simulate=simulate)
    samples = x.shape[1] if input_type.timed else len(x)
    scores = out[output].reshape(samples, -1)
    broken = ~np.isfinite(scores).all(axis=1)
    if broken.any():  # argmax of NaN/Inf scores is no prediction: say so instead of reporting an accuracy
        raise InputError(f"graph '{g.name}': its output '{output}' is NaN or Inf for {int(broken.sum())} of {samples} "
                         "samples (are its weights, biases or inputs far too large?)")
    predictions = scores.argmax(axis=1)
    spikes: dict[str, float] = {}
    per_step: dict[str, np.ndarray] = {}
    for v, layer in spiking.items():
        spikes[layer] = spikes.get(layer, 0.0) + float(out[(v, "steps")].sum(axis=1).mean())
        profile = out[(v, "steps")].mean(axis=0)
        per_step[layer] = per_step[layer] + profile if layer in per_step and len(per_step[layer]) == len(profile) \
            else profile
    counts = {counters[v]: float(out[(v, "count")].mean()) for v in counters}
    per_neuron, raster = _per_layer(spiking, neuron_totals, samples), _per_layer(spiking, first_sample)
    accuracy = None if y is None else float((predictions == y).mean())
    steps = {out[(v, "steps")].shape[1] for v in spiking}
    mean_peak, worst_peak = _peak_spikes_per_step(out, neuron_trains)
    return Evaluation(accuracy, predictions, samples, spikes, counts,
                      {v: a.result(samples) for v, a in activity.items()}, mean_peak,
                      max(steps) if steps else None, worst_peak, {k: v.tolist() for k, v in per_step.items()},
                      per_neuron, raster)


def _per_layer(spiking: dict[str, str], arrays: dict[str, np.ndarray], samples: int | None = None) -> dict:
    """Per-train arrays by layer: the trains of one layer (SC-TTFS: encoding and calibration) added up; divided by
    ``samples`` when given (a mean per sample)."""
    layers: dict[str, np.ndarray] = {}
    for value, layer in spiking.items():
        if value in arrays:
            a = arrays[value] / samples if samples else arrays[value]
            if layer in layers and layers[layer].shape != a.shape:  # the two trains of one layer have one type
                raise ValueError(f"layer {layer}: spike trains of shapes {layers[layer].shape} and {a.shape}")
            layers[layer] = layers[layer] + a if layer in layers else a
    return layers
