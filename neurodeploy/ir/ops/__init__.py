"""The op registry: one explicit table from op name to its :class:`OpDef`. No discovery, no plugins."""
from __future__ import annotations

from neurodeploy.ir.ops.ann import ANN_OPS
from neurodeploy.ir.ops.base import NEURO_DOMAIN, REQUIRED, Attr, OpDef, attr_problems, resolve_attrs
from neurodeploy.ir.ops.loihi import LOIHI_OPS
from neurodeploy.ir.ops.loihi_temporal import LOIHI_TEMPORAL_OPS
from neurodeploy.ir.ops.neuron import NEURO_OPS
from neurodeploy.ir.ops.spinnaker import SPINNAKER_OPS
from neurodeploy.ir.ops.temporal import TEMPORAL_OPS
from neurodeploy.ir.ops.truenorth import TRUENORTH_OPS

OPS: dict[str, OpDef] = {op.name: op for op in ANN_OPS + NEURO_OPS + TEMPORAL_OPS + LOIHI_OPS + LOIHI_TEMPORAL_OPS
                         + TRUENORTH_OPS + SPINNAKER_OPS}

# What a model handed to neurodeploy may contain: ONNX's ANN ops and the float spiking ops (encoders, IF/LIF, readouts).
# Every other op (chip arithmetic, host-side fixed point, time padding) is made by neurodeploy's own passes.
MODEL_OPS: tuple[str, ...] = tuple(op.name for op in ANN_OPS) + tuple(
    op.name for op in NEURO_OPS if op.name not in ("Quantize", "PadSteps"))

__all__ = ["OPS", "MODEL_OPS", "OpDef", "Attr", "REQUIRED", "NEURO_DOMAIN", "attr_problems", "resolve_attrs"]
