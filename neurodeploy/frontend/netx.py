"""Read lava-dl netx ``.net`` files (HDF5) into Loihi-level IR: LoihiDense/LoihiConv synapses, LoihiLIF neurons.

The mapping follows netx's own reading of the format (lava-dl 0.6 ``netx/hdf5.py`` and ``netx/utils.py``), so
that the golden simulator computes what ``lava.lib.dl.netx.hdf5.Network`` runs in Lava, bit for bit:
* layers are the groups ``layer/0`` .. ``layer/<n-1>``, one chain in that order.
* CUBA / LOIHI neurons become Lava LIF: du = iDecay - 1, dv = vDecay, vth = vThMant, bias_exp = 6; a dense
  layer without a neuron gets netx's default (iDecay 0, vDecay 4096, vThMant 1 << 17: an integrating readout).
  ``refDelay`` 1 and ``gradedSpike`` False (what slayer's ``export_hdf5`` writes) are what Lava's LIF does.
* shapes are stored (C, H, W); conv weights (out, in / groups, kh, kw[, 1]) in torch's cross-correlation
  orientation with stride, padding and dilation as scalars or (H, W) pairs; a conv bias is per channel, or per
  neuron in Lava's (W, H, C) order; a flatten feeds the next dense layer in (C, H, W) order.
* weights and biases are integers (netx truncates other values; we refuse them). Dense weights become what
  Lava's Dense computes with after netx's ``optimize_weight_bits`` and Dense's own clip and truncation.
* an ``input`` layer is a LIF layer driven through its bias: bias_mant = weight * x + bias, with the
  transform weight and bias stored in the file (netx leaves applying it to the user; this is our reading).
  Without one (slayer blocks exported one by one), the graph input is a spike train [T, N, features], or
  [T, N, C, H, W] before a conv layer, whose input size comes from ``input_shape``, else from an input layer
  that has a shape but no neuron, else is inferred from the conv: the largest size giving the stored output
  (a strided conv maps several sizes onto one; ``meta['netx_assumptions']`` records the choice).
Validation collects every problem of the file and raises them at once, each naming its element
(``layer/2/weight``): InputError for invalid content (missing keys, wrong types, NaN/Inf, shapes that do not
chain, values that Loihi's registers cannot hold, as the loihi2 spec gives them), UnsupportedError when the
file is valid but uses what netx or neurodeploy cannot run (pooling, sigma-delta neurons, delays, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import h5py
import numpy as np

from neurodeploy.errors import GraphError, InputError, NeurodeployError, UnsupportedError
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType

NETX_BIAS_EXP = 6  # netx get_neuron_params: bias_exp is always 6
NETX_DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}
NETX_WEIGHT_BITS = 8  # netx optimize_weight_bits works on 8-bit weights (sign separate): [-256, 255]
HOST_BIAS_BITS = 16  # Lava's LIF holds bias_mant in an int16 register
SUPPORTED_NEURONS = ("CUBA", "LOIHI")
LAYER_TYPES = ("input", "dense", "conv", "flatten")
NETX_UNSUPPORTED_TYPES = ("pool", "convT", "unpool", "average", "concat", "dense_rec", "dense_comp")
DEFAULT_STEPS = 16  # steps per sample when the file has no simulation/tSample
# Reader limits (not chip facts): they keep a corrupt or hostile file from exhausting memory. Spike trains of
# one layer are [T, N, neurons] float32, so T x neurons must stay far below the memory of a workstation.
MAX_STEPS = 100_000
MAX_LAYER_NEURONS = 1 << 24
MAX_DATASET_ELEMENTS = 1 << 27
_INT_LIMIT = 1 << 62  # keeps every value read exact in int64


@dataclass(frozen=True)
class _Range:
    low: int
    high: int
    what: str  # why these are the limits

    def __str__(self) -> str:
        return f"[{self.low}, {self.high}] ({self.what})"


@lru_cache(maxsize=None)
def _limits() -> dict[str, _Range]:
    """Value ranges of the fields netx hands to Lava's LIF; register widths come from the loihi2 spec."""
    from neurodeploy.backends import spec_path
    from neurodeploy.spec import load_spec

    spec = load_spec(spec_path("loihi2"))
    bits = {k: int(spec.value(f"numerics.{k}")) for k in ("decay_bits", "threshold_mantissa_bits", "state_bits")}
    state = 2 ** (bits["state_bits"] - 1) - 1
    int16 = 2 ** (HOST_BIAS_BITS - 1)
    return {
        "decay": _Range(0, 2 ** bits["decay_bits"], f"{bits['decay_bits']}-bit decay; {2 ** bits['decay_bits']} = "
                        "full decay"),
        "vth": _Range(0, 2 ** bits["threshold_mantissa_bits"] - 1,
                      f"{bits['threshold_mantissa_bits']}-bit threshold mantissa"),
        "v_init": _Range(-state, state, f"{bits['state_bits']}-bit voltage"),
        "bias": _Range(-int16, int16 - 1, "Lava's int16 bias mantissa"),
        "weight": _Range(-2 ** NETX_WEIGHT_BITS, 2 ** NETX_WEIGHT_BITS - 1, "netx's 8-bit weights with sign"),
        "count": _Range(1, _INT_LIMIT, "a positive count"),
        "padding": _Range(0, _INT_LIMIT, "not negative"),
        "any": _Range(-_INT_LIMIT, _INT_LIMIT, "within int64"),
    }


