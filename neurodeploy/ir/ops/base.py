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
    """One attribute: Python type ('float', 'int', 'str', 'bool', 'ints', 'floats'), default, choices.

    ``min``/``max`` bound every value (each entry of a list) and ``length`` fixes the number of entries of a
    list: declared here once, they protect every consumer (shape rules, references, backends) of every
    front-end from values such as a zero stride or a negative kernel size.
    """

    type: str
    default: Any = REQUIRED
    choices: tuple = ()
    doc: str = ""
    min: float | None = None
    max: float | None = None
    length: int | None = None


@dataclass(frozen=True)
class OpDef:
    """Definition of an IR op.

    ``infer(node, types, params, attrs)`` returns the output types; ``types[i]`` is None where input i is
    a parameter, ``params[i]`` is None where it is an activation. ``ref(args, attrs)`` is the numpy
    reference: it receives activations and parameters in input order and returns the outputs.
    ``param_inputs`` lists input positions that must be parameters (weights); ``n_inputs`` is (min, max), and
    ``n_outputs`` the (min, max) number of outputs ``ref`` can produce (optional outputs are counters).
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
    n_outputs: tuple[int, int] = (1, 1)


_CASTS: dict[str, Callable[[Any], Any]] = {
    "float": lambda v: float(np.float32(v)),  # ONNX float attributes are 32-bit
    "int": int,
    "str": str,
    "bool": bool,
    "ints": lambda v: tuple(int(x) for x in v),
    "floats": lambda v: tuple(float(np.float32(x)) for x in v),
}


def _valid_type(kind: str, value: Any) -> bool:
    if kind == "ints":
        return isinstance(value, (list, tuple, np.ndarray)) and all(
            isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in value)
    if kind == "floats":
        return isinstance(value, (list, tuple, np.ndarray)) and all(
            isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) for x in value
        )
    if kind == "float":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if kind == "int":
        return isinstance(value, (int, np.integer, bool))
    if kind == "bool":
        return isinstance(value, (bool, int, np.integer))
    return isinstance(value, str)


def _show(value: Any) -> str:
    """One short line for a message: an ONNX tensor or graph given as an attribute would print for pages."""
    simple = (bool, int, float, str, np.integer, np.floating)
    if isinstance(value, simple) or (isinstance(value, (list, tuple)) and all(isinstance(v, simple) for v in value)):
        text = repr(value)
    else:
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _value_problem(spec: Attr, value: Any) -> str | None:
    """What is wrong with a value of the right type: not finite, a wrong length, out of bounds, not a choice."""
    values = list(value) if spec.type in ("ints", "floats") else [value]
    if spec.type in ("float", "floats") and not all(np.isfinite(v) and abs(v) <= _FLOAT32_MAX for v in values):
        return "is not finite (NaN, Inf or beyond float32)"  # a NaN threshold compares false forever
    if spec.length is not None and len(values) != spec.length:
        return f"needs {spec.length} values, got {len(values)}"
    if spec.min is not None and any(v < spec.min for v in values):
        return f"must be >= {spec.min}"
    if spec.max is not None and any(v > spec.max for v in values):
        return f"must be <= {spec.max}"
    if spec.choices and _CASTS[spec.type](value) not in spec.choices:
        return f"is not one of {list(spec.choices)}"
    return None


def attr_problems(op: OpDef, node: Node) -> list[str]:
    """Every attribute problem of ``node`` against ``op``'s schema (unknown, missing, wrong type, bounds,
    length, not finite, choice)."""
    problems = [f"{node}: unknown attribute '{k}'" for k in node.attrs if k not in op.attrs]
    for key, spec in op.attrs.items():
        if key not in node.attrs:
            if spec.default is REQUIRED:
                problems.append(f"{node}: missing required attribute '{key}'")
            continue
        value = node.attrs[key]
        problem = _value_problem(spec, value) if _valid_type(spec.type, value) else f"is not of type {spec.type}"
        if problem:
            problems.append(f"{node}: attribute '{key}'={_show(value)} {problem}")
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
