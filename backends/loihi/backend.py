"""The Loihi backends (loihi1, loihi2): same fixed-point arithmetic, different chip specs.

Passes: fold average pooling into the next layer, then quantize and lower to Loihi ops. The golden simulator
is the reference interpreter on those ops (bit-exact with Lava's fixed_pt models); ``neurodeploy run
--backend lava`` builds the same network from Lava processes and runs it for real.
"""
from __future__ import annotations

from neurodeploy.backends.base import Backend
from neurodeploy.backends.loihi.energy import UPDATES, estimate_energy
from neurodeploy.backends.loihi.mapping import core_map, map_to_cores
from neurodeploy.backends.loihi.quantize import lower_to_loihi
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.ops.ann import CURRENT_SUMS
from neurodeploy.passes.fold_pooling import fold_average_pool


class LoihiBackend(Backend):
    """Intel Loihi through Lava; ``name`` is set by the loihi1/loihi2 subclasses."""

    def conversion_defaults(self) -> dict:
        # Lava's LIF resets to 0 (the spec says so); with reset to zero, max-activation thresholds convert best
        return {"reset": self.spec.value("neuron.reset"), "percentile": 100.0}

    def passes(self):
        return [fold_average_pool, lower_to_loihi]

    def check(self, g: Graph) -> list[str]:
        """Unlowered layers, ops the chip cannot run, and mapping violations, all of them.

        Nodes without a time axis anywhere run once per sample on the host before the run (the input
        layer's transform), so any stateless op is fine there; every other node must be an op the spec lists.
        """
        unlowered = g.meta.get("loihi_unlowered", {})
        problems = [f"{name}: {why}" for name, why in unlowered.items()]
        explained = _layer_nodes(g, unlowered)  # an unlowered layer's own float ops need no second line each
        placement = [p for p in self.placement_problems(g, host_io=("PadSteps",)) if p.split(" (")[0] not in explained]
        return problems + placement + map_to_cores(g, self.spec).violations

    def counters(self, g: Graph) -> dict[str, str]:
        """Per-layer event outputs to sum during evaluation: 24-bit wrap-arounds and saturations (under the layer's
        name), and active neuron updates ('<layer>:updates', for the energy model)."""
        out = {n.outputs[1]: n.name for n in g.find("LoihiLIF") if len(n.outputs) > 1}
        for n in g.find("LoihiLIF", "LoihiVoltageReadout"):
            position = 2 if n.op == "LoihiLIF" else 1
            if len(n.outputs) > position:
                out[n.outputs[position]] = f"{n.name}:{UPDATES}"
        return out

    def artifacts(self, g: Graph, estimate: dict) -> dict:
        """The core mapping, and the lava-dl netx network (or why netx cannot hold it, e.g. residual adds)."""
        import json
        from functools import partial

        from neurodeploy.backends.loihi.netx_export import export_netx, netx_problem

        files = {"mapping.json": json.dumps(estimate.get("mapping", map_to_cores(g, self.spec).as_dict()),
                                            indent=1) + "\n"}
        problem = netx_problem(g)
        if problem:
            files["network.net.txt"] = f"no netx file: {problem}\n"
        else:
            files["network.net"] = partial(export_netx, g)
        return files

    def estimate(self, g: Graph, activity) -> dict:
        mapping = map_to_cores(g, self.spec)
        figures = {"cores": mapping.cores, "chips": mapping.chips}
        if activity is not None:
            figures.update(estimate_energy(g, self.spec, mapping, activity))
            figures["spikes_per_inference"] = activity.spikes_per_inference
        figures["mapping"] = mapping.as_dict()
        figures["core_map"] = core_map(mapping, self.spec)
        return figures


def _layer_nodes(g: Graph, neurons) -> set[str]:
    """The named neuron layers and the synapse nodes (Conv/Gemm, and the Add summing them) that feed them."""
    names = set(neurons)
    for node in g.nodes:
        if node.name in neurons:
            producer = g.producer(node.inputs[0])
            summed = producer is not None and producer.op in CURRENT_SUMS
            feeding = [producer] + ([g.producer(v) for v in producer.inputs] if summed else [])
            names.update(n.name for n in feeding if n is not None)
    return names