def _number(x) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _described(value: np.ndarray) -> str:
    if value.dtype.kind in "SUO":
        text = value.reshape(-1)[0] if value.size else ""
        text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"text ({text[:20]!r})"
    return "booleans" if value.dtype.kind == "b" else f"values of type {value.dtype}"


class _Fields:
    """Typed reads of one file's datasets. A problem is recorded with the element's path, never raised, so
    that every problem of the file is reported at once; a read that failed returns None."""

    def __init__(self) -> None:
        self.invalid: list[str] = []
        self.unsupported: list[str] = []

    def count(self) -> int:
        return len(self.invalid) + len(self.unsupported)

    def group(self, parent, key: str, where: str, required: bool = True):
        item = parent.get(key)
        if item is None:
            if required:
                self.invalid.append(f"{where}/{key}: missing")
            return None
        if not isinstance(item, h5py.Group):
            self.invalid.append(f"{where}/{key}: is a dataset, expected a group")
            return None
        return item

    def dataset(self, group, key: str, where: str, required: bool = True) -> np.ndarray | None:
        name, item = f"{where}/{key}", group.get(key)
        if item is None:
            if required:
                self.invalid.append(f"{name}: missing")
            return None
        if not isinstance(item, h5py.Dataset):
            self.invalid.append(f"{name}: is a group, expected a dataset")
            return None
        if item.shape is None or item.size > MAX_DATASET_ELEMENTS:
            size = "no" if item.shape is None else f"{item.size}"
            self.invalid.append(f"{name}: {size} elements (this reader takes 1 to {MAX_DATASET_ELEMENTS})")
            return None
        return np.asarray(item[()])

    def integers(self, value: np.ndarray, name: str, limit: _Range, structural: bool = False) -> np.ndarray | None:
        """``value`` as int64 when it holds only integers within ``limit``; ``structural`` values (sizes, strides)
        must also be stored as integers, as netx uses them as shapes."""
        kind = value.dtype.kind
        problem = None
        if kind not in "iuf":
            problem = f"holds {_described(value)}, expected numbers"
        elif value.size == 0:
            problem = "holds no values"
        elif structural and kind == "f":
            problem = f"holds {value.dtype} values, expected integers (netx uses them as sizes)"
        elif kind == "f" and not np.isfinite(value).all():
            problem = "holds NaN or infinite values"
        elif kind == "f" and (value != np.trunc(value)).any():
            example = value[value != np.trunc(value)].reshape(-1)[0]
            problem = f"holds non-integer values (e.g. {example}); netx would truncate them to integers"
        elif value.min() < limit.low or value.max() > limit.high:
            problem = f"values {_number(value.min())}..{_number(value.max())} are outside {limit}"
        if problem:
            self.invalid.append(f"{name}: {problem}")
            return None
        return value.astype(np.int64)

    def scalar(self, group, key: str, where: str, limit: _Range, required: bool = True,
               structural: bool = False) -> int | None:
        value = self.dataset(group, key, where, required)
        if value is None:
            return None
        if value.size != 1:
            self.invalid.append(f"{where}/{key}: holds {value.size} values {list(value.shape)}, expected one")
            return None
        value = self.integers(value.reshape(-1), f"{where}/{key}", limit, structural)
        return None if value is None else int(value[0])

    def text(self, group, key: str, where: str) -> str | None:
        value = self.dataset(group, key, where)
        if value is None:
            return None
        if value.dtype.kind not in "SUO" or value.size != 1:
            self.invalid.append(f"{where}/{key}: holds {_described(value)} {list(value.shape)}, expected one string")
            return None
        text = value.reshape(-1)[0]
        try:
            return text.decode("ascii") if isinstance(text, bytes) else str(text)
        except UnicodeDecodeError:
            self.invalid.append(f"{where}/{key}: is not ASCII text")
            return None

    def flag(self, group, key: str, where: str) -> bool | None:
        """An optional boolean (netx writes numpy bools; 0 / 1 are accepted too)."""
        value = self.dataset(group, key, where, required=False)
        if value is None:
            return None
        if value.dtype.kind == "b" and value.size == 1:
            return bool(value.reshape(-1)[0])
        number = self.scalar(group, key, where, _Range(0, 1, "a boolean"), required=False, structural=True)
        return None if number is None else bool(number)


