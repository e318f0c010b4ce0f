"""The reference target: the IR's own numpy semantics, float state, no chip limits.

It deploys any graph the IR can express and simulates it with ``neurodeploy.ir.reference``; its estimate
counts structure and activity (synaptic events) without energy, because no chip is modelled.
"""
from __future__ import annotations

from neurodeploy.backends.base import Backend
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.summary import summarize


def synaptic_events(g: Graph, spikes_per_layer: dict[str, float]) -> float:
    """Mean synaptic events per inference: each spike into a Conv/Gemm reaches its average fan-out."""
    by_value = {n.outputs[0]: n.name for n in g.nodes if n.name in spikes_per_layer}
    fan_out = {}
    rows = {r.name: r for r in summarize(g)}
    for node in g.find("Conv", "Gemm"):
        source = _spiking_source(g, node.inputs[0], by_value)
        if source is not None:
            fan_in_neurons = g.types[node.inputs[0]].size
            fan_out[source] = fan_out.get(source, 0.0) + rows[node.name].synapses / max(fan_in_neurons, 1)
    return float(sum(spikes_per_layer[s] * f for s, f in fan_out.items()))


def _spiking_source(g: Graph, value: str, by_value: dict[str, str]) -> str | None:
    """The spiking node feeding ``value`` through scale/pool/flatten nodes, if any."""
    while value not in by_value:
        producer = g.producer(value)
        if producer is None or producer.op not in ("Mul", "AveragePool", "Flatten", "Reshape"):
            return None
        value = producer.inputs[0]
    return by_value[value]


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
            figures["synaptic_events_per_inference"] = synaptic_events(g, activity.spikes_per_layer)
        return figures
