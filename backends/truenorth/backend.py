"""The TrueNorth backend: a constraint-faithful model of the chip (no TrueNorth can run here).

Passes: average pooling becomes relay neurons (a small layer), then quantize to per-neuron codebooks over axon
types and lower to TrueNorthLayer ops. ``simulate`` is the tick-level integer simulation (the ops' reference); ``estimate`` maps
the layers onto cores (with partial, merge and splitter cores), places and routes them, and counts energy.
"""
from __future__ import annotations

from neurodeploy.backends.base import Backend
from neurodeploy.backends.truenorth.energy import estimate_energy
from neurodeploy.backends.truenorth.mapping import core_map, map_to_cores
from neurodeploy.backends.truenorth.quantize import lower_to_truenorth
from neurodeploy.ir.graph import Graph
from neurodeploy.passes.fold_pooling import pool_as_neurons
from neurodeploy.passes.layers import fold_neuron_bias


class TrueNorthBackend(Backend):
    name = "truenorth"

    def conversion_defaults(self) -> dict:
        # input spikes come from the host; linear reset = reset by subtraction; the 9-level weights and the partial
        # neurons need a longer window than 32 steps (digits CNN: 93.3 % at T=32, 98.4 % at T=64)
        return {"encoding": "bernoulli", "reset": self.spec.value("neuron.reset"), "num_steps": 64}

    def passes(self):
        return [fold_neuron_bias, pool_as_neurons, lower_to_truenorth]

    def check(self, g: Graph) -> list[str]:
        # the host sends the input spikes and counts the output spikes
        return self.placement_problems(g, host_io=("RateEncode", "SpikeCount", "PadSteps")) + map_to_cores(g, self.spec).violations

    def counters(self, g: Graph) -> dict[str, str]:
        """Per layer: 20-bit membrane saturations, and the spikes of its partial neurons."""
        out = {}
        for n in g.find("TrueNorthLayer"):
            out[n.outputs[1]] = n.name
            out[n.outputs[2]] = f"{n.name}:partial_spikes"
        return out

    def artifacts(self, g: Graph, estimate: dict) -> dict:
        import json

        return {"mapping.json": json.dumps(estimate.get("mapping", map_to_cores(g, self.spec).as_dict()), indent=1) + "\n"}

    def estimate(self, g: Graph, activity) -> dict:
        mapping = map_to_cores(g, self.spec)
        figures = {"cores": mapping.cores, "chips": mapping.chips, "splitter_cores": mapping.splitter_cores,
                   "utilization": mapping.utilization}
        if activity is not None:
            figures.update(estimate_energy(g, self.spec, mapping, activity))
            figures["spikes_per_inference"] = activity.spikes_per_inference
        figures["mapping"] = mapping.as_dict()
        figures["core_map"] = core_map(mapping, self.spec)
        return figures
