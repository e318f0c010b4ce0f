"""The SpiNNaker backends (spinnaker1, spinnaker2): sPyNNaker's integer arithmetic, different chip specs.

Passes: fold average pooling into the next layer, then quantize and lower to SpiNNaker ops. ``simulate`` is the
reference interpreter on those ops (16-bit ring buffers, s16.15 IF_curr_delta); the PyNN export runs the same
network on any PyNN simulator.
"""
from __future__ import annotations

from neurodeploy.backends.base import Backend
from neurodeploy.backends.spinnaker.energy import estimate_energy
from neurodeploy.backends.spinnaker.mapping import POPULATION_OPS, core_map, map_to_cores
from neurodeploy.backends.spinnaker.quantize import lower_to_spinnaker
from neurodeploy.ir.graph import Graph
from neurodeploy.passes.fold_pooling import fold_average_pool
from neurodeploy.passes.layers import fold_neuron_bias


class SpiNNakerBackend(Backend):
    """SpiNNaker through sPyNNaker's model; ``name`` is set by the spinnaker1/spinnaker2 subclasses."""

    def conversion_defaults(self) -> dict:
        # IF_curr_delta resets to v_reset (the spec says so); with reset to zero, max thresholds convert best
        return {"reset": self.spec.value("neuron.reset"), "percentile": 100.0}

    def passes(self):
        return [fold_neuron_bias, fold_average_pool, lower_to_spinnaker]

    def check(self, g: Graph) -> list[str]:
        return self.placement_problems(g, host_io=("PadSteps",)) + map_to_cores(g, self.spec).violations

    def counters(self, g: Graph) -> dict[str, str]:
        """Per layer: s16.15 saturations of the neurons and 16-bit ring-buffer saturations of their synapses."""
        out = {n.outputs[1]: n.name for n in g.find("SpiNNakerIF") if len(n.outputs) > 1}
        for n in g.find(*POPULATION_OPS):
            syn = g.producer(n.inputs[0]) if n.inputs[0] else None
            if syn is not None and len(syn.outputs) > 1:
                out[syn.outputs[1]] = f"{n.name}:ring_buffer_saturation"
        return out

    def artifacts(self, g: Graph, estimate: dict) -> dict:
        import json
        from functools import partial

        from neurodeploy.backends.spinnaker.pynn_export import export_pynn

        mapping = estimate.get("mapping", map_to_cores(g, self.spec).as_dict())
        return {"mapping.json": json.dumps(mapping, indent=1) + "\n", "pynn": partial(export_pynn, g)}

    def estimate(self, g: Graph, activity) -> dict:
        mapping = map_to_cores(g, self.spec)
        figures = {"cores": mapping.cores, "chips": mapping.chips, "boards": mapping.boards,
                   "router_entries_max_per_chip": mapping.router_entries_max,
                   "sdram_bytes_max_per_chip": mapping.sdram_bytes_max}
        if activity is not None:
            figures.update(estimate_energy(self.spec, mapping, activity, int(g.meta["num_steps"])))
            figures["spikes_per_inference"] = activity.spikes_per_inference
        figures["mapping"] = mapping.as_dict()
        figures["core_map"] = core_map(mapping, self.spec)
        return figures
