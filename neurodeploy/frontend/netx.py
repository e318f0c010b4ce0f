"""Read lava-dl netx ``.net`` files (HDF5) into Loihi-level IR: LoihiDense/LoihiConv synapses, LoihiLIF neurons.

The mapping follows netx's own reading of the format (lava-dl 0.6 ``netx/hdf5.py``):
* CUBA / LOIHI neurons become Lava LIF: du = iDecay - 1, dv = vDecay, vth = vThMant, bias_exp = 6; a dense
  layer without a neuron gets netx's default (iDecay 0, vDecay 4096, vThMant 1 << 17: an integrating readout).
* shapes are stored (C, H, W); conv weights (out, in, kh, kw[, 1]) in torch's cross-correlation orientation
  with stride and padding in (H, W) order; a flatten feeds the next dense layer in (C, H, W) order.
* an ``input`` layer is a LIF layer driven through its bias: bias_mant = weight * x + bias, with the
  transform weight and bias stored in the file (netx leaves applying it to the user; this is our reading).
  Without an input layer the graph input is a spike train [T, N, features].
* dense weights are stored as Lava's Dense will use them after its clip and truncation to 8 bits.
Every layer that cannot be read (pooling, sigma-delta neurons, delays, recurrence, ...) is listed in one error.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType

NETX_BIAS_EXP = 6  # netx get_neuron_params: bias_exp is always 6
NETX_DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}
NETX_WEIGHT_BITS = 8
HOST_BIAS_BITS = 16  # Lava's LIF holds bias_mant in an int16 register
SUPPORTED_NEURONS = ("CUBA", "LOIHI")


def _text(value) -> str:
    value = value[()] if hasattr(value, "shape") else value
    value = value[0] if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def _scalar(value) -> int:
    return int(value[()] if hasattr(value, "shape") else value)


def _neuron_attrs(config, num_steps: int = 0) -> dict:
    """LIF attributes; ``vInit`` (written by neurodeploy's exporter, not part of lava-dl's format) sets v_init."""
    return {"du": _scalar(config["iDecay"]) - 1, "dv": _scalar(config["vDecay"]), "vth": _scalar(config["vThMant"]),
            "bias_exp": NETX_BIAS_EXP, "num_steps": num_steps,
            "v_init": _scalar(config["vInit"]) if "vInit" in config else 0}


def lava_dense_weights(w: np.ndarray) -> tuple[np.ndarray, str]:
    """Weights as Lava's bit-accurate Dense holds them: clipped to 8 bits for their sign mode, and the lowest
    bit dropped in mixed mode (lava utils.weightutils clip_weights / truncate_weights with 8 bits)."""
    w = np.rint(w).astype(np.int64)
    top = 2 ** NETX_WEIGHT_BITS
    if w.min() >= 0:
        return np.clip(w, 0, top - 1), "excitatory"
    if w.max() <= 0:
        return np.clip(w, -(top - 1), 0), "inhibitory"
    return (np.clip(w, -top, top - 1) >> 1) << 1, "mixed"


class _NetxReader:
    def __init__(self, path: Path, num_steps: int | None) -> None:
        self.path = path
        self.num_steps = num_steps
        self.g = Graph([], {}, [], name=path.stem, meta={"source": str(path)})
        self.value: str | None = None  # the spikes the next layer reads
        self.problems: list[str] = []

    def _lif(self, index: str, neuron, current: str, shape: tuple, bias) -> None:
        bias = np.zeros(shape) if bias is None else np.broadcast_to(
            np.asarray(bias, np.float64).reshape((-1,) + (1,) * (len(shape) - 1)), shape)
        b = self.g.add_param(f"layer{index}.bias_mant", np.rint(bias).astype(np.int64))
        out = f"layer{index}_spikes"
        self.g.nodes.append(Node("LoihiLIF", f"layer{index}", [current, b], [out, f"layer{index}_overflow"],
                                 _neuron_attrs(neuron)))
        self.value = out

    def input_layer(self, index: str, layer) -> None:
        shape = tuple(int(d) for d in layer["shape"][()])
        weight = float(layer["weight"][()]) if "weight" in layer else 64.0
        bias = float(layer["bias"][()]) if "bias" in layer else 0.0
        self.g.inputs["x"] = TensorType(shape)
        g = self.g
        scaled = Node("Mul", "input_weight", ["x", g.add_param("input.weight", np.array(weight, np.float32))],
                      ["x_scaled"])
        shifted = Node("Add", "input_bias", ["x_scaled", g.add_param("input.bias", np.array(bias, np.float32))],
                       ["x_bias"])
        quantized = Node("Quantize", "input_bias_mant", ["x_bias"], ["x_bias_mant"],
                         {"scale": 1.0, "bits": HOST_BIAS_BITS})
        lif = Node("LoihiLIF", f"layer{index}", ["", "x_bias_mant"], [f"layer{index}_spikes", f"layer{index}_overflow"],
                   _neuron_attrs(layer["neuron"], self.num_steps))
        g.nodes += [scaled, shifted, quantized, lif]
        self.value = lif.outputs[0]

    def _spike_input(self, shape: tuple) -> None:
        if self.value is None:
            self.g.inputs["spikes"] = TensorType(shape, timed=True)
            self.value = "spikes"

    def dense_layer(self, index: str, layer) -> None:
        out_features = int(np.prod(layer["shape"][()]))
        weight = np.asarray(layer["weight"][()], np.float64).reshape(out_features, -1)
        self._spike_input((weight.shape[1],))
        w, mode = lava_dense_weights(weight)
        current = f"layer{index}_current"
        self.g.nodes.append(Node("LoihiDense", f"layer{index}_synapses",
                                 [self.value, self.g.add_param(f"layer{index}.weight", w)], [current],
                                 {"weight_exp": 0, "num_weight_bits": NETX_WEIGHT_BITS, "sign_mode": mode}))
        neuron = layer["neuron"] if "neuron" in layer else NETX_DEFAULT_NEURON
        bias = layer["bias"][()] if "bias" in layer else None
        self._lif(index, neuron, current, (out_features,), bias)

    def conv_layer(self, index: str, layer) -> None:
        weight = np.asarray(layer["weight"][()])
        weight = weight.reshape(weight.shape[:4]).astype(np.int64)
        stride, padding = [tuple(int(v) for v in layer[k][()]) for k in ("stride", "padding")]
        dilation = tuple(int(v) for v in layer["dilation"][()]) if "dilation" in layer else (1, 1)
        if self.value is None:
            self.problems.append(f"layer {index}: a conv layer needs an input layer before it")
            return
        current = f"layer{index}_current"
        attrs = {"kernel_shape": weight.shape[2:], "strides": stride, "pads": padding + padding,
                 "dilations": dilation, "group": int(layer["groups"][()]) if "groups" in layer else 1}
        self.g.nodes.append(Node("LoihiConv", f"layer{index}_synapses",
                                 [self.value, self.g.add_param(f"layer{index}.weight", weight)], [current], attrs))
        shape = tuple(int(d) for d in layer["shape"][()])
        self._lif(index, layer["neuron"], current, shape, layer["bias"][()] if "bias" in layer else None)

    def flatten_layer(self, index: str, layer) -> None:
        out = f"layer{index}_flat"
        self.g.nodes.append(Node("Flatten", f"layer{index}", [self.value], [out], {"axis": 1}))
        self.value = out


def _layer_problems(index: str, layer, kind: str) -> list[str]:
    problems = []
    if kind not in ("input", "dense", "conv", "flatten"):
        problems.append(f"layer {index}: type '{kind}' (supported: input, dense, conv, flatten)")
    if "delay" in layer:
        problems.append(f"layer {index}: synaptic/axonal delays are not supported")
    if "neuron" in layer and _text(layer["neuron"]["type"]) not in SUPPORTED_NEURONS:
        problems.append(f"layer {index}: neuron type {_text(layer['neuron']['type'])} "
                        f"(supported: {', '.join(SUPPORTED_NEURONS)})")
    return problems


def load_netx(path: str | Path, num_steps: int | None = None) -> Graph:
    """Read a netx ``.net`` file; ``num_steps`` defaults to the file's simulation/tSample (else 16)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        handle = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: not a readable HDF5 netx file ({e})") from None
    with handle:
        if "layer" not in handle:
            raise InputError(f"{path}: no 'layer' group; not a netx network file")
        steps = num_steps or (int(handle["simulation"]["tSample"][()]) if "simulation" in handle else 16)
        reader = _NetxReader(path, steps)
        layers = sorted(handle["layer"], key=int)
        kinds = {i: _text(handle["layer"][i]["type"]) for i in layers}
        reader.problems = [p for i in layers for p in _layer_problems(i, handle["layer"][i], kinds[i])]
        if reader.problems:
            raise UnsupportedError(f"{path}: {len(reader.problems)} unsupported layer feature(s)", reader.problems)
        for i in layers:
            getattr(reader, f"{kinds[i]}_layer")(i, handle["layer"][i])
    g = reader.g
    g.outputs = [reader.value]
    g.meta["num_steps"] = steps
    check_graph(g)
    return g


def seeded_input(g: Graph, samples: int, rate: float = 0.3, seed: int = 7) -> np.ndarray:
    """A reproducible input for a netx network that comes without data: spike trains with ``rate`` for a
    spike-input network, else values in [-1.5, 0.5) (around the input layer's threshold for the shipped
    networks' transforms)."""
    rng = np.random.default_rng(seed)
    t = next(iter(g.inputs.values()))
    if t.timed:
        return (rng.random((g.meta["num_steps"], samples) + t.shape) < rate).astype(np.float32)
    return rng.uniform(-1.5, 0.5, (samples,) + t.shape).astype(np.float32)
