"""Write a Loihi-lowered sequential graph as a lava-dl netx ``.net`` file (HDF5), loadable by
``lava.lib.dl.netx.hdf5.Network``.

Layout written (what netx reads, see ../../neurodeploy/frontend/netx.py): an ``input`` layer for a first
(bias-driven) LIF layer, or none when the network takes spike trains, then one ``conv`` / ``dense`` layer per synapse + LIF pair, with a ``flatten`` layer
where the graph flattens; the voltage readout becomes a dense layer whose neuron never spikes. Pooling was
already folded into strided convolutions (netx cannot import pooling). Weights are written as effective
integers (w << weight_exp); netx recovers the exponent. netx uses bias exponent 6 for every layer, so bias
mantissas are rescaled to it (exact, since the quantizer never picks a smaller exponent). The input layer's
bias is per sample: feed ``input_bias_mant`` (computed on the host, at exponent 6) as its neurons' bias.
Each neuron group also holds ``vInit``, the voltage every sample starts from (half the threshold after rate
conversion). netx has no such field and lava-dl's loader ignores it: set ``block.neuron.v`` to it before a
run to reproduce the compiled network (neurodeploy's own netx reader applies it).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurodeploy.errors import UnsupportedError
from neurodeploy.frontend.netx import NETX_BIAS_EXP
from neurodeploy.backends.loihi.mapping import NEURON_OPS
from neurodeploy.ir.graph import Graph, Node



def _neuron(attrs: dict) -> dict:
    return {"type": "CUBA", "iDecay": attrs["du"] + 1, "vDecay": attrs["dv"], "vThMant": attrs["vth"],
            "refDelay": 1, "gradedSpike": False, "vInit": attrs.get("v_init", 0)}


def _bias_at_netx_exp(mant: np.ndarray, bias_exp: int, layer: str) -> np.ndarray:
    if bias_exp < NETX_BIAS_EXP:
        raise UnsupportedError(f"{layer}: bias exponent {bias_exp} < {NETX_BIAS_EXP} cannot be written exactly")
    return np.asarray(mant, np.int64) << (bias_exp - NETX_BIAS_EXP)


def _chip_layers(g: Graph) -> list[tuple[Node | None, Node, bool]]:
    """(synapse, neuron, flattened before the synapse) in order; raises for non-sequential graphs."""
    layers, previous = [], None
    for neuron in g.find(*NEURON_OPS):
        synapse = g.producer(neuron.inputs[0]) if neuron.inputs[0] else None
        flattened = False
        if synapse is not None:
            source = g.producer(synapse.inputs[0])
            while source is not None and source.op in ("Flatten", "Reshape"):
                flattened, source = True, g.producer(source.inputs[0])
            from_input = source is None and previous is None and g.inputs.get(synapse.inputs[0]) is not None
            if (source is not previous and not from_input) or synapse.op not in ("LoihiDense", "LoihiConv"):
                raise UnsupportedError(f"{neuron}: netx holds sequential networks only (layer input is not the "
                                       "previous layer)")
        elif previous is not None:
            raise UnsupportedError(f"{neuron}: only the first layer can be driven by its bias")
        layers.append((synapse, neuron, flattened))
        previous = neuron
    return layers


def _input_transform(g: Graph, first: Node) -> tuple[float, float]:
    """netx's input transform (weight, bias) when the host part is exactly x * weight + bias (a network read
    from netx); otherwise (1, 0): the host-computed bias mantissa is the input to feed."""
    quantize = g.producer(first.inputs[1])
    add = g.producer(quantize.inputs[0]) if quantize is not None and quantize.op == "Quantize" else None
    mul = g.producer(add.inputs[0]) if add is not None and add.op == "Add" else None
    if mul is None or mul.op != "Mul" or mul.inputs[0] not in g.inputs or quantize.attrs.get("scale") != 1.0:
        return 1.0, 0.0
    return float(g.param_of(mul, 1).reshape(-1)[0]), float(g.param_of(add, 1).reshape(-1)[0])


def netx_problem(g: Graph) -> str | None:
    """Why ``g`` cannot be written as a netx file, or None when it can."""
    if g.find("LoihiTTFS", "LoihiTTFSReadout"):
        return "netx describes CUBA LIF layers; TTFS / SC-TTFS neurons have no netx neuron type"
    stateless = [n.name for n in g.find("LoihiLIF", "LoihiVoltageReadout") if n.attrs.get("reset_every_step", 0)]
    if stateless:
        return (f"netx's CUBA neurons keep their state; layer(s) {', '.join(stateless[:3])}"
                f"{', ...' if len(stateless) > 3 else ''} ({len(stateless)} in all) reset every step (Lava's "
                "LIFReset): run this build with 'neurodeploy run'")
    late = [n.name for n in g.find("LoihiLIF", "LoihiVoltageReadout") if n.attrs.get("bias_start", 0)]
    if late:
        return (f"netx biases act from step 0; the biases of {', '.join(late)} start with their first input (a "
                "trained SNN's timing): run this build with 'neurodeploy run'")
    recurrent = [n.name for n in g.find("LoihiLIF") if len(n.inputs) > 2 and n.inputs[2]]
    if recurrent:
        return f"netx has no recurrent layers (recurrent synapses of {', '.join(recurrent)})"
    try:
        layers = _chip_layers(g)
    except UnsupportedError as e:
        return str(e)
    return None if layers else "no LIF layers to write"


def _write_layer(group, g: Graph, synapse: Node, neuron: Node) -> None:
    a = synapse.attrs
    shape = g.types[neuron.outputs[0]].shape
    weight = np.asarray(g.param_of(synapse, 1), np.int64) << max(a.get("weight_exp", 0), 0)
    if synapse.op == "LoihiDense" and a.get("weight_exp", 0) < 0:
        raise UnsupportedError(f"{synapse}: negative weight exponent cannot be written as integer netx weights")
    bias = _bias_at_netx_exp(g.param_of(neuron, 1), neuron.attrs.get("bias_exp", 0), neuron.name)
    if synapse.op == "LoihiConv":
        per_channel = bias.reshape(shape[0], -1)
        if (per_channel != per_channel[:, :1]).any():
            raise UnsupportedError(f"{neuron}: netx conv layers take one bias per channel")
        group.create_dataset("type", data=np.array([b"conv"]))
        pads, strides = a.get("pads", (0, 0, 0, 0)), a.get("strides", (1, 1))
        for key, value in (("weight", weight), ("bias", per_channel[:, 0]), ("stride", strides),
                           ("padding", pads[:2]), ("dilation", a.get("dilations", (1, 1))),
                           ("kernelSize", weight.shape[2:]), ("inChannels", weight.shape[1] * a.get("group", 1)),
                           ("outChannels", weight.shape[0]), ("groups", a.get("group", 1))):
            group.create_dataset(key, data=np.asarray(value))
    else:
        group.create_dataset("type", data=np.array([b"dense"]))
        for key, value in (("weight", weight), ("bias", bias), ("inFeatures", weight.shape[1]),
                           ("outFeatures", weight.shape[0])):
            group.create_dataset(key, data=np.asarray(value))
    group.create_dataset("shape", data=np.asarray(shape))


def export_netx(g: Graph, path: str | Path) -> Path:
    """Write ``g`` (lowered for Loihi, sequential) to ``path`` atomically."""
    import h5py

    path = Path(path)
    layers = _chip_layers(g)
    tmp = path.with_name(path.name + ".partial")
    with h5py.File(tmp, "w") as f:
        sim = f.create_group("simulation")
        sim.create_dataset("Ts", data=1)
        sim.create_dataset("tSample", data=int(g.meta["num_steps"]))
        index = 0
        for synapse, neuron, flattened in layers:
            if flattened:
                flat = f.create_group(f"layer/{index}")
                flat.create_dataset("type", data=np.array([b"flatten"]))
                flat.create_dataset("shape", data=np.array([1, 1, g.types[synapse.inputs[0]].size]))
                index += 1
            group = f.create_group(f"layer/{index}")
            neuron_group = group.create_group("neuron")
            for key, value in _neuron(neuron.attrs).items():
                neuron_group.create_dataset(key, data=np.bytes_(value) if isinstance(value, str) else value)
            if synapse is None:
                weight, bias = _input_transform(g, neuron)
                group.create_dataset("type", data=np.array([b"input"]))
                group.create_dataset("shape", data=np.asarray(g.types[neuron.outputs[0]].shape))
                group.create_dataset("weight", data=weight)
                group.create_dataset("bias", data=bias)
            else:
                _write_layer(group, g, synapse, neuron)
            index += 1
    os.replace(tmp, path)
    return path