def _conv_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def _conv_in_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """The largest input size whose conv output has ``size`` elements."""
    return (size - 1) * stride + dilation * (kernel - 1) + 1 - 2 * pad + stride - 1


def _lava_sign_mode(w: np.ndarray) -> str:
    """The sign mode Lava's Dense determines from its weights (weightutils.determine_sign_mode)."""
    return "excitatory" if w.min() >= 0 else "inhibitory" if w.max() <= 0 else "mixed"


def _netx_optimized(w: np.ndarray) -> tuple[np.ndarray, int, int]:
    """netx's optimize_weight_bits on integer weights within [-256, 255]: (weights << shift, number of weight
    bits, shift). Mixed-sign weights are clipped to [-256, 254], then shifted up to fill 8 bits; the weight bits
    drop the low bits that are zero in every weight."""
    signed = int(w.min() < 0 <= w.max())  # netx: inhibitory only when every weight is negative
    if signed:
        w = np.clip(w, -256, 254)
        with np.errstate(divide="ignore"):
            scale = min(127 / w.max() if w.max() else np.inf, -128 / w.min())
    else:
        scale = -256 / w.min() if w.max() < 0 else 255 / w.max()
    shift = int(np.floor(np.log2(scale))) + signed
    zero_bits = next((n for n in range(8, 0, -1) if not (w % 2 ** n).any()), 0)
    return np.left_shift(w.astype(np.int32), shift), 8 - shift - (zero_bits - signed), shift


def netx_dense_weights(w: np.ndarray) -> tuple[np.ndarray, int, int, str]:
    """Integer dense weights of a netx file as Lava's bit-accurate Dense computes with them, as
    (weights, weight_exp, num_weight_bits, sign_mode) for a LoihiDense node.

    netx optimizes the weights (``_netx_optimized``) and hands them with exponent -shift to Lava's Dense, which
    clips them to 8 bits for its sign mode and truncates them to the weight bits. When the result is a multiple
    of 2^shift (always, except after Lava clips a shifted -256 to -255), it is returned at exponent 0, with weight
    bits for which Lava's clip and truncation leave it unchanged; otherwise as netx hands it over.
    """
    w = np.asarray(w, np.int64)
    if not w.any():  # netx itself fails on all-zero weights (log2 of an infinite scale); they add nothing
        return w, 0, NETX_WEIGHT_BITS, "excitatory"
    shifted, bits, shift = _netx_optimized(w)
    mode = _lava_sign_mode(shifted)
    mixed, top = int(mode == "mixed"), 2 ** NETX_WEIGHT_BITS
    sign = -1 if mode == "inhibitory" else 1
    magnitude = np.clip(sign * shifted, -top * mixed, top - 1).astype(np.int32)  # lava clip_weights, 8 bits
    truncate = NETX_WEIGHT_BITS - bits + mixed  # lava truncate_weights (numpy shifts by < 0 give 0 here too)
    lava = sign * np.left_shift(np.right_shift(magnitude, truncate), truncate)
    if (lava % 2 ** shift).any():
        return lava.astype(np.int64), -shift, bits, mode
    exact = lava.astype(np.int64) >> shift
    mode = _lava_sign_mode(exact)
    return exact, 0, NETX_WEIGHT_BITS + int(mode == "mixed" and bool((exact % 2).any())), mode


