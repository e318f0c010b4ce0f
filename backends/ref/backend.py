"""The reference target: the IR's own numpy semantics, float state, no chip limits.

It deploys any graph the IR can express and simulates it with ``neurodeploy.ir.reference``; its estimate
counts structure and activity (synaptic events) without energy, because no chip is modelled.
"""
from __future__ import annotations

from neurodeploy.backends.base import Backend
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.summary import summarize


def synaptic_events(g: Graph, activity) -> float:
    """Mean synaptic events per inference: each nonzero value that spikes deliver to a Conv/Gemm (directly, or
    after pooling, flattening or scaling) reaches the connections of its own element, counted per tap
    (neurodeploy.metrics); an analog encoding layer's inputs are not events."""
    from neurodeploy.metrics import compute

    from neurodeploy.sim.evaluate import spike_outputs, spiking_nodes

    trains = {v for n in spiking_nodes(g) for v in spike_outputs(n)} | {v for v, t in g.inputs.items() if t.timed}
    rows = compute(g, activity.input_activity)["layers"]
    return float(sum(r["events"] for r in rows if r["events"] is not None and _from_spikes(g, r["input"], trains)))


def _from_spikes(g: Graph, value: str, trains: set[str]) -> bool:
    """Whether ``value`` is one of the spike ``trains``, or one passed through scale/pool/flatten nodes."""
    while value not in trains:
        producer = g.producer(value)
        if producer is None or producer.op not in ("Mul", "AveragePool", "Flatten", "Reshape"):
            return False
        value = producer.inputs[0]
    return True


class ReferenceBackend(Backend):
    name = "ref"

    def passes(self):
        return []

    def check(self, g: Graph) -> list[str]:
        return self.unsupported_ops(g)

    def estimate(self, g: Graph, activity) -> dict:
        rows = summarize(g)
        figures = {
            "neurons": sum(r.neurons for r in rows),
            "synapses": sum(r.synapses for r in rows),
            "parameters": sum(r.parameters for r in rows),
        }
        if activity is not None:
            figures["spikes_per_inference"] = activity.spikes_per_inference
            figures["synaptic_events_per_inference"] = synaptic_events(g, activity)
        return figures
