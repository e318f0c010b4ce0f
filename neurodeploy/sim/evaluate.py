"""Batched evaluation: run a graph over a whole data set in memory-bounded chunks.

Spiking graphs hold [T, N, ...] values, so the chunk size is chosen from the largest value per sample
times T, to keep the working set near ``memory_budget`` bytes whatever the network and number of steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph

DEFAULT_MEMORY_BUDGET = 256 * 2**20


def chunk_size(g: Graph, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Samples per chunk so that the live values of one chunk stay near ``memory_budget`` bytes."""
    steps = int(g.meta.get("num_steps", 1))
    per_sample = sum(t.size * (steps if t.timed else 1) * 4 for t in g.types.values())
    return int(max(1, min(4096, memory_budget // max(per_sample, 1))))


def run_batched(
    g: Graph,
    x: np.ndarray,
    keep: Iterable[str] = (),
    reduce: Callable[[str, np.ndarray], np.ndarray] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    simulate: Callable | None = None,
) -> dict[str, np.ndarray]:
    """Run ``g`` on ``x`` chunk by chunk; returns outputs and ``keep`` values concatenated over samples.

    ``reduce(name, array)`` shrinks each kept value per chunk before it is stored (e.g. a spike count);
    ``simulate(g, feeds, keep)`` replaces the reference interpreter (a backend's simulator).
    """
    from neurodeploy.ir import reference

    infer_shapes(g)
    simulate = simulate or reference.run
    input_name = next(iter(g.inputs))
    step = chunk_size(g, memory_budget)
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(x), step):
        out = simulate(g, {input_name: x[start:start + step]}, keep)
        for name, value in out.items():
            parts.setdefault(name, []).append(reduce(name, value) if reduce else value)
    return {name: np.concatenate(chunks, axis=0) for name, chunks in parts.items()}


@dataclass
class Evaluation:
    """Accuracy of one graph on one labelled set, and spike activity when the graph spikes."""

    accuracy: float
    predictions: np.ndarray
    num_samples: int
    spikes_per_layer: dict[str, float] = field(default_factory=dict)  # mean spikes per sample
    counts_per_layer: dict[str, float] = field(default_factory=dict)  # mean of extra counters per sample

    @property
    def spikes_per_inference(self) -> float:
        return float(sum(self.spikes_per_layer.values()))


SPIKING_OPS = ("RateEncode", "IF", "LIF", "LoihiLIF")


def spiking_nodes(g: Graph) -> list:
    return [n for n in g.nodes if n.op in SPIKING_OPS]


def evaluate(g: Graph, x: np.ndarray, y: np.ndarray, simulate: Callable | None = None,
             counters: dict[str, str] | None = None) -> Evaluation:
    """Classify ``x`` with ``g`` (argmax of its first output) and count spikes of every spiking node.

    ``counters`` maps further values (e.g. overflow events per neuron) to layer names; they are summed per
    sample like spikes and reported as ``counts_per_layer``.
    """
    spiking = {n.outputs[0]: n.name for n in spiking_nodes(g)}
    counters = counters or {}

    def per_sample(name, a):  # sum over time and neurons, keeping the sample axis
        if name in spiking:
            return a.reshape(a.shape[0], a.shape[1], -1).sum(axis=(0, 2))
        return a.reshape(a.shape[0], -1).sum(axis=1) if name in counters else a

    out = run_batched(g, x, keep=list(spiking) + list(counters), reduce=per_sample, simulate=simulate)
    predictions = out[g.outputs[0]].reshape(len(x), -1).argmax(axis=1)
    spikes = {spiking[v]: float(out[v].mean()) for v in spiking}
    counts = {counters[v]: float(out[v].mean()) for v in counters}
    return Evaluation(float((predictions == y).mean()), predictions, len(x), spikes, counts)