class _NetxReader:
    """Validates and lowers the layers of one open file in order; every problem lands in ``fields``."""

    def __init__(self, path: Path, fields: _Fields, num_steps: int, input_shape: tuple | None) -> None:
        self.path = path
        self.num_steps = num_steps
        self.input_shape = input_shape
        self.fields = fields
        self.layer_start = 0  # problems recorded before the current layer
        self.g = Graph([], {}, [], name=path.stem, meta={"source": str(path), "netx_assumptions": []})
        self.value: str | None = None  # the spikes the next layer reads
        self.shape: tuple | None = None  # their per-sample shape
        self.source = ""  # the layer that produced them, for messages
        self.broken = False  # an earlier layer could not be read: checks against its output are skipped
        self.neurons = 0  # LIF layers made

    def layer(self, index: int, group) -> None:
        where, f = f"layer/{index}", self.fields
        self.layer_start = f.count()
        kind = f.text(group, "type", where) if isinstance(group, h5py.Group) else None
        if not isinstance(group, h5py.Group):
            f.invalid.append(f"{where}: is a dataset, expected a group")
        elif kind in NETX_UNSUPPORTED_TYPES:
            f.unsupported.append(f"{where}: layer type '{kind}' (netx imports {', '.join(LAYER_TYPES)})")
        elif kind is not None and kind not in LAYER_TYPES:
            f.invalid.append(f"{where}/type: unknown layer type '{kind}' (netx types: {', '.join(LAYER_TYPES)}, "
                             f"{', '.join(NETX_UNSUPPORTED_TYPES)})")
        elif kind is not None:
            getattr(self, f"{kind}_layer")(where, group, index)
        if not self._clean():
            self.broken, self.value, self.shape = True, None, None

    def _clean(self) -> bool:
        """Whether the current layer has no problem so far."""
        return self.fields.count() == self.layer_start

    # --- fields shared by layer types

    def _shape(self, layer, where: str, ranks: tuple[int, ...] = (1, 2, 3)) -> tuple | None:
        value = self.fields.dataset(layer, "shape", where)
        if value is None:
            return None
        shape = self.fields.integers(value.reshape(-1), f"{where}/shape", _limits()["count"], structural=True)
        if shape is None:
            return None
        if value.ndim > 1 or len(shape) not in ranks:
            self.fields.invalid.append(f"{where}/shape: {list(shape)} has {len(shape)} dimensions, expected "
                                       f"{' or '.join(map(str, ranks))}")
            return None
        if np.prod(shape.astype(float)) > MAX_LAYER_NEURONS:
            self.fields.invalid.append(f"{where}/shape: {list(shape)} is more than {MAX_LAYER_NEURONS} neurons "
                                       "(this reader's limit)")
            return None
        return tuple(int(d) for d in shape)

    def _neuron(self, layer, where: str, required: bool = True) -> dict | None:
        """LIF attributes of ``where/neuron``; ``vInit`` (written by neurodeploy's exporter, not part of lava-dl's
        format) sets v_init."""
        f, limits = self.fields, _limits()
        config = f.group(layer, "neuron", where, required)
        if config is None:
            return None if required or "neuron" in layer else self._default_neuron()
        where = f"{where}/neuron"
        kind = f.text(config, "type", where)
        if kind is not None and kind not in SUPPORTED_NEURONS:
            f.unsupported.append(f"{where}: neuron type {kind} (supported: {', '.join(SUPPORTED_NEURONS)})")
            return None
        values = [f.scalar(config, key, where, limits[limit]) for key, limit in
                  (("iDecay", "decay"), ("vDecay", "decay"), ("vThMant", "vth"))]
        v_init = f.scalar(config, "vInit", where, limits["v_init"], required=False)
        self._unsupported_neuron_fields(config, where)
        if kind is None or None in values:
            return None
        i_decay, v_decay, vth = values
        return {"du": i_decay - 1, "dv": v_decay, "vth": vth, "bias_exp": NETX_BIAS_EXP, "num_steps": 0,
                "v_init": v_init or 0}

    def _default_neuron(self) -> dict:
        d = NETX_DEFAULT_NEURON
        return {"du": d["iDecay"] - 1, "dv": d["vDecay"], "vth": d["vThMant"], "bias_exp": NETX_BIAS_EXP,
                "num_steps": 0, "v_init": 0}

    def _unsupported_neuron_fields(self, config, where: str) -> None:
        """Fields slayer may write that netx ignores, so Lava would not run what was trained."""
        f, limits = self.fields, _limits()
        ref_delay = f.scalar(config, "refDelay", where, limits["any"], required=False)
        if ref_delay not in (None, 1):
            f.unsupported.append(f"{where}/refDelay: {ref_delay}; netx and Lava's LIF have no refractory period "
                                 "(refDelay 1)")
        if f.flag(config, "gradedSpike", where):
            f.unsupported.append(f"{where}/gradedSpike: graded spikes (netx runs CUBA neurons with binary spikes)")
        message_bits = f.scalar(config, "messageBits", where, limits["any"], required=False)
        if message_bits:
            f.unsupported.append(f"{where}/messageBits: {message_bits}-bit graded spikes are not supported")
        weight_exp = f.scalar(config, "weight_exp", where, limits["any"], required=False)
        if weight_exp:
            f.unsupported.append(f"{where}/weight_exp: {weight_exp} (a normalization exponent netx ignores)")

    def _weights(self, layer, where: str, ndims: tuple[int, ...]) -> np.ndarray | None:
        group = layer.get("weight")
        if isinstance(group, h5py.Group) and "imag" in group:
            self.fields.unsupported.append(f"{where}/weight: complex (real/imag) weights are not supported")
            return None
        value = self.fields.dataset(layer, "weight", where)
        weight = None if value is None else self.fields.integers(value, f"{where}/weight", _limits()["weight"])
        if weight is not None and weight.ndim not in ndims:
            self.fields.invalid.append(f"{where}/weight: shape {list(weight.shape)} has {weight.ndim} dimensions, "
                                       f"expected {' or '.join(map(str, ndims))}")
            return None
        return weight

    def _bias(self, layer, where: str, shape: tuple) -> np.ndarray | None:
        """Bias mantissas broadcast to ``shape``: one per neuron, one per channel (conv), or one for all (dense)."""
        value = self.fields.dataset(layer, "bias", where, required=False)
        if value is None:
            return np.zeros(shape, np.int64) if "bias" not in layer else None
        bias = self.fields.integers(value, f"{where}/bias", _limits()["bias"])
        if bias is None:
            return None
        if len(shape) == 3 and bias.shape == tuple(reversed(shape)):  # per neuron, Lava's (W, H, C)
            return bias.transpose(2, 1, 0)
        if len(shape) == 3 and bias.ndim == 1 and bias.size == shape[0]:  # per channel
            return np.broadcast_to(bias.reshape(-1, 1, 1), shape).copy()
        if bias.size == 1:  # one for all neurons (slayer's shared mean-only norm; netx refuses it on a conv)
            return np.full(shape, int(bias.reshape(-1)[0]), np.int64)
        if len(shape) == 1 and bias.size == shape[0]:
            return bias.reshape(shape)
        per = "all, a channel (C) or a neuron in Lava's (W, H, C) order" if len(shape) == 3 else "all or each neuron"
        self.fields.invalid.append(f"{where}/bias: shape {list(bias.shape)} does not give one value for {per} "
                                   f"of shape {list(shape)}")
        return None

    def _delay(self, layer, where: str) -> None:
        if "delay" in layer:
            self.fields.unsupported.append(f"{where}/delay: synaptic/axonal delays are not supported")

    def _check_count(self, layer, key: str, where: str, expected: int) -> None:
        """An optional descriptive field (inFeatures, outChannels, ...) must agree with the weights."""
        value = self.fields.scalar(layer, key, where, _limits()["count"], required=False, structural=True)
        if value is not None and value != expected:
            self.fields.invalid.append(f"{where}/{key}: {value}, but the weights give {expected}")

    # --- the chain of layers

    def _spike_input(self, shape: tuple) -> None:
        self.g.inputs["spikes"] = TensorType(shape, timed=True)
        self.value, self.shape, self.source = "spikes", shape, "the input spikes"

    def _lif(self, index: int, attrs: dict, current: str, bias: np.ndarray) -> None:
        b = self.g.add_param(f"layer{index}.bias_mant", bias)
        out = f"layer{index}_spikes"
        self.g.nodes.append(Node("LoihiLIF", f"layer{index}", [current, b], [out, f"layer{index}_overflow"], attrs))
        self.value, self.shape, self.source = out, tuple(bias.shape), f"layer/{index}"
        self.neurons += 1

    def input_layer(self, where: str, layer, index: int) -> None:
        f = self.fields
        if self.value is not None or index != 0:
            f.invalid.append(f"{where}: an input layer must be the first layer")
        shape = self._shape(layer, where)
        if "neuron" not in layer:  # netx: the input's shape only, for the conv that reads it
            if shape is not None and self._clean():
                self._spike_input(shape)
            return
        neuron = self._neuron(layer, where)
        transform = [f.scalar(layer, key, where, _limits()["bias"], required=False) for key in ("weight", "bias")]
        if shape is None or neuron is None or not self._clean():
            return
        weight, bias = 64 if transform[0] is None else transform[0], transform[1] or 0
        self.g.inputs["x"] = TensorType(shape)
        g = self.g
        scaled = Node("Mul", "input_weight", ["x", g.add_param("input.weight", np.array(weight, np.float32))],
                      ["x_scaled"])
        shifted = Node("Add", "input_bias", ["x_scaled", g.add_param("input.bias", np.array(bias, np.float32))],
                       ["x_bias"])
        quantized = Node("Quantize", "input_bias_mant", ["x_bias"], ["x_bias_mant"],
                         {"scale": 1.0, "bits": HOST_BIAS_BITS})
        lif = Node("LoihiLIF", f"layer{index}", ["", "x_bias_mant"], [f"layer{index}_spikes", f"layer{index}_overflow"],
                   {**neuron, "num_steps": self.num_steps})
        g.nodes += [scaled, shifted, quantized, lif]
        self.value, self.shape, self.source = lif.outputs[0], shape, where
        self.neurons += 1

    def dense_layer(self, where: str, layer, index: int) -> None:
        shape = self._shape(layer, where)
        weight = self._weights(layer, where, (1, 2))
        neuron = self._neuron(layer, where, required=False)
        self._delay(layer, where)
        out = None if shape is None else int(np.prod(shape))
        bias = None if out is None else self._bias(layer, where, (out,))
        if weight is None or out is None:
            return
        weight = self._dense_matrix(weight, out, where)
        if weight is None:
            return
        self._check_count(layer, "inFeatures", where, weight.shape[1])
        self._check_count(layer, "outFeatures", where, out)
        if not self._takes(where, (weight.shape[1],)) or neuron is None or bias is None or not self._clean():
            return
        w, exp, bits, mode = netx_dense_weights(weight)
        current = f"layer{index}_current"
        self.g.nodes.append(Node("LoihiDense", f"layer{index}_synapses",
                                 [self.value, self.g.add_param(f"layer{index}.weight", w)], [current],
                                 {"weight_exp": exp, "num_weight_bits": bits, "sign_mode": mode}))
        self._lif(index, neuron, current, bias)

    def _dense_matrix(self, weight: np.ndarray, out: int, where: str) -> np.ndarray | None:
        """netx reshapes 1-D weights to (neurons, -1); 2-D weights must have one row per neuron."""
        if weight.ndim == 1 and weight.size % out == 0:
            return weight.reshape(out, -1)
        if weight.ndim == 2 and weight.shape[0] == out:
            return weight
        self.fields.invalid.append(f"{where}/weight: shape {list(weight.shape)} does not give {out} rows, one per "
                                   f"neuron of {where}/shape")
        return None

    def _takes(self, where: str, shape: tuple) -> bool:
        """Whether the layer's synapses, expecting inputs of ``shape``, can read the current spikes; the first
        layer reads the graph input instead."""
        if self.broken:
            return False
        if self.value is None:
            self._spike_input(shape)
            return True
        if self.shape == shape:
            return True
        hint = " (a flatten layer is missing before it)" if len(self.shape) > 1 and len(shape) == 1 else ""
        self.fields.invalid.append(f"{where}/weight: takes inputs of shape {list(shape)}, but {self.source} gives "
                                   f"{list(self.shape)}{hint}")
        return False

    def conv_layer(self, where: str, layer, index: int) -> None:
        f = self.fields
        shape = self._shape(layer, where, ranks=(3,))
        weight = self._weights(layer, where, (4, 5))
        if weight is not None and weight.ndim == 5 and weight.shape[4] != 1:
            f.invalid.append(f"{where}/weight: shape {list(weight.shape)}: a 5-D conv weight needs a last axis of 1")
            weight = None
        window = self._conv_window(layer, where)
        neuron = self._neuron(layer, where)
        self._delay(layer, where)
        bias = None if shape is None else self._bias(layer, where, shape)
        if shape is None or weight is None or window is None:
            return
        weight = weight.reshape(weight.shape[:4])
        if not self._conv_channels(layer, where, weight, shape, window["group"]):
            return
        in_shape = self._conv_input(where, weight, shape, window)
        if in_shape is None or neuron is None or bias is None or not self._clean() or not self._takes(where, in_shape):
            return
        current = f"layer{index}_current"
        attrs = {"kernel_shape": weight.shape[2:], **window, "weight_exp": 0}
        self.g.nodes.append(Node("LoihiConv", f"layer{index}_synapses",
                                 [self.value, self.g.add_param(f"layer{index}.weight", weight)], [current], attrs))
        self._lif(index, neuron, current, bias)

    def _conv_window(self, layer, where: str) -> dict | None:
        """stride, padding, dilation (a scalar or an (H, W) pair each) and groups, all required by netx."""
        f, limits = self.fields, _limits()
        pairs = {}
        for key, limit in (("stride", "count"), ("padding", "padding"), ("dilation", "count")):
            value = f.dataset(layer, key, where)
            value = None if value is None else f.integers(value.reshape(-1), f"{where}/{key}", limits[limit], True)
            if value is not None and value.size not in (1, 2):
                f.invalid.append(f"{where}/{key}: {list(value)} has {value.size} values, expected 1 or (H, W)")
                value = None
            pairs[key] = None if value is None else tuple(int(v) for v in np.broadcast_to(value, (2,)))
        groups = f.scalar(layer, "groups", where, limits["count"], structural=True)
        if None in pairs.values() or groups is None:
            return None
        return {"strides": pairs["stride"], "pads": pairs["padding"] * 2, "dilations": pairs["dilation"],
                "group": groups}

    def _conv_channels(self, layer, where: str, weight: np.ndarray, shape: tuple, groups: int) -> bool:
        f = self.fields
        if weight.shape[0] != shape[0] or shape[0] % groups:
            f.invalid.append(f"{where}/weight: {weight.shape[0]} output channels, but {where}/shape {list(shape)} "
                             f"has {shape[0]} (and groups {groups} must divide them)")
            return False
        self._check_count(layer, "inChannels", where, weight.shape[1] * groups)
        self._check_count(layer, "outChannels", where, weight.shape[0])
        kernel = f.dataset(layer, "kernelSize", where, required=False)
        kernel = None if kernel is None else f.integers(kernel.reshape(-1), f"{where}/kernelSize",
                                                        _limits()["count"], structural=True)
        if kernel is not None and (kernel.size not in (1, 2) or
                                   list(np.broadcast_to(kernel, (2,))) != list(weight.shape[2:])):
            f.invalid.append(f"{where}/kernelSize: {kernel.tolist()}, but the weights have {list(weight.shape[2:])}")
        return True

    def _conv_input(self, where: str, weight: np.ndarray, shape: tuple, window: dict) -> tuple | None:
        """The (C, H, W) input the conv reads: the previous layer's output when it has one (checked against the
        stored output shape), else ``input_shape``, else the largest size giving the stored output."""
        if self.broken:
            return None
        channels = weight.shape[1] * window["group"]
        args = [(weight.shape[2 + i], window["strides"][i], window["pads"][i], window["dilations"][i])
                for i in range(2)]
        if self.value is not None:
            source = self.shape
        elif self.input_shape is not None:
            source = tuple(self.input_shape)
        else:
            source = (channels,) + tuple(_conv_in_size(shape[1 + i], *args[i]) for i in range(2))
            self.g.meta["netx_assumptions"].append(
                f"{where}: input size {list(source)} (C, H, W) inferred from the conv output {list(shape)}")
        if len(source) != 3 or source[0] != channels:
            self.fields.invalid.append(f"{where}/weight: takes {channels} input channels (C, H, W), but "
                                       f"{self.source or 'the input'} gives shape {list(source)}")
            return None
        if np.prod(np.array(source, float)) > MAX_LAYER_NEURONS:
            self.fields.invalid.append(f"{where}: its input of shape {list(source)} is more than {MAX_LAYER_NEURONS} "
                                       "neurons (this reader's limit)")
            return None
        out = (shape[0],) + tuple(_conv_out_size(source[1 + i], *args[i]) for i in range(2))
        if min(source) < 1 or out != shape:
            self.fields.invalid.append(f"{where}/shape: {list(shape)}, but this conv on an input of shape "
                                       f"{list(source)} gives {list(out)}")
            return None
        return source

    def flatten_layer(self, where: str, layer, index: int) -> None:
        """netx flattens for the next dense layer only (its stored shape is not read)."""
        if self.value is None or len(self.shape) == 1:
            return
        out = f"layer{index}_flat"
        self.g.nodes.append(Node("Flatten", f"layer{index}", [self.value], [out], {"axis": 1}))
        self.value, self.shape, self.source = out, (int(np.prod(self.shape)),), where


