"""The IR graph: typed values, nodes in ONNX spelling, parameters as numpy arrays.

Conventions that every op, pass and backend relies on:

* Activation values carry a leading batch axis, ``[N, *shape]``. Values of a spiking network also carry a
  time axis in front of it, ``[T, N, *shape]`` (``TensorType.timed``). ``TensorType.shape`` is the
  per-sample shape, without N or T, so a graph is independent of batch size and number of steps.
* Parameters (weights, biases, BN statistics, reshape targets) live in ``Graph.params`` and are referenced
  by name from ``Node.inputs``, exactly as ONNX initializers are.
* Arrays in ``params`` are treated as immutable: a pass that changes a weight stores a new array.
* ``Graph.nodes`` is kept in topological order.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from neurodeploy.errors import GraphError


@dataclass(frozen=True)
class TensorType:
    """Type of one value: per-sample shape, element type, and whether it has a time axis."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    timed: bool = False

    def with_shape(self, shape: Iterable[int]) -> TensorType:
        return TensorType(tuple(int(d) for d in shape), self.dtype, self.timed)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __str__(self) -> str:
        axes = ("T, " if self.timed else "") + "N, " + ", ".join(str(d) for d in self.shape)
        return f"{self.dtype}[{axes}]"


def canonical_attr(value: Any) -> Any:
    """Attribute values as an ``.onnx`` file stores them: floats are float32, sequences are tuples.

    Rounding floats to float32 on the way in means a graph saved and loaded again is identical.
    """
    if isinstance(value, (float, np.floating)):
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, which the attribute schemas refuse
            return float(np.float32(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(canonical_attr(v) for v in value)
    return value


@dataclass
class Node:
    """One operation: ``op`` names an entry of the op registry (ONNX spelling where ONNX has the op).

    Attributes are canonicalized on construction (see :func:`canonical_attr`); passes that change an
    attribute later assign ``canonical_attr(value)``.
    """

    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.attrs = {k: canonical_attr(v) for k, v in self.attrs.items() if v is not None}

    def __str__(self) -> str:
        return f"{self.name} ({self.op})"


@dataclass
class Graph:
    """A dataflow graph over named values. See the module docstring for the axis conventions."""

    nodes: list[Node]
    inputs: dict[str, TensorType]
    outputs: list[str]
    params: dict[str, np.ndarray] = field(default_factory=dict)
    types: dict[str, TensorType] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = "graph"

    # ----------------------------------------------------------------- queries
    def copy(self) -> Graph:
        """Independent copy; parameter arrays are shared because passes never mutate them in place."""
        return Graph(
            nodes=[Node(n.op, n.name, list(n.inputs), list(n.outputs), copy.deepcopy(n.attrs)) for n in self.nodes],
            inputs=dict(self.inputs),
            outputs=list(self.outputs),
            params=dict(self.params),
            types=dict(self.types),
            meta=copy.deepcopy(self.meta),
            name=self.name,
        )

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise GraphError(f"graph '{self.name}' has no node named '{name}'")

    def find(self, *ops: str) -> list[Node]:
        return [n for n in self.nodes if n.op in ops]

    def producer(self, value: str) -> Node | None:
        for n in self.nodes:
            if value in n.outputs:
                return n
        return None

    def consumers(self, value: str) -> list[Node]:
        return [n for n in self.nodes if value in n.inputs]

    def is_param(self, value: str) -> bool:
        return value in self.params

    def param_of(self, node: Node, index: int) -> np.ndarray | None:
        """The parameter array at input position ``index`` of ``node``; None when absent or not a param."""
        if index >= len(node.inputs) or not node.inputs[index]:
            return None
        return self.params.get(node.inputs[index])

    def activation_inputs(self, node: Node) -> list[str]:
        return [v for v in node.inputs if v and v not in self.params]

    def value_names(self) -> set[str]:
        names = set(self.inputs) | set(self.params)
        for n in self.nodes:
            names.update(n.outputs)
        return names

    def unique_name(self, hint: str) -> str:
        taken = self.value_names() | {n.name for n in self.nodes}
        if hint not in taken:
            return hint
        i = 1
        while f"{hint}_{i}" in taken:
            i += 1
        return f"{hint}_{i}"

    # ------------------------------------------------------------------- edits
    def add_param(self, hint: str, array: np.ndarray) -> str:
        name = self.unique_name(hint)
        self.params[name] = np.asarray(array)
        return name

    def set_param(self, node: Node, index: int, array: np.ndarray) -> None:
        """Replace (or add, at the end) the parameter at input ``index`` of ``node`` with a private copy.

        A fresh name is used so that other nodes sharing the old parameter keep their value.
        """
        name = self.add_param(f"{node.name}_p{index}", array)
        while len(node.inputs) <= index:
            node.inputs.append("")
        node.inputs[index] = name
        self.drop_unused_params()

    def replace_uses(self, old: str, new: str) -> None:
        for n in self.nodes:
            n.inputs = [new if v == old else v for v in n.inputs]
        self.outputs = [new if v == old else v for v in self.outputs]

    def remove(self, node: Node) -> None:
        """Remove a single-output node whose output equals its first activation input (Identity-like)."""
        source = self.activation_inputs(node)[0]
        self.nodes.remove(node)
        self.replace_uses(node.outputs[0], source)
        self.types.pop(node.outputs[0], None)
        self.drop_unused_params()

    def insert_after(self, value: str, node: Node) -> None:
        """Insert ``node`` (which reads ``value``) so that every other consumer of ``value`` reads its output."""
        consumers = [n for n in self.nodes if value in n.inputs]
        for n in consumers:
            n.inputs = [node.outputs[0] if v == value else v for v in n.inputs]
        self.outputs = [node.outputs[0] if v == value else v for v in self.outputs]
        producer = self.producer(value)
        at = self.nodes.index(producer) + 1 if producer else 0
        self.nodes.insert(at, node)

    def drop_unused_params(self) -> None:
        used = {v for n in self.nodes for v in n.inputs}
        for name in [p for p in self.params if p not in used]:
            del self.params[name]

    def toposort(self) -> None:
        """Order nodes so that each comes after the producers of its inputs; raises on a cycle."""
        ready = set(self.inputs) | set(self.params)
        pending, ordered = list(self.nodes), []
        while pending:
            progress = [n for n in pending if all(v in ready or not v for v in n.inputs)]
            if not progress:
                stuck = ", ".join(str(n) for n in pending[:5])
                raise GraphError(f"graph '{self.name}' has a cycle or undefined inputs at: {stuck}")
            for n in progress:
                ordered.append(n)
                ready.update(n.outputs)
                pending.remove(n)
        self.nodes = ordered
