"""Read NIR graphs (``.nir``, HDF5; nir 1.0.8's layout) into the IR's float SNN ops (docs/nir.md).

NIR describes neurons in continuous time and leaves the time step, the integration rule and the reset to each
consumer. This reader fixes them from its options (``dt``, ``integration``, ``reset``), else from the file's own
metadata, else from documented defaults, and records the choice in ``graph.meta['time']``. With ``f(tau)`` the
fraction of a state lost per step (``dt / tau`` for 'euler' and 'impulse', ``1 - exp(-dt / tau)`` for 'exact'):

* LIF ``tau dv/dt = (v_leak - v) + r I``: IR LIF, v_decay = f(tau), input gain f(tau) r, bias f(tau) v_leak.
* CubaLIF ``tau_syn dI/dt = -I + w_in S``, ``tau_mem dv/dt = (v_leak - v) + r I``: IR LIF, i_decay = f(tau_syn),
  v_decay = f(tau_mem), input gain f(tau_syn) f(tau_mem) r w_in (the current is updated first and the voltage
  reads the new current, as Norse, snnTorch and Loihi do), bias f(tau_mem) v_leak. Under 'impulse' the input
  enters the current as an impulse w_in x per step, without the f(tau_syn) factor (gain f(tau_mem) r w_in):
  Norse's LIFCell discretization, which its to_nir writes with w_in = 1.
* IF ``dv/dt = r I`` and Integrator (``I``): each input adds r x per step (spikes are impulses; what Norse's IAF,
  sinabs and the NIR paper's files assume), no dt. Threshold: a memoryless comparison x > threshold (a LIF
  with v_decay 1, whose reset to zero changes nothing, since v is replaced every step).
* LI (as the last node) and I become a MembraneReadout; spiking outputs get a SpikeCount.
Gains are folded into the weights and biases of the Affine/Linear/Conv that feeds the neuron (a Mul/Add is
inserted when nothing with weights does). A neuron spikes when v > v_threshold and resets at once, to zero
by default; a cycle neuron -> Affine/Linear -> same neuron is a recurrent synapse with one step of delay (as
nirtorch runs it). Per-neuron thresholds are folded into a per-neuron scale of the input, bias and recurrent
weights (v' = v * v_th / threshold_j leaves every spike unchanged); a uniform nonzero v_reset with reset to
zero becomes an offset (v' = v - v_reset). Neurons start at rest: v = v_leak (v_reset for IF), as in Norse.

Every problem of a file is collected and raised at once, each naming its node or edge: InputError for invalid
content (damaged HDF5, missing fields, NaN, shapes that do not chain, dangling edges), UnsupportedError for
valid NIR that the IR cannot express (Delay, CubaLI, other cycles, per-neuron time constants, ...).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from neurodeploy.errors import GraphError, InputError, NeurodeployError, UnsupportedError
from neurodeploy.frontend.nir_options import DEFAULT_DT, DEFAULT_RESET, INTEGRATIONS, RESETS  # noqa: F401 (API)
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType

DEFAULT_STEPS = 100  # steps per sample when neither an option nor a data set gives them
SPIKING = ("IF", "LIF", "CubaLIF", "Threshold")
READOUTS = ("LI", "I")
WEIGHTED = ("Affine", "Linear", "Conv1d", "Conv2d")
UNSUPPORTED_TYPES = {"Delay": "synaptic delays", "CubaLI": "current-based leaky integrators (CubaLI)"}
# Reader limits (not NIR facts): they keep a corrupt or hostile file from exhausting memory or the stack.
MAX_DATASET_ELEMENTS = 1 << 27
MAX_NEURONS = 1 << 24
MAX_NODES = 10_000
MAX_DEPTH = 8
MAX_STEPS = 100_000
PARSE_TIMEOUT_S = 120  # reading even the largest file this reader accepts takes seconds
UNIT_GAIN_TOLERANCE = 1e-6  # gains this close to 1 are the exporters' float rounding of an exact 1
METADATA_KEYS = {
    "dt": ("dt", "dt_s", "time_step", "timestep", "delta_t"),
    "reset": ("reset", "reset_method", "reset_mechanism"),
    "integration": ("integration", "discretization", "integrator"),
}
_RESET_WORDS = {"zero": "zero", "reset_value": "zero", "value": "zero", "subtract": "subtract",
                "reset_subtract": "subtract", "none": "none", **{k: k for k in RESETS}}

# field kinds: tensor (finite numbers), int, ints (scalar or 1-D), shape (1-D ints >= 1), pad (ints or a string)
_SCHEMA = {
    "Input": {"shape": "shape"},
    "Output": {"shape": "shape?"},
    "Affine": {"weight": "tensor", "bias": "tensor"},
    "Linear": {"weight": "tensor"},
    "Conv1d": {"weight": "tensor", "bias": "tensor", "stride": "ints", "padding": "pad", "dilation": "ints",
               "groups": "int", "input_shape": "ints?"},
    "Conv2d": {"weight": "tensor", "bias": "tensor", "stride": "ints", "padding": "pad", "dilation": "ints",
               "groups": "int", "input_shape": "ints?"},
    "Flatten": {"start_dim": "int", "end_dim": "int", "input_type": "shape?"},
    "SumPool2d": {"kernel_size": "ints", "stride": "ints", "padding": "ints"},
    "AvgPool2d": {"kernel_size": "ints", "stride": "ints", "padding": "ints"},
    "Scale": {"scale": "tensor"},
    "IF": {"r": "tensor", "v_threshold": "tensor", "v_reset": "tensor?"},
    "LIF": {"tau": "tensor", "r": "tensor", "v_leak": "tensor", "v_threshold": "tensor", "v_reset": "tensor?"},
    "CubaLIF": {"tau_syn": "tensor", "tau_mem": "tensor", "r": "tensor", "v_leak": "tensor",
                "v_threshold": "tensor", "v_reset": "tensor?", "w_in": "tensor?"},
    "LI": {"tau": "tensor", "r": "tensor", "v_leak": "tensor"},
    "I": {"r": "tensor"},
    "Threshold": {"threshold": "tensor"},
}
_TENSOR_FIELDS = {"weight", "bias", "scale", "r", "v_threshold", "v_reset", "tau", "tau_syn", "tau_mem", "v_leak",
                  "w_in", "threshold"}


@dataclass
class _Options:
    """What the caller asked for; None means: from the file's metadata, else the default."""

    dt: float | None
    integration: str | None
    reset: str | None
    num_steps: int | None


@dataclass
class _Node:
    """One NIR node as read: its path ('hidden/lif' inside subgraph 'hidden'), type, validated fields and
    metadata; a NIRGraph also holds its nodes (by local name) and edges."""

    path: str
    kind: str
    fields: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    nodes: dict | None = None
    edges: list | None = None


class _Problems:
    """Problems of one file, recorded rather than raised so that all are reported at once."""

    def __init__(self) -> None:
        self.invalid: list[str] = []
        self.unsupported: list[str] = []
        self.notes: list[str] = []
        self.warnings: list[str] = []

    def count(self) -> int:
        return len(self.invalid) + len(self.unsupported)

    def raise_if_any(self, path: Path) -> None:
        if self.invalid:
            extra = f" and {len(self.unsupported)} unsupported feature(s)" if self.unsupported else ""
            raise InputError(f"{path}: {len(self.invalid)} invalid NIR element(s){extra}",
                             self.invalid + self.unsupported)
        if self.unsupported:
            raise UnsupportedError(f"{path}: {len(self.unsupported)} NIR feature(s) neurodeploy cannot import",
                                   self.unsupported)


# ------------------------------------------------------------------ reading HDF5