def _layer_indices(layers, fields: _Fields) -> list[int]:
    """netx reads layer/0 .. layer/<n-1>: every name must be one of those integers."""
    names = list(layers)
    bad = [n for n in names if not (n.isdigit() and str(int(n)) == n)]
    fields.invalid += [f"layer/{n}: layer names must be the integers 0..{len(names) - 1}" for n in bad]
    indices = sorted(int(n) for n in names if n not in bad)
    missing = sorted(set(range(len(names))) - set(indices))
    if missing and not bad:
        fields.invalid.append(f"layer: layers {missing} are missing (names must be 0..{len(names) - 1})")
    return indices


def _steps(handle, fields: _Fields) -> int:
    """simulation/tSample, else DEFAULT_STEPS."""
    sim = handle.get("simulation")
    if not isinstance(sim, h5py.Group):
        if sim is not None:
            fields.invalid.append("simulation: is a dataset, expected a group")
        return DEFAULT_STEPS
    steps = fields.scalar(sim, "tSample", "simulation", _Range(1, MAX_STEPS, "this reader's limit"), required=False)
    return DEFAULT_STEPS if steps is None else steps


def _read(handle, path: Path, num_steps: int | None, input_shape: tuple | None) -> Graph:
    layers = handle.get("layer")
    if not isinstance(layers, h5py.Group):
        why = "is missing" if layers is None else "is a dataset, not a group"
        raise InputError(f"{path}: not a netx network file: its 'layer' group {why}")
    if not len(layers):
        raise InputError(f"{path}: the 'layer' group is empty: no layers to read")
    fields = _Fields()
    steps = _steps(handle, fields)
    reader = _NetxReader(path, fields, num_steps or steps, input_shape)
    for index in _layer_indices(layers, fields):
        reader.layer(index, layers[str(index)])
    if not fields.count() and not reader.neurons:
        fields.invalid.append("layer: no layer with neurons (input, dense or conv)")
    read_shape = [list(t.shape) for t in reader.g.inputs.values()]
    if input_shape is not None and read_shape and read_shape != [list(input_shape)]:
        fields.invalid.append(f"layer/0: the network reads input of shape {read_shape[0]}, not the "
                              f"{list(input_shape)} asked for")
    if fields.invalid:
        raise InputError(f"{path}: {len(fields.invalid)} invalid netx element(s)"
                         + (f" and {len(fields.unsupported)} unsupported feature(s)" if fields.unsupported else ""),
                         fields.invalid + fields.unsupported)
    if fields.unsupported:
        raise UnsupportedError(f"{path}: {len(fields.unsupported)} unsupported netx feature(s)", fields.unsupported)
    g = reader.g
    g.outputs = [reader.value]
    g.meta["num_steps"] = num_steps or steps
    return g


