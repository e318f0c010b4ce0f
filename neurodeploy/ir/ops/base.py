"""OpDef: what one IR op means (attributes, shape rule, numpy reference) and attribute validation."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from neurodeploy.errors import GraphError
from neurodeploy.ir.graph import Node, TensorType

NEURO_DOMAIN = "ai.neurodeploy"
REQUIRED = object()

# Kinds decide how the reference runner treats the time axis:
#   "ann"     stateless and per step: a timed input [T, N, ...] is folded to [T*N, ...]
#   "neuron"  stateful over time: receives and returns [T, N, ...]
#   "encode"  [N, ...] -> [T, N, ...]
#   "readout" [T, N, ...] -> [N, ...]
KINDS = ("ann", "neuron", "encode", "readout")


@dataclass(frozen=True)
class Attr:
    """One attribute: Python type ('float', 'int', 'str', 'bool', 'ints', 'floats'), default, choices."""

    type: str
    default: Any = REQUIRED
    choices: tuple = ()
    doc: str = ""


@dataclass(frozen=True)
class OpDef:
    """Definition of an IR op.

    ``infer(node, types, params, attrs)`` returns the output types; ``types[i]`` is None where input i is
    a parameter, ``params[i]`` is None where it is an activation. ``ref(args, attrs)`` is the numpy
    reference: it receives activations and parameters in input order and returns the outputs.
    ``param_inputs`` lists input positions that must be parameters (weights); ``n_inputs`` is (min, max).
    """

    name: str
    kind: str
    n_inputs: tuple[int, int]
    infer: Callable[..., list[TensorType]]
    ref: Callable[[list[np.ndarray], dict], list[np.ndarray]]
    attrs: dict[str, Attr] = field(default_factory=dict)
    param_inputs: tuple[int, ...] = ()
    domain: str = ""
    doc: str = ""


_CASTS: dict[str, Callable[[Any], Any]] = {
    "float": lambda v: float(np.float32(v)),  # ONNX float attributes are 32-bit
    "int": int,
    "str": str,
    "bool": bool,
    "ints": lambda v: tuple(int(x) for x in v),
    "floats": lambda v: tuple(float(np.float32(x)) for x in v),
}


def _valid_type(kind: str, value: Any) -> bool:
    if kind in ("ints", "floats"):
        return isinstance(value, (list, tuple, np.ndarray)) and all(
            isinstance(x, (int, float, np.integer, np.floating)) for x in value
        )
    if kind == "float":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if kind == "int":
        return isinstance(value, (int, np.integer, bool))
    if kind == "bool":
        return isinstance(value, (bool, int, np.integer))
    return isinstance(value, str)


def attr_problems(op: OpDef, node: Node) -> list[str]:
    """Every attribute problem of ``node`` against ``op``'s schema (unknown, missing, wrong type, choice)."""
    problems = [f"{node}: unknown attribute '{k}'" for k in node.attrs if k not in op.attrs]
    for key, spec in op.attrs.items():
        if key not in node.attrs:
            if spec.default is REQUIRED:
                problems.append(f"{node}: missing required attribute '{key}'")
            continue
        value = node.attrs[key]
        if not _valid_type(spec.type, value):
            problems.append(f"{node}: attribute '{key}'={value!r} is not of type {spec.type}")
        elif spec.choices and _CASTS[spec.type](value) not in spec.choices:
            problems.append(f"{node}: attribute '{key}'={value!r} is not one of {list(spec.choices)}")
    return problems


def resolve_attrs(op: OpDef, node: Node) -> dict[str, Any]:
    """Attributes of ``node`` with defaults filled in and values cast to their declared types."""
    problems = attr_problems(op, node)
    if problems:
        raise GraphError(f"{node}: invalid attributes", problems)
    out = {}
    for key, spec in op.attrs.items():
        value = node.attrs.get(key, spec.default)
        out[key] = None if value is None else _CASTS[spec.type](value)
    return out