def _text(value) -> str | None:
    """A string stored as bytes, str or a one-element array of either; None otherwise."""
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind not in "SUO":
            return None
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        try:
            return value.decode("utf8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def _dataset(group, key: str, where: str, p: _Problems):
    item = group.get(key)
    if not isinstance(item, h5py.Dataset):
        p.invalid.append(f"{where}/{key}: " + ("missing" if item is None else "is a group, expected a dataset"))
        return None
    if item.shape is None or item.size > MAX_DATASET_ELEMENTS:
        p.invalid.append(f"{where}/{key}: {'no' if item.shape is None else item.size} elements (this reader takes "
                         f"up to {MAX_DATASET_ELEMENTS})")
        return None
    value = item[()]
    return value if isinstance(value, (bytes, str)) else np.asarray(value)


def _tensor(value, name: str, p: _Problems) -> np.ndarray | None:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf":
        kind = "text" if _text(value) is not None else f"values of type {getattr(value, 'dtype', type(value))}"
        p.invalid.append(f"{name}: holds {kind}, expected numbers")
        return None
    with np.errstate(invalid="ignore", over="ignore"):  # a damaged file's odd dtypes; NaN/Inf are refused below
        value = value.astype(np.float64)
    if not np.isfinite(value).all():
        p.invalid.append(f"{name}: {int(np.isnan(value).sum())} NaN and {int(np.isinf(value).sum())} Inf of "
                         f"{value.size} values")
        return None
    return value


def _integers(value, name: str, p: _Problems, low: int, one: bool = False) -> tuple | None:
    """Integers >= low, from a scalar or a 1-D array (floats that hold integers are accepted)."""
    array = value if isinstance(value, np.ndarray) else None
    problem = None
    if array is None or array.dtype.kind not in "iuf" or array.ndim > 1 or array.size == 0:
        problem = f"holds {_described(value)}, expected {'an integer' if one else 'integers'}"
    elif array.dtype.kind == "f" and (not np.isfinite(array).all() or (array != np.round(array)).any()):
        problem = f"holds {array.reshape(-1).tolist()[:4]}, expected integers"
    elif one and array.size != 1:
        problem = f"holds {array.size} values, expected one"
    elif array.min() < low or array.max() > 1 << 40:
        problem = f"values {array.reshape(-1).tolist()[:4]} must be >= {low}"
    if problem:
        p.invalid.append(f"{name}: {problem}")
        return None
    return tuple(int(v) for v in array.reshape(-1))


def _described(value) -> str:
    if _text(value) is not None:
        return f"text ({_text(value)[:20]!r})"
    if isinstance(value, np.ndarray):
        return f"{value.dtype} values of shape {list(value.shape)}"
    return f"a {type(value).__name__}"


def _field(value, kind: str, name: str, p: _Problems):
    if kind == "tensor":
        return _tensor(value, name, p)
    if kind == "int":
        got = _integers(value, name, p, low=-(1 << 40), one=True)
        return None if got is None else got[0]
    if kind == "pad" and _text(value) is not None:
        text = _text(value)
        if text not in ("same", "valid"):
            p.invalid.append(f"{name}: padding '{text[:20]}' (NIR allows 'same', 'valid' or integers)")
            return None
        return text
    low = 1 if kind in ("shape", "ints") and not name.endswith("padding") else 0
    return _integers(value, name, p, low=low)


def _read_fields(group, node: _Node, p: _Problems) -> None:
    for key, kind in _SCHEMA[node.kind].items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if key not in group:
            if not optional:
                p.invalid.append(f"{node.path}/{key}: missing (required by NIR {node.kind})")
            continue
        value = _dataset(group, key, node.path, p)
        if value is not None:
            value = _field(value, kind, f"{node.path}/{key}", p)
        if value is not None:
            node.fields[key] = value


def _metadata(group, where: str, p: _Problems) -> dict:
    """Scalars and strings under ``metadata`` (NIR writes a group of datasets); anything else is skipped."""
    item = group.get("metadata")
    if not isinstance(item, h5py.Group):
        return {}
    out = {}
    for key in item:
        value = item[key]
        if not isinstance(value, h5py.Dataset) or value.shape is None or value.size > 16:
            continue
        raw = value[()]
        text = _text(raw)
        if text is not None:
            out[key] = text
        elif isinstance(raw, (np.ndarray, np.generic)) and np.asarray(raw).dtype.kind in "iufb" \
                and np.asarray(raw).size == 1:
            out[key] = np.asarray(raw).reshape(-1)[0].item()
    return out


def _read_node(item, path: str, depth: int, p: _Problems, count: list) -> _Node | None:
    """Read the group ``item`` (a node at ``path``); subgraphs recursively, up to MAX_DEPTH."""
    where = path or "node"
    count[0] += 1
    if count[0] > MAX_NODES:
        if count[0] == MAX_NODES + 1:
            p.invalid.append(f"more than {MAX_NODES} nodes (this reader's limit)")
        return None
    if not isinstance(item, h5py.Group):
        p.invalid.append(f"{where}: is a dataset, expected a node group")
        return None
    kind = _dataset(item, "type", where, p)
    kind = None if kind is None else _text(kind)
    if kind is None:
        if "type" in item and isinstance(item["type"], h5py.Dataset):
            p.invalid.append(f"{where}/type: is not a string naming a NIR node type")
        return None
    node = _Node(path, kind, meta=_metadata(item, where, p))
    if kind == "NIRGraph":
        return _read_graph(item, node, depth, p, count)
    if kind in UNSUPPORTED_TYPES:
        p.unsupported.append(f"{where}: NIR {kind} ({UNSUPPORTED_TYPES[kind]}) is not supported")
    elif kind not in _SCHEMA:
        p.unsupported.append(f"{where}: unknown NIR node type '{kind[:40]}' (supported: "
                             f"{', '.join(sorted(_SCHEMA))}, NIRGraph)")
    else:
        _read_fields(item, node, p)
    return node


def _read_graph(item, node: _Node, depth: int, p: _Problems, count: list) -> _Node | None:
    where = node.path or "node"
    if depth >= MAX_DEPTH:
        p.invalid.append(f"{where}: subgraphs nested more than {MAX_DEPTH} deep (this reader's limit)")
        return None
    nodes = item.get("nodes")
    if not isinstance(nodes, h5py.Group):
        p.invalid.append(f"{where}/nodes: " + ("missing" if nodes is None else "is a dataset, expected a group"))
        return None
    prefix = f"{node.path}/" if node.path else ""
    node.nodes = {}
    for name in nodes:
        child = _read_node(nodes[name], prefix + name, depth + 1, p, count)
        if child is not None:
            node.nodes[name] = child
    node.edges = _edges(item, where, p)
    return node


def _edges(item, where: str, p: _Problems) -> list[tuple[str, str]]:
    if "edges" not in item:
        p.invalid.append(f"{where}/edges: missing")
        return []
    raw = _dataset(item, "edges", where, p)
    if raw is None:
        return []
    if not isinstance(raw, np.ndarray) or raw.size == 0:
        return []
    if raw.ndim != 2 or raw.shape[1] != 2:
        p.invalid.append(f"{where}/edges: shape {list(raw.shape)}, expected [edges, 2] (source, destination)")
        return []
    edges = [(_text(a), _text(b)) for a, b in raw]
    bad = [i for i, e in enumerate(edges) if None in e]
    if bad:
        p.invalid.append(f"{where}/edges: entries {bad[:5]} are not pairs of node names")
    return [e for e in edges if None not in e]


# ------------------------------------------------------------------ flattening subgraphs


@dataclass
class _Flat:
    """The graph with subgraphs inlined: primitive nodes by path, edges between paths. Subgraph Input/Output
    nodes are pass-throughs (``through``), contracted away by :func:`_contract`."""

    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    through: dict = field(default_factory=dict)  # path -> declared shape (or None)
    feeds: dict = field(default_factory=dict)  # pass-through path -> the paths that fed it


def _ports(sub: _Node, kind: str) -> list[str]:
    return [n.path for n in sub.nodes.values() if n.kind == kind]


def _endpoint(graph: _Node, name: str, end: str, edge: tuple, p: _Problems) -> str | None:
    """The path an edge end names: a node of ``graph``, or a subgraph's single Input (as a destination) or
    Output (as a source); nirtorch's 'subgraph.node' spelling is accepted too."""
    where = f" in subgraph '{graph.path}'" if graph.path else ""
    local = graph.nodes.get(name)
    if local is None and "." in name:
        head, _, tail = name.partition(".")
        sub = graph.nodes.get(head)
        if sub is not None and sub.nodes is not None:
            return _endpoint(sub, tail, end, edge, p)
    if local is None:
        role = "source" if end == "src" else "destination"
        p.invalid.append(f"edge {edge}{where}: its {role} '{name}' is not a node of the "
                         f"{'subgraph' if graph.path else 'graph'} (nodes: {', '.join(sorted(graph.nodes)) or 'none'})")
        return None
    if local.nodes is None:
        return local.path
    kind = "Input" if end == "dst" else "Output"
    ports = _ports(local, kind)
    if len(ports) != 1:
        p.invalid.append(f"edge {edge}{where}: subgraph '{local.path}' has {len(ports)} {kind} nodes; an edge to "
                         f"the subgraph itself needs exactly one")
        return None
    return ports[0]


def _flatten(graph: _Node, flat: _Flat, p: _Problems, top: bool = True) -> None:
    for node in graph.nodes.values():
        if node.nodes is not None:
            _flatten(node, flat, p, top=False)
        elif node.kind in ("Input", "Output") and not top:
            flat.through[node.path] = node.fields.get("shape")
        else:
            flat.nodes[node.path] = node
    for edge in graph.edges:
        src = _endpoint(graph, edge[0], "src", edge, p)
        dst = _endpoint(graph, edge[1], "dst", edge, p)
        if src is not None and dst is not None:
            flat.edges.append((src, dst))


def _contract(flat: _Flat, p: _Problems) -> None:
    """Replace each subgraph Input/Output by edges from its sources to its destinations."""
    for path in flat.through:
        into = [a for a, b in flat.edges if b == path]
        out = [b for a, b in flat.edges if a == path]
        flat.feeds[path] = into
        if not into:
            p.invalid.append(f"{path}: this subgraph port receives no edge, so the subgraph is not connected")
        flat.edges = [e for e in flat.edges if path not in e] + [(a, b) for a in into for b in out]
    unique = list(dict.fromkeys(flat.edges))
    if len(unique) != len(flat.edges):
        p.notes.append(f"{len(flat.edges) - len(unique)} duplicate edge(s) counted once")
    flat.edges = unique


# ------------------------------------------------------------------ structure: ends, cycles, order


@dataclass
class _Structure:
    order: list  # paths in topological order (recurrent synapses left out)
    preds: dict  # path -> feed-forward source paths
    succs: dict  # path -> feed-forward destination paths
    recurrent: dict  # neuron path -> path of its recurrent Affine/Linear
    input: str
    output: str


def _ends(flat: _Flat, p: _Problems) -> tuple[str, str] | None:
    inputs = [n.path for n in flat.nodes.values() if n.kind == "Input"]
    outputs = [n.path for n in flat.nodes.values() if n.kind == "Output"]
    for kind, found in (("Input", inputs), ("Output", outputs)):
        if not found:
            p.invalid.append(f"the graph has no {kind} node" + (" (it is empty)" if not flat.nodes else ""))
        elif len(found) > 1:
            p.unsupported.append(f"{len(found)} {kind} nodes ({', '.join(found)}); neurodeploy graphs have one input "
                                 "and one readout")
    return (inputs[0], outputs[0]) if len(inputs) == len(outputs) == 1 else None


def _reachable(start: str, nxt: dict) -> set:
    seen, stack = {start}, [start]
    while stack:
        for m in nxt.get(stack.pop(), ()):
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return seen


def _components(nodes: list, succs: dict) -> list[list]:
    """Strongly connected components (iterative Tarjan, so deep graphs cannot exhaust the stack)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succs.get(root, ())))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.append(x)
                        if x == v:
                            break
                    out.append(comp)
            elif w not in index:
                index[w] = low[w] = counter[0]
                counter[0] += 1
                stack.append(w)
                on.add(w)
                work.append((w, iter(succs.get(w, ()))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def _recurrence(comp: list, flat: _Flat, succs: dict, preds: dict, p: _Problems) -> tuple | None:
    """(neuron, synapse) when a cycle is a recurrent layer: neuron -> Affine/Linear -> the same neuron, the
    synapse reading and feeding only that neuron; anything else is refused by its nodes."""
    kinds = {n: flat.nodes[n].kind for n in comp}
    if len(comp) == 2:
        neuron = next((n for n in comp if kinds[n] in ("IF", "LIF", "CubaLIF")), None)
        synapse = next((n for n in comp if kinds[n] in ("Affine", "Linear")), None)
        if neuron and synapse and preds[synapse] == [neuron] and succs[synapse] == [neuron]:
            return neuron, synapse
    loop = " -> ".join(f"'{n}' ({kinds[n]})" for n in sorted(comp))
    p.unsupported.append(f"cycle through {loop}: the only cycle neurodeploy imports is a recurrent layer, a spiking "
                         "neuron -> Affine/Linear -> the same neuron (with no other input to the Affine/Linear)")
    return None


def _structure(flat: _Flat, p: _Problems) -> _Structure | None:
    ends = _ends(flat, p)
    if ends is None:
        return None
    succs = {n: [] for n in flat.nodes}
    preds = {n: [] for n in flat.nodes}
    for a, b in flat.edges:
        succs[a].append(b)
        preds[b].append(a)
    reach = _reachable(ends[0], succs)
    for path, node in flat.nodes.items():
        if path not in reach and node.kind != "Input":
            p.invalid.append(f"{path} ({node.kind}): not reachable from the input '{ends[0]}'"
                             + ("" if preds[path] else ": no edge leads to it"))
    if ends[1] not in reach:
        return None
    live = reach & _reachable(ends[1], preds)
    dead = sorted(reach - live)
    if dead:
        p.notes.append(f"node(s) {', '.join(dead)} do not lead to the output '{ends[1]}' and are left out")
    succs = {n: [m for m in succs[n] if m in live] for n in live}
    preds = {n: [m for m in preds[n] if m in live] for n in live}
    recurrent = {}
    for comp in _components(sorted(live), succs):
        if len(comp) > 1 or comp[0] in succs[comp[0]]:
            found = _recurrence(comp, flat, succs, preds, p)
            if found:
                recurrent[found[0]] = found[1]
    if p.count():
        return None
    for neuron, synapse in recurrent.items():
        succs[neuron].remove(synapse)
        preds[neuron].remove(synapse)
        del succs[synapse], preds[synapse]
    return _Structure(_toposort(preds, succs), preds, succs, recurrent, ends[0], ends[1])


def _toposort(preds: dict, succs: dict) -> list:
    waiting = {n: len(v) for n, v in preds.items()}
    ready = sorted(n for n, k in waiting.items() if k == 0)
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in succs[n]:
            waiting[m] -= 1
            if waiting[m] == 0:
                ready.append(m)
    return order


# ------------------------------------------------------------------ time semantics


@dataclass
class _Time:
    dt: float
    integration: str
    reset: str
    meta: dict
    forced: bool = False  # the reset was an option: nodes' own metadata does not override it

    def node_reset(self, node: _Node) -> str:
        """A node's own reset metadata (neurodeploy's export writes one per neuron) wins over the graph's."""
        if not self.forced:
            for key, value in node.meta.items():
                if key.lower() in METADATA_KEYS["reset"] and _RESET_WORDS.get(str(value).lower()):
                    return _RESET_WORDS[str(value).lower()]
        return self.reset

    def fraction(self, tau: np.ndarray) -> np.ndarray:
        """The fraction of a state lost per step for time constant(s) ``tau`` (seconds)."""
        x = self.dt / tau
        return -np.expm1(-x) if self.integration == "exact" else x

    def current_gain(self, i_decay: float) -> float:
        """What a synaptic input is multiplied by on entering the current: f(tau_syn) when the current integrates
        it over the step ('euler', 'exact'), 1 when it arrives as an impulse ('impulse', Norse's LIFCell)."""
        return 1.0 if self.integration == "impulse" else i_decay


