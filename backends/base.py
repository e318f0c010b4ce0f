"""The backend interface: one small class per target chip.

A backend holds its chip spec and nothing else. The compile driver calls, in order: ``passes`` (target
passes: quantization to the chip's arithmetic, core mapping), ``check`` (every problem that prevents
deployment, each naming the layer and the numbers), ``simulate`` (run the compiled graph the way the chip
computes), ``estimate`` (energy, latency, cores from the spec and the measured activity).
"""
from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from neurodeploy.ir.graph import Graph
    from neurodeploy.passes import Pass
    from neurodeploy.sim.evaluate import Evaluation
    from neurodeploy.spec import ChipSpec


NEURON_MODELS = ("IF", "LIF", "TTFS", "SCTTFS")  # the IR's neuron ops that a chip runs natively or not


class Backend(abc.ABC):
    """A compilation target; ``name`` equals its folder under backends/ and its spec's name."""

    name: str = ""

    def __init__(self, spec: ChipSpec) -> None:
        self.spec = spec

    def unsupported_ops(self, g: Graph) -> list[str]:
        """One problem per node whose op the spec does not list in ``supported_ops``."""
        return [f"{n}: op {n.op} is not supported by target '{self.name}'" for n in g.nodes
                if n.op not in self.spec.supported_ops]

    def coding_problems(self, g: Graph) -> list[str]:
        """Neurons of ``g`` whose model the chip does not run natively (spec ``neuron.native_models``; a spec without
        that list, the reference, runs every model), each with the spec's reason."""
        neuron = self.spec.values.get("neuron", {})
        native = neuron.get("native_models")
        if native is None:
            return []
        foreign = [n for n in g.nodes if n.op in NEURON_MODELS and n.op not in native]
        reason = lambda op: (neuron.get("temporal_coding") if op in ("TTFS", "SCTTFS") else None) or \
            "not among its native neuron models"
        return [f"{n}: {n.op} neurons cannot run on target '{self.name}' (native: {', '.join(native)}): {reason(n.op)}"
                for n in foreign]

    def conversion_defaults(self) -> dict:
        """ConversionConfig fields this target needs unless the user set them (e.g. its reset mode)."""
        return {}

    def counters(self, g: Graph) -> dict[str, str]:
        """Values to sum per layer during evaluation (value name -> layer), e.g. overflow events."""
        return {}

    def artifacts(self, g: Graph, estimate: dict) -> dict:
        """Extra build files: name -> text, or a function that writes the file at the path it is given."""
        return {}

    @abc.abstractmethod
    def passes(self) -> list[Pass]:
        """Target passes run after conversion, in order."""

    @abc.abstractmethod
    def check(self, g: Graph) -> list[str]:
        """Every problem that prevents deploying ``g``; empty when it can be deployed."""

    def simulate(self, g: Graph, feeds: dict[str, np.ndarray], keep: Iterable[str] = ()) -> dict[str, np.ndarray]:
        """Run ``g`` as the target computes; same contract as ``neurodeploy.ir.reference.run``. The default is the
        reference interpreter: a target's lowered ops carry the chip's arithmetic in their references."""
        from neurodeploy.ir import reference

        return reference.run(g, feeds, keep)

    def placement_problems(self, g: Graph, host_io: tuple[str, ...] = ()) -> list[str]:
        """Nodes that neither the chip nor the host can run.

        A node touching a timed value runs on the chip and must be an op the spec lists; every other node runs on
        the host once per sample (before the run), which takes stateless ops only. ``host_io`` ops (e.g. the
        host's spike encoder and spike counter) are the host's whatever their values.
        """
        from neurodeploy.ir.check import infer_shapes
        from neurodeploy.ir.ops import OPS

        infer_shapes(g)
        on_chip = [n for n in g.nodes if n.op not in host_io
                   and any(v in g.types and g.types[v].timed for v in n.inputs + n.outputs)]
        problems = [f"{n}: op {n.op} cannot run on target '{self.name}'" for n in on_chip
                    if n.op not in self.spec.supported_ops]
        return problems + [f"{n}: op {n.op} cannot run on the host before the run" for n in g.nodes
                           if n not in on_chip and n.op not in host_io and OPS[n.op].kind != "ann"]

    @abc.abstractmethod
    def estimate(self, g: Graph, activity: Evaluation | None) -> dict:
        """Figures for the report (keys carry units); unknown spec values raise SpecError, never 0."""