def load_netx(path: str | Path, num_steps: int | None = None, input_shape: tuple | None = None) -> Graph:
    """Read a netx ``.net`` file; ``num_steps`` defaults to the file's simulation/tSample (else 16);
    ``input_shape`` (C, H, W) sizes the spike input of a file whose first layer is a conv (as netx's own
    ``input_shape`` argument does), else it is inferred. Every problem is an InputError or UnsupportedError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if num_steps is not None and not 0 < num_steps <= MAX_STEPS:
        raise InputError(f"{path}: {num_steps} steps per sample; expected 1 to {MAX_STEPS}")
    try:
        handle = h5py.File(path, "r")
    except Exception as e:  # h5py raises OSError for most damage, other types for some
        raise InputError(f"{path}: not a readable HDF5 netx file ({type(e).__name__}: {e})") from None
    try:
        with handle:
            g = _read(handle, path, num_steps, input_shape)
        check_graph(g)
    except GraphError as e:
        raise InputError(f"{path}: the layers do not form a valid network", [e.headline] + e.problems) from None
    except (NeurodeployError, MemoryError):
        raise
    except Exception as e:  # damage h5py notices only while reading (truncated data, broken links, ...)
        raise InputError(f"{path}: damaged netx file: {type(e).__name__}: {e}") from None
    return g