def _file_setting(root: _Node, flat: _Flat, key: str) -> list[tuple[str, object]]:
    """(where, value) of every metadata entry for ``key`` (dt, reset, integration) in the file."""
    found = []
    holders = [("graph metadata", root.meta)] + [(f"{n.path} metadata", n.meta) for n in flat.nodes.values()]
    for where, meta in holders:
        for name, value in meta.items():
            if name.lower() in METADATA_KEYS[key]:
                found.append((f"{where} '{name}'", value))
    return found


def _resolve_dt(opts: _Options, found: list, p: _Problems) -> tuple[float, str]:
    values = []
    for where, v in found:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0:
            values.append((where, float(v)))
        else:
            p.warnings.append(f"{where} = {v!r} is not a time step in seconds; ignored")
    if opts.dt is not None:
        for where, v in values:
            if not math.isclose(v, opts.dt, rel_tol=1e-9):
                p.warnings.append(f"the file's {where} says dt = {v:g} s, but dt = {opts.dt:g} s was asked for")
        return opts.dt, "option"
    if values:
        if len({v for _, v in values}) > 1:
            p.warnings.append("the file states several time steps ("
                              + ", ".join(f"{w} = {v:g}" for w, v in values) + "); the first is used")
        return values[0][1], f"file metadata ({values[0][0]})"
    return DEFAULT_DT, f"default ({DEFAULT_DT:g} s, the NIR paper's time step; give --dt to change it)"


def _resolve_reset(opts: _Options, found: list, p: _Problems) -> tuple[str, str]:
    words = []
    for w, v in found:
        word = _RESET_WORDS.get(str(v).lower()) if isinstance(v, str) else None
        if word is None:
            p.warnings.append(f"{w} = {v!r} is not a reset style neurodeploy knows ({', '.join(RESETS)}); ignored")
        else:
            words.append((w, word))
    return _choose("reset", opts.reset, words, p, DEFAULT_RESET,
                   "default (NIR's reset to v_reset on a spike, at once, as Norse and Lava run it)")


def _choose(what: str, asked, words: list, p: _Problems, default, why: str) -> tuple:
    """The option when given (warning about file metadata that says otherwise), else the file's, else the default;
    with where it came from."""
    if asked is not None:
        for w, word in words:
            if word != asked:
                p.warnings.append(f"the file's {w} says {what} '{word}', but {what} '{asked}' was asked for")
        return asked, "option"
    if words:
        return words[0][1], f"file metadata ({words[0][0]})"
    return default, why


def _resolve_integration(opts: _Options, found: list, p: _Problems) -> tuple[str, str]:
    words = [(w, str(v).lower()) for w, v in found if str(v).lower() in INTEGRATIONS]
    for w, v in found:
        if str(v).lower() not in INTEGRATIONS:
            p.warnings.append(f"{w} = {v!r} is not an integration rule neurodeploy knows ({', '.join(INTEGRATIONS)}); "
                              "ignored")
    return _choose("integration", opts.integration, words, p, "euler",
                   "default (forward Euler: decay dt / tau, as snnTorch's exports and Norse's from_nir assume)")


def _time(opts: _Options, root: _Node, flat: _Flat, p: _Problems) -> _Time:
    dt, dt_source = _resolve_dt(opts, _file_setting(root, flat, "dt"), p)
    reset, reset_source = _resolve_reset(opts, _file_setting(root, flat, "reset"), p)
    integration, integration_source = _resolve_integration(opts, _file_setting(root, flat, "integration"), p)
    meta = {"dt": dt, "integration": integration, "source": dt_source, "integration_source": integration_source,
            "reset": reset, "reset_source": reset_source, "fire_when": "gt",
            "rule": "per step: i = (1 - i_decay) i + gain x; v = (1 - v_decay) v + i + bias; spike when v > v_th; "
                    + {"immediate": "reset right after the spike",
                       "next_step": "reset applied in the next step's update (snnTorch)"}[RESETS[reset][1]],
            "notes": p.notes, "warnings": p.warnings}
    return _Time(dt, integration, reset, meta, forced=opts.reset is not None)


# ------------------------------------------------------------------ shapes of the primitive nodes


def _pair(values: tuple, n: int) -> tuple | None:
    if len(values) == 1:
        return values * n
    return values if len(values) == n else None


def _window(node: _Node, rank: int, p: _Problems) -> dict | None:
    """Stride, dilation and padding of a conv, as per-axis tuples (padding: (before, after) per axis)."""
    f, where, out = node.fields, node.path, {}
    for key in ("stride", "dilation"):
        out[key] = _pair(f[key], rank) if key in f else None
        if key in f and out[key] is None:
            p.invalid.append(f"{where}/{key}: {list(f[key])} has {len(f[key])} values, expected 1 or {rank}")
    pad = f.get("padding")
    kernel = f["weight"].shape[2:] if "weight" in f else None
    if isinstance(pad, str):
        if pad == "same" and out["stride"] and any(s != 1 for s in out["stride"]):
            p.invalid.append(f"{where}/padding: 'same' needs stride 1, got {list(out['stride'])}")
            return None
        if out["dilation"] is None or kernel is None:
            return None
        totals = [0 if pad == "valid" else out["dilation"][i] * (kernel[i] - 1) for i in range(rank)]
        out["padding"] = tuple((t // 2, t - t // 2) for t in totals)
    elif pad is not None:
        pairs = _pair(pad, rank)
        if pairs is None:
            p.invalid.append(f"{where}/padding: {list(pad)} has {len(pad)} values, expected 1 or {rank}")
            return None
        out["padding"] = tuple((v, v) for v in pairs)
    return out if None not in out.values() and len(out) == 3 else None


def _conv_shape(node: _Node, shape: tuple, rank: int, p: _Problems) -> tuple | None:
    f, where = node.fields, node.path
    w = f.get("weight")
    if w is None or "bias" not in f or "groups" not in f:
        return None
    if w.ndim != rank + 2 or 0 in w.shape:
        p.invalid.append(f"{where}/weight: shape {list(w.shape)}, expected {rank + 2} non-empty axes "
                         f"[out, in/groups, {'k' if rank == 1 else 'kh, kw'}]")
        return None
    win, groups = _window(node, rank, p), f["groups"]
    if win is None:
        return None
    if groups < 1 or w.shape[0] % groups:
        p.invalid.append(f"{where}/groups: {groups} does not divide the {w.shape[0]} output channels of weight "
                         f"{list(w.shape)}")
        return None
    if f["bias"].shape not in ((w.shape[0],), ()):
        p.invalid.append(f"{where}/bias: shape {list(f['bias'].shape)}, expected [{w.shape[0]}] for weight "
                         f"{list(w.shape)}")
        return None
    if len(shape) != rank + 1 or shape[0] != w.shape[1] * groups:
        p.invalid.append(f"{where}: takes [{w.shape[1] * groups}, {'L' if rank == 1 else 'H, W'}] inputs "
                         f"(weight {list(w.shape)}, groups {groups}), but receives {list(shape)}")
        return None
    declared = f.get("input_shape")
    if declared is not None and tuple(declared) != tuple(shape[1:]):
        p.invalid.append(f"{where}/input_shape: {list(declared)}, but its input has spatial shape {list(shape[1:])}")
    out = []
    for i in range(rank):
        before, after = win["padding"][i]
        span = win["dilation"][i] * (w.shape[2 + i] - 1) + 1
        out.append((shape[1 + i] + before + after - span) // win["stride"][i] + 1)
    if min(out) < 1:
        p.invalid.append(f"{where}: kernel {list(w.shape[2:])} does not fit its input {list(shape)}")
        return None
    return (w.shape[0], *out)


def _pool_shape(node: _Node, shape: tuple, p: _Problems) -> tuple | None:
    f, where = node.fields, node.path
    if not {"kernel_size", "stride", "padding"} <= set(f):
        return None
    k, s, pad = (_pair(f[key], 2) for key in ("kernel_size", "stride", "padding"))
    if None in (k, s, pad):
        p.invalid.append(f"{where}: kernel_size, stride and padding need 1 or 2 values each")
        return None
    if len(shape) != 3:
        p.invalid.append(f"{where}: pools [C, H, W] inputs, but receives {list(shape)}")
        return None
    if any(pad[i] >= k[i] for i in range(2)):
        p.invalid.append(f"{where}/padding: {list(pad)} must be smaller than the kernel {list(k)}")
        return None
    out = [(shape[1 + i] + 2 * pad[i] - k[i]) // s[i] + 1 for i in range(2)]
    if min(out) < 1:
        p.invalid.append(f"{where}: kernel {list(k)} does not fit its input {list(shape)}")
        return None
    node.fields["window"] = (k, s, pad)
    return (shape[0], *out)


def _flatten_shape(node: _Node, shape: tuple, p: _Problems) -> tuple | None:
    f, n = node.fields, len(shape)
    if "start_dim" not in f or "end_dim" not in f:
        return None
    start, end = (d + n if d < 0 else d for d in (f["start_dim"], f["end_dim"]))
    if not 0 <= start <= end < n:
        p.invalid.append(f"{node.path}: start_dim {f['start_dim']} / end_dim {f['end_dim']} do not select axes of "
                         f"its input {list(shape)} (NIR counts axes without the batch axis)")
        return None
    declared = f.get("input_type")
    if declared is not None and tuple(declared) != tuple(shape) and tuple(declared) != (1, *shape):
        p.invalid.append(f"{node.path}/input_type: {list(declared)}, but its input has shape {list(shape)}")
    return shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]


def _matrix_shape(node: _Node, shape: tuple, p: _Problems) -> tuple | None:
    w = node.fields.get("weight")
    if w is None:
        return None
    if w.ndim != 2 or 0 in w.shape:
        p.invalid.append(f"{node.path}/weight: shape {list(w.shape)}, expected [out, in]")
        return None
    bias = node.fields.get("bias")
    if node.kind == "Affine" and bias is not None and bias.shape not in ((w.shape[0],), ()):
        p.invalid.append(f"{node.path}/bias: shape {list(bias.shape)}, expected [{w.shape[0]}] for weight "
                         f"{list(w.shape)}")
        return None
    if shape != (w.shape[1],):
        hint = " (a Flatten is missing before it)" if len(shape) > 1 and np.prod(shape) == w.shape[1] else ""
        p.invalid.append(f"{node.path}: weight {list(w.shape)} takes [{w.shape[1]}] inputs, but receives "
                         f"{list(shape)}{hint}")
        return None
    return (w.shape[0],)


def _elementwise_shape(node: _Node, shape: tuple, p: _Problems) -> tuple | None:
    """Neurons and Scale keep their input's shape; each parameter must have it (or broadcast to it)."""
    for key, value in node.fields.items():
        if key not in _TENSOR_FIELDS:
            continue
        try:
            ok = np.broadcast_shapes(value.shape, shape) == tuple(shape)
        except ValueError:
            ok = False
        if not ok:
            p.invalid.append(f"{node.path}/{key}: shape {list(value.shape)}, but the node receives {list(shape)}")
            return None
    missing = [k for k, kind in _SCHEMA[node.kind].items() if not kind.endswith("?") and k not in node.fields]
    return None if missing else shape


# ------------------------------------------------------------------ neuron parameters


@dataclass
class _Neuron:
    """An NIR neuron as an IR neuron: op and attributes, and what its input must be multiplied by (``gain``)
    and added (``constant``, per step) before it; ``bias`` is added to v every step."""

    op: str
    attrs: dict
    gain: np.ndarray
    bias: np.ndarray | None = None
    constant: np.ndarray | None = None


def _uniform(value: np.ndarray) -> bool:
    return float(np.ptp(value)) <= 1e-6 * max(float(np.abs(value).max()), 1e-30)


def _decay(node: _Node, key: str, shape: tuple, time: _Time, p: _Problems) -> float | None:
    tau = np.broadcast_to(node.fields[key], shape)
    if (tau <= 0).any():
        p.invalid.append(f"{node.path}/{key}: time constants must be > 0 s, got {float(tau.min()):g}")
        return None
    if not _uniform(tau):
        p.unsupported.append(f"{node.path}/{key}: time constants range {float(tau.min()):g}..{float(tau.max()):g} s "
                             f"over the layer; the IR has one decay per layer")
        return None
    value = float(tau.reshape(-1)[0])
    fraction = float(time.fraction(np.array(value)))
    if fraction > 1:
        p.invalid.append(f"{node.path}/{key}: dt / tau = {time.dt:.9g} s / {value:.9g} s = {fraction:.9g} > 1: the "
                         "Euler decay diverges (use a smaller --dt or --integration exact; a file from Norse 1.1.0's "
                         "to_nir with dt != 1 holds tau = dt x tau_mem: export with dt=1.0, docs/nir.md)")
        return None
    return fraction


def _scaled_threshold(node: _Node, theta: np.ndarray, p: _Problems) -> tuple[float, np.ndarray] | None:
    """One IR threshold and the per-neuron scale c = v_th / theta_j that makes every neuron's threshold v_th."""
    if (theta <= 0).any():
        p.unsupported.append(f"{node.path}: thresholds (above the reset value) must be > 0, got "
                             f"{float(theta.min()):g}; a neuron with threshold <= its reset would fire at rest")
        return None
    if _uniform(theta):
        return float(theta.reshape(-1)[0]), np.ones_like(theta)
    v_th = float(theta.max())
    p.notes.append(f"{node.path}: per-neuron thresholds {float(theta.min()):g}..{v_th:g} folded into a per-neuron "
                   f"scale of its input, bias and recurrent weights (IR threshold {v_th:g})")
    return v_th, v_th / theta


def _offset(node: _Node, shape: tuple, reset: str, p: _Problems) -> float | None:
    """The potential that reset-to-zero must reach: NIR's v_reset, uniform over the layer."""
    v_reset = np.broadcast_to(node.fields.get("v_reset", np.zeros(())), shape)
    if not v_reset.any():
        return 0.0
    if reset in ("subtract", "none"):
        p.notes.append(f"{node.path}: v_reset is not used by reset '{reset}'")
        return 0.0
    if not _uniform(v_reset):
        p.unsupported.append(f"{node.path}/v_reset: differs between neurons ({float(v_reset.min()) + 0:g}.."
                             f"{float(v_reset.max()) + 0:g}); only one reset value per layer can become an offset")
        return None
    return float(v_reset.reshape(-1)[0])


def _rest(node: _Node, shape: tuple, offset: float, scale: np.ndarray, p: _Problems) -> float:
    """v at step 0: the node's metadata 'v_init' (neurodeploy's export), else at rest (v_leak; v_reset for IF)."""
    if isinstance(node.meta.get("v_init"), (int, float)):
        start = np.full(shape, float(node.meta["v_init"]))
    elif node.kind == "IF":
        start = np.full(shape, offset)
    else:
        start = np.broadcast_to(node.fields["v_leak"], shape)
    value = scale * (start - offset)
    if not value.any():
        return 0.0
    if not _uniform(value):
        p.notes.append(f"{node.path}: starts at 0 rather than at its rest potential, which differs between neurons "
                       "(the IR has one initial potential per layer)")
        return 0.0
    return float(value.reshape(-1)[0])


def _spiking(node: _Node, shape: tuple, time: _Time, p: _Problems) -> _Neuron | None:
    f, start = node.fields, p.count()
    if node.kind == "Threshold":
        return _threshold(node, shape)
    reset, timing = RESETS[time.node_reset(node)]
    offset = _offset(node, shape, reset, p)
    v_decay = 0.0 if node.kind == "IF" else _decay(node, "tau" if node.kind == "LIF" else "tau_mem", shape, time, p)
    i_decay = _decay(node, "tau_syn", shape, time, p) if node.kind == "CubaLIF" else 1.0
    scaled = None if offset is None else _scaled_threshold(
        node, np.broadcast_to(f["v_threshold"], shape) - offset, p)
    if p.count() > start or None in (v_decay, i_decay, scaled):
        return None
    v_th, c = scaled
    gain = c * np.broadcast_to(f["r"], shape)
    if node.kind != "IF":
        w_in = np.broadcast_to(f.get("w_in", np.ones(())), shape)
        gain = gain * v_decay * time.current_gain(i_decay) * w_in
        if node.kind == "CubaLIF" and time.integration == "euler" and i_decay < 1 and (w_in == 1).all():
            p.notes.append(f"{node.path}: CubaLIF with w_in = 1: if this is Norse's to_nir of a LIFCell (which writes "
                           "w_in = 1), read it with --integration impulse to match Norse's own spikes")
    bias = None if node.kind == "IF" else c * v_decay * (np.broadcast_to(f["v_leak"], shape) - offset)
    attrs = {"v_th": v_th, "reset": reset, "reset_timing": timing, "v_init": _rest(node, shape, offset, c, p),
             **_extensions(node, p)}
    if node.kind == "IF":
        return _Neuron("IF", attrs, gain, bias)
    attrs.update(v_decay=v_decay, i_decay=i_decay, dt=time.dt)
    return _Neuron("LIF", attrs, gain, bias)


def _extensions(node: _Node, p: _Problems) -> dict:
    """Node metadata neurodeploy's export writes for what NIR cannot say: fire_when 'ge', refractory steps."""
    out = {"fire_when": "gt"}
    fire, refractory = node.meta.get("fire_when"), node.meta.get("refractory")
    if fire is not None:
        if fire in ("ge", "gt"):
            out["fire_when"] = fire
        else:
            p.warnings.append(f"{node.path} metadata 'fire_when' = {fire!r} is not 'ge' or 'gt'; ignored")
    if refractory is not None:
        if isinstance(refractory, int) and not isinstance(refractory, bool) and 0 <= refractory <= MAX_STEPS:
            out["refractory"] = refractory
        else:
            p.warnings.append(f"{node.path} metadata 'refractory' = {refractory!r} is not a number of steps; ignored")
    return out


def _threshold(node: _Node, shape: tuple) -> _Neuron:
    """x > threshold as a memoryless LIF (v_decay 1); other thresholds than one positive value per layer become
    a bias: x + (1 - threshold_j) > 1. v is replaced every step, so the reset changes no spike: it is 'zero',
    which every target lowers (Loihi has no 'none')."""
    threshold = np.broadcast_to(node.fields["threshold"], shape)
    uniform = _uniform(threshold) and float(threshold.reshape(-1)[0]) > 0
    v_th = float(threshold.reshape(-1)[0]) if uniform else 1.0
    attrs = {"v_th": v_th, "reset": "zero", "reset_timing": "immediate", "fire_when": "gt", "v_decay": 1.0,
             "i_decay": 1.0}
    return _Neuron("LIF", attrs, np.ones(shape), None if uniform else 1.0 - threshold)


def _readout(node: _Node, shape: tuple, time: _Time, p: _Problems) -> _Neuron | None:
    """LI (v_decay f(tau), gain f(tau) r, v_leak as a constant input) or Integrator (gain r)."""
    r = np.broadcast_to(node.fields["r"], shape)
    if node.kind == "I":
        return _Neuron("MembraneReadout", {"v_decay": 0.0}, r)
    b = _decay(node, "tau", shape, time, p)
    if b is None:
        return None
    v_leak = np.broadcast_to(node.fields["v_leak"], shape)
    if v_leak.any():
        p.notes.append(f"{node.path}: the readout starts at 0, not at its rest v_leak (MembraneReadout starts at 0)")
    return _Neuron("MembraneReadout", {"v_decay": b}, b * r, constant=b * v_leak if v_leak.any() else None)


def _snap(gain: np.ndarray, where: str, p: _Problems) -> np.ndarray:
    """Gains within float rounding of 1 (snnTorch writes r = tau/dt and w_in = tau_syn/dt) are exactly 1."""
    near = np.abs(gain - 1.0) <= UNIT_GAIN_TOLERANCE
    if near.any() and (np.abs(gain[near] - 1.0) > 1e-12).any():
        worst = float(np.abs(gain[near] - 1.0).max())
        p.notes.append(f"{where}: input gain 1 +- {worst:.1e} (the exporter's rounding) taken as exactly 1")
        gain = np.where(near, 1.0, gain)
    return gain


# ------------------------------------------------------------------ lowering to the IR


class _Lowering:
    """Builds the IR graph in topological order; shape problems are recorded and mark the value broken."""

    def __init__(self, path: Path, flat: _Flat, st: _Structure, time: _Time, p: _Problems) -> None:
        self.flat, self.st, self.time, self.p = flat, st, time, p
        self.g = Graph([], {}, [], name=path.stem)
        self.shape: dict = {}  # path -> per-sample output shape (None: broken)
        self.value: dict = {}  # path -> IR value
        self.scale: dict = {}  # path -> scalar its value must still be multiplied by (SumPool's k*k)
        self.weights: dict = {}  # path -> the IR Gemm/Conv holding its weights
        self.spiking: set = set()

    def run(self) -> None:
        for path in self.st.order:
            node = self.flat.nodes[path]
            if node.kind == "Input":
                self._input(node)
                continue
            shape = self._in_shape(node)
            if shape is None:
                self.shape[path] = None
                continue
            start = self.p.count()
            self.shape[path] = self.LOWER[node.kind](self, node, shape)
            if self.p.count() > start:
                self.shape[path] = None
        self._check_through()
        self.g.drop_unused_params()  # the weights replaced when gains were folded in

    # --- plumbing

    def _add(self, op: str, name: str, inputs: list, attrs: dict | None = None) -> str:
        out = self.g.unique_name(name)
        self.g.nodes.append(Node(op, out, inputs, [out], attrs or {}))
        return out

    def _param(self, hint: str, array) -> str:
        return self.g.add_param(hint, np.asarray(array, np.float32))

    def _in_shape(self, node: _Node) -> tuple | None:
        preds = self.st.preds[node.path]
        shapes = [self.shape.get(a) for a in preds]
        if None in shapes:
            return None
        if len(set(shapes)) > 1:
            self.p.invalid.append(f"edges into '{node.path}' bring different shapes: "
                                  + ", ".join(f"('{a}', '{node.path}') {list(s)}" for a, s in zip(preds, shapes)))
            return None
        return shapes[0]

    def _source(self, node: _Node, materialize: bool = True) -> tuple[str, float]:
        """The IR value node reads (the sum of its sources) and the scale still owed on it."""
        preds = self.st.preds[node.path]
        if len(preds) == 1:
            value, scale = self.value[preds[0]], self.scale.get(preds[0], 1.0)
            if scale != 1.0 and materialize:
                return self._mul(value, np.array(scale), f"{preds[0]}_scale"), 1.0
            return value, scale
        total = self._scaled(preds[0])
        for other in preds[1:]:
            total = self._add("Add", f"{node.path}_sum", [total, self._scaled(other)])
        return total, 1.0

    def _scaled(self, path: str) -> str:
        scale = self.scale.get(path, 1.0)
        return self.value[path] if scale == 1.0 else self._mul(self.value[path], np.array(scale), f"{path}_scale")

    def _mul(self, value: str, factor: np.ndarray, name: str) -> str:
        return self._add("Mul", name, [value, self._param(f"{name}.factor", factor)])

    def _emit(self, node: _Node, value: str, shape: tuple, scale: float = 1.0) -> tuple:
        self.value[node.path], self.scale[node.path] = value, scale
        return shape

    def _check_through(self) -> None:
        """A subgraph Input/Output's declared shape is informative only (rockpool writes the graph's input size
        there); a disagreement is a warning, and the shapes the weights give are used."""
        for path, declared in self.flat.through.items():
            source = path
            while source in self.flat.feeds and self.flat.feeds[source]:
                source = self.flat.feeds[source][0]
            actual = self.shape.get(source)
            if declared is not None and actual is not None and tuple(declared) != tuple(actual):
                self.p.warnings.append(f"subgraph node '{path}' declares shape {list(declared)}, but carries "
                                       f"{list(actual)}; the declared shape is ignored")

    # --- ends

    def _input(self, node: _Node) -> None:
        shape = node.fields.get("shape")
        if shape is None:
            self.shape[node.path] = None
            return
        shape = self._batchless(node, tuple(shape))
        if np.prod(np.array(shape, float)) > MAX_NEURONS:
            self.p.invalid.append(f"{node.path}/shape: {list(shape)} is more than {MAX_NEURONS} values per step")
            self.shape[node.path] = None
            return
        self.g.inputs[node.path] = TensorType(shape, timed=True)
        self.shape[node.path], self.value[node.path] = shape, node.path

    def _batchless(self, node: _Node, shape: tuple) -> tuple:
        """nirtorch 2.6's tracer (Norse's to_nir, snnTorch's export) writes the sample's batch axis of 1 into the
        Input's shape; it is dropped when a first layer reads the shape without it, and not with it."""
        if len(shape) < 2 or shape[0] != 1:
            return shape
        rest = shape[1:]
        for b in self.st.succs[node.path]:
            first = self.flat.nodes[b]
            w = first.fields.get("weight")
            if w is None or w.ndim < 2:
                continue
            if first.kind in ("Affine", "Linear"):
                fits = rest == (w.shape[1],)
            else:
                fits = len(rest) == w.ndim - 1 and rest[0] == w.shape[1] * first.fields.get("groups", 1)
            if fits:
                self.p.notes.append(f"{node.path}/shape: {list(shape)} includes a batch axis of 1 (nirtorch's tracer "
                                    f"writes it); the input is {list(rest)} per sample")
                return rest
        return shape

    def _lower_output(self, node: _Node, shape: tuple) -> tuple | None:
        declared = node.fields.get("shape")
        if declared is not None and tuple(declared) not in (shape, (1, *shape)):
            self.p.invalid.append(f"{node.path}/shape: {list(declared)}, but edge ('{self.st.preds[node.path][0]}', "
                                  f"'{node.path}') brings {list(shape)}")
            return None
        preds = self.st.preds[node.path]
        if len(preds) != 1:
            self.p.unsupported.append(f"{node.path}: {len(preds)} edges into the Output; neurodeploy needs one readout")
            return None
        source = self.flat.nodes[preds[0]]
        if source.kind == "Input":
            self.p.invalid.append(f"{node.path}: is fed by the Input '{source.path}': the graph computes nothing")
            return None
        value, _ = self._source(node)
        if source.kind in READOUTS:
            out = value
        elif source.path in self.spiking:
            out = self._add("SpikeCount", node.path, [value])
        else:
            self.p.notes.append(f"{node.path}: fed by '{source.path}' ({source.kind}), not by neurons: its values are "
                                "summed over the T steps (an Integrator with r = 1) as the readout")
            out = self._add("MembraneReadout", node.path, [value], {"v_decay": 0.0})
        self.g.outputs = [out]
        return shape

    # --- stateless nodes

    def _lower_affine(self, node: _Node, shape: tuple) -> tuple | None:
        out = _matrix_shape(node, shape, self.p)
        if out is None:
            return None
        x, scale = self._source(node, materialize=False)
        w = node.fields["weight"] * scale
        inputs = [x, self._param(f"{node.path}.weight", w)]
        if node.kind == "Affine" and "bias" in node.fields:
            inputs.append(self._param(f"{node.path}.bias", np.broadcast_to(node.fields["bias"], out)))
        value = self._add("Gemm", node.path, inputs, {"transB": 1})
        self.weights[node.path] = self.g.nodes[-1]
        return self._emit(node, value, out)

    def _lower_conv2d(self, node: _Node, shape: tuple) -> tuple | None:
        out = _conv_shape(node, shape, 2, self.p)
        if out is None:
            return None
        x, scale = self._source(node, materialize=False)
        value = self._conv(node, x, node.fields["weight"] * scale, _window(node, 2, self.p))
        return self._emit(node, value, out)

    def _conv(self, node: _Node, x: str, w: np.ndarray, win: dict, name: str | None = None) -> str:
        pads = tuple(win["padding"][i][0] for i in range(2)) + tuple(win["padding"][i][1] for i in range(2))
        attrs = {"kernel_shape": w.shape[2:], "strides": win["stride"], "pads": pads,
                 "dilations": win["dilation"], "group": node.fields["groups"]}
        bias = np.broadcast_to(node.fields["bias"], (w.shape[0],))
        value = self._add("Conv", name or node.path, [x, self._param(f"{node.path}.weight", w),
                                                      self._param(f"{node.path}.bias", bias)], attrs)
        self.weights[node.path] = self.g.nodes[-1]
        return value

    def _lower_conv1d(self, node: _Node, shape: tuple) -> tuple | None:
        """A 1-D conv is the 2-D conv of a [C, 1, L] view (kernel 1 x k), reshaped back to [C', L']."""
        out = _conv_shape(node, shape, 1, self.p)
        if out is None:
            return None
        x, scale = self._source(node, materialize=False)
        win = _window(node, 1, self.p)
        win2 = {"stride": (1,) + win["stride"], "dilation": (1,) + win["dilation"],
                "padding": ((0, 0),) + win["padding"]}
        tall = self._add("Reshape", f"{node.path}_2d", [x, self.g.add_param(
            f"{node.path}.shape_2d", np.array([0, shape[0], 1, shape[1]], np.int64))])
        conv = self._conv(node, tall, (node.fields["weight"] * scale)[:, :, None, :], win2, f"{node.path}_conv")
        value = self._add("Reshape", node.path, [conv, self.g.add_param(
            f"{node.path}.shape_1d", np.array([0, *out], np.int64))])
        return self._emit(node, value, out)

    def _lower_flatten(self, node: _Node, shape: tuple) -> tuple | None:
        out = _flatten_shape(node, shape, self.p)
        if out is None:
            return None
        x, scale = self._source(node, materialize=False)
        if out == (int(np.prod(shape)),):
            value = self._add("Flatten", node.path, [x], {"axis": 1})
        else:
            target = self.g.add_param(f"{node.path}.shape", np.array([0, *out], np.int64))
            value = self._add("Reshape", node.path, [x, target])
        return self._emit(node, value, out, scale)

    def _lower_pool(self, node: _Node, shape: tuple) -> tuple | None:
        """Sum pooling = average pooling (padding counted) times k*k; the factor is owed to the next layer,
        which folds it into its weights when it has any."""
        out = _pool_shape(node, shape, self.p)
        if out is None:
            return None
        value, scale = self._pool(node)
        k = node.fields["window"][0]
        return self._emit(node, value, out, scale * k[0] * k[1] if node.kind == "SumPool2d" else scale)

    def _pool(self, node: _Node) -> tuple[str, float]:
        k, s, pad = node.fields["window"]
        x, scale = self._source(node, materialize=False)
        attrs = {"kernel_shape": k, "strides": s, "pads": pad + pad, "count_include_pad": int(any(pad))}
        if node.kind == "AvgPool2d" and any(pad):
            self.p.notes.append(f"{node.path}: padded positions count in the average (torch's AvgPool2d default)")
        return self._add("AveragePool", node.path, [x], attrs), scale

    def _lower_scale(self, node: _Node, shape: tuple) -> tuple | None:
        if _elementwise_shape(node, shape, self.p) is None:
            return None
        x, scale = self._source(node, materialize=False)
        return self._emit(node, self._mul(x, node.fields["scale"] * scale, node.path), shape)

    # --- neurons and readouts

    def _neuron_shape(self, node: _Node, shape: tuple) -> tuple | None:
        if _elementwise_shape(node, shape, self.p) is None:
            return None
        if np.prod(np.array(shape, float)) > MAX_NEURONS:
            self.p.invalid.append(f"{node.path}: {list(shape)} is more than {MAX_NEURONS} neurons")
            return None
        for b in self.st.succs[node.path]:
            if node.kind in READOUTS and self.flat.nodes[b].kind != "Output":
                self.p.unsupported.append(f"{node.path} ({node.kind}): feeds '{b}'; a non-spiking integrator can only "
                                          "be the readout (the last node before the Output)")
                return None
        return shape

    def _lower_neuron(self, node: _Node, shape: tuple) -> tuple | None:
        if self._neuron_shape(node, shape) is None:
            return None
        neuron = (_readout if node.kind in READOUTS else _spiking)(node, shape, self.time, self.p)
        if neuron is None:
            return None
        neuron.gain = _snap(neuron.gain, node.path, self.p)
        start = self.p.count()
        rec = self._recurrent(node, neuron, shape)
        if self.p.count() > start:
            return None
        inputs = [self._drive(node, neuron, shape)]
        bias = neuron.bias if neuron.bias is not None and neuron.bias.any() else None
        if bias is not None or rec:
            inputs.append("" if bias is None else self._param(f"{node.path}.bias", bias))
        if rec:
            inputs.append(rec)
        value = self._add(neuron.op, node.path, inputs, neuron.attrs)
        if node.kind in SPIKING:
            self.spiking.add(node.path)
        return self._emit(node, value, shape)

    def _recurrent(self, node: _Node, neuron: _Neuron, shape: tuple) -> str | None:
        """W_rec of the recurrent synapse, rows scaled by the neuron's gain; its bias (a constant input) is
        added to the neuron's constant input."""
        path = self.st.recurrent.get(node.path)
        if path is None:
            return None
        syn = self.flat.nodes[path]
        w = syn.fields.get("weight")
        n = int(np.prod(shape))
        if w is None or len(shape) != 1 or w.shape != (n, n):
            got = None if w is None else list(w.shape)
            self.p.invalid.append(f"{path}: recurrent weight {got} of '{node.path}' must be [{n}, {n}] (1-D neurons "
                                  f"{list(shape)})")
            return None
        bias = syn.fields.get("bias") if syn.kind == "Affine" else None
        if bias is not None and bias.shape not in ((n,), ()):
            self.p.invalid.append(f"{path}/bias: shape {list(bias.shape)}, expected [{n}] for recurrent weight "
                                  f"{list(w.shape)}")
            return None
        if bias is not None and np.broadcast_to(bias, shape).any():
            extra = neuron.gain * np.broadcast_to(bias, shape)
            neuron.constant = extra if neuron.constant is None else neuron.constant + extra
            self.p.notes.append(f"{path}: the recurrent Affine's bias is added to the input of '{node.path}' from "
                                "step 0 on")
        return self._param(f"{path}.weight", neuron.gain[:, None] * w)

    def _drive(self, node: _Node, neuron: _Neuron, shape: tuple) -> str:
        """The neuron's input times its gain plus its constant: folded into the Affine/Linear/Conv feeding it
        when that layer feeds nothing else, else computed by an inserted Mul / Add."""
        preds = self.st.preds[node.path]
        if len(preds) == 1 and self.scale.get(preds[0], 1.0) == 1.0 and neuron.constant is None \
                and (neuron.gain == 1.0).all():
            return self.value[preds[0]]
        layer = self.weights.get(preds[0]) if len(preds) == 1 else None
        if layer is not None and self.st.succs[preds[0]] == [node.path] and self._fold(layer, neuron, shape):
            return self.value[preds[0]]
        x, scale = self._source(node, materialize=False)
        gain = neuron.gain * scale
        if (gain != 1.0).any():
            x = self._mul(x, gain, f"{node.path}_gain")
        if neuron.constant is not None:
            x = self._add("Add", f"{node.path}_constant", [x, self._param(f"{node.path}.constant", neuron.constant)])
        return x

    def _fold(self, layer: Node, neuron: _Neuron, shape: tuple) -> bool:
        g, gain = self.g, neuron.gain
        constant = np.zeros(shape) if neuron.constant is None else neuron.constant
        w, b = g.params[layer.inputs[1]], g.param_of(layer, 2)
        b = np.zeros(w.shape[0]) if b is None else b.astype(np.float64)
        if layer.op == "Conv":
            rows = gain.reshape(w.shape[0], -1), constant.reshape(w.shape[0], -1)
            if not all(_uniform_rows(r) for r in rows):
                return False  # per-position gains cannot be folded into a per-channel conv
            gain, constant = rows[0][:, 0], rows[1][:, 0]
        axes = (slice(None),) + (None,) * (w.ndim - 1)
        layer.inputs[1] = self._param(f"{layer.name}.weight", gain[axes] * w.astype(np.float64))
        layer.inputs[2:] = [self._param(f"{layer.name}.bias", gain * b + constant)]
        return True

    # NIR node type -> its lowering (Input is the graph input, see run); every other type of _SCHEMA
    LOWER = {"Output": _lower_output, "Affine": _lower_affine, "Linear": _lower_affine, "Conv1d": _lower_conv1d,
             "Conv2d": _lower_conv2d, "Flatten": _lower_flatten, "SumPool2d": _lower_pool,
             "AvgPool2d": _lower_pool, "Scale": _lower_scale, "IF": _lower_neuron, "LIF": _lower_neuron,
             "CubaLIF": _lower_neuron, "Threshold": _lower_neuron, "LI": _lower_neuron, "I": _lower_neuron}


def _uniform_rows(rows: np.ndarray) -> bool:
    return bool((rows == rows[:, :1]).all())


# ------------------------------------------------------------------ entry point


def _options(path: Path, dt, integration, reset, num_steps) -> _Options:
    problems = []
    if dt is not None and (isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt)
                           or dt <= 0):
        problems.append(f"dt must be a positive number of seconds, got {dt!r}")
    if integration is not None and integration not in INTEGRATIONS:
        problems.append(f"integration '{integration}': choose one of {', '.join(INTEGRATIONS)}")
    if reset is not None and reset not in RESETS:
        problems.append(f"reset '{reset}': choose one of {', '.join(RESETS)}")
    if num_steps is not None and not (isinstance(num_steps, int) and 0 < num_steps <= MAX_STEPS):
        problems.append(f"num_steps must be 1..{MAX_STEPS}, got {num_steps!r}")
    if problems:
        raise InputError(f"{path}: invalid NIR import options", problems)
    return _Options(None if dt is None else float(dt), integration, reset, num_steps)


def _root(handle, path: Path, p: _Problems) -> _Node | None:
    root = handle.get("node")
    if not isinstance(root, h5py.Group):
        why = "is missing" if root is None else "is a dataset, not a group"
        raise InputError(f"{path}: not a NIR file: its 'node' group {why}")
    if "type" not in root:
        raise InputError(f"{path}: holds no complete NIR graph: its 'node' group has no 'type' (perhaps a partial "
                         "write, e.g. an nir.write that failed midway; write the file again)", _unfinished(root))
    node = _read_node(root, "", 0, p, [0])
    if node is not None and node.kind != "NIRGraph":
        p.unsupported.append(f"node: the file holds a single {node.kind} node, not a NIRGraph")
        return None
    return node


def _unfinished(root) -> list[str]:
    """What a partial write left: the top-level entries present, and the node groups that have no 'type'."""
    nodes = root.get("nodes")
    out = [f"node: holds {', '.join(sorted(root)) or 'nothing'}"]
    if isinstance(nodes, h5py.Group):
        out += [f"node/nodes/{name}: has no 'type' ({len(nodes[name])} entries)" for name in nodes
                if isinstance(nodes[name], h5py.Group) and "type" not in nodes[name]][:10]
    return out


def _parse(path: Path) -> tuple:
    """Everything neurodeploy needs from the file, as plain data: (root, problems, NIR version)."""
    p = _Problems()
    try:
        handle = h5py.File(path, "r")
    except Exception as e:  # h5py raises OSError for most damage, other types for some
        raise InputError(f"{path}: not a readable HDF5 NIR file ({type(e).__name__}: {e})") from None
    try:
        with handle:
            root = _root(handle, path, p)
            version = handle.get("version")
            version = _text(version[()]) if isinstance(version, h5py.Dataset) and version.size == 1 else None
    except (NeurodeployError, MemoryError):
        raise
    except Exception as e:  # damage h5py notices only while reading (truncated data, broken links, ...)
        raise InputError(f"{path}: damaged NIR file: {type(e).__name__}: {e}") from None
    return root, p, version


def _parse_child(path: Path, conn) -> None:
    try:
        conn.send(("ok", _parse(path)))
    except NeurodeployError as e:
        conn.send(("error", (type(e).__name__, e.headline, e.problems)))
    except MemoryError:
        conn.send(("error", ("InputError", f"{path}: too large to read into memory", [])))
    finally:
        conn.close()


def _parse_isolated(path: Path) -> tuple:
    """:func:`_parse` in a forked process: the HDF5 library crashes (SIGSEGV) on some damaged files, e.g. a
    string whose heap entry is corrupt, and hangs on none we know of; either ends as an InputError here."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return _parse(path)
    ctx = multiprocessing.get_context("fork")
    ours, theirs = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_parse_child, args=(path, theirs), daemon=True)
    child.start()
    theirs.close()
    try:
        message = ours.recv() if ours.poll(PARSE_TIMEOUT_S) else None
    except EOFError:  # the child died without a word
        message = None
    child.join(PARSE_TIMEOUT_S if message else 1)
    if child.is_alive():
        child.kill()
        child.join()
    if message is None:
        why = (f"reading it took more than {PARSE_TIMEOUT_S} s" if child.exitcode in (None, -9) else
               f"the HDF5 library crashed reading it (exit {child.exitcode})")
        raise InputError(f"{path}: damaged NIR file: {why}")
    kind, body = message
    if kind == "error":
        cls = {"InputError": InputError, "UnsupportedError": UnsupportedError}.get(body[0], InputError)
        raise cls(body[1], body[2])
    return body


def _build(parsed: tuple, path: Path, opts: _Options) -> Graph:
    root, p, version = parsed
    p.raise_if_any(path)
    if root is None:
        raise InputError(f"{path}: the NIR graph could not be read")
    flat = _Flat()
    _flatten(root, flat, p)
    _contract(flat, p)
    st = _structure(flat, p) if not p.count() else None
    p.raise_if_any(path)
    if st is None:
        raise InputError(f"{path}: the NIR graph has no path from its Input to its Output")
    time = _time(opts, root, flat, p)
    lowering = _Lowering(path, flat, st, time, p)
    lowering.run()
    p.raise_if_any(path)
    g = lowering.g
    g.meta.update({"source": str(path), "time": time.meta, "num_steps": opts.num_steps or DEFAULT_STEPS,
                   "nir": {"version": version, "node_types": _type_counts(flat), "recurrent": dict(st.recurrent)}})
    return g


def _type_counts(flat: _Flat) -> dict:
    counts = {}
    for node in flat.nodes.values():
        counts[node.kind] = counts.get(node.kind, 0) + 1
    return counts


def load_nir(path: str | Path, dt: float | None = None, integration: str | None = None, reset: str | None = None,
             num_steps: int | None = None) -> Graph:
    """Read a NIR file into a float SNN graph (timed spike input ``[T, N, *shape]``, one readout output).

    Args:
        path: the ``.nir`` file.
        dt: seconds per step; default: the file's metadata, else DEFAULT_DT (1e-4 s).
        integration: 'euler' (decay dt/tau, what snnTorch's exports and Norse's from_nir assume), 'exact'
            (1 - exp(-dt/tau)) or 'impulse' (euler decays; a CubaLIF's input enters its current as w_in x per
            step, no dt/tau_syn: what Norse's LIFCell computes); default: the file's metadata, else 'euler'.
        reset: one of RESETS; default: the file's metadata, else 'zero' (NIR's reset to v_reset, at once).
        num_steps: steps per sample recorded in ``meta['num_steps']`` (default DEFAULT_STEPS).

    Returns:
        The graph; ``meta['time']`` records dt, integration, reset, where each came from, notes and warnings
        (also issued with ``warnings.warn``) about disagreements with the file's metadata.
    """
    path = Path(path)
    opts = _options(path, dt, integration, reset, num_steps)
    if not path.is_file():
        raise InputError(f"{path}: no such file" + (" (it is a directory)" if path.is_dir() else ""))
    g = _build(_parse_isolated(path), path, opts)
    try:
        check_graph(g)
    except GraphError as e:
        raise InputError(f"{path}: the NIR nodes do not form a valid network", [e.headline] + e.problems) from None
    for warning in g.meta["time"]["warnings"]:
        warnings.warn(f"{path}: {warning}", stacklevel=2)
    return g
