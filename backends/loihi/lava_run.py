"""Build a Lava process network from a Loihi-lowered graph and run it with Lava's bit-accurate CPU models.

Each LoihiLIF / readout becomes a ``lava.proc.lif.process.LIF``, each LoihiDense a ``Dense``, each LoihiConv a
``Conv``. Lava lays images out as (W, H, C) where the IR uses (C, H, W): neuron shapes and per-neuron biases
are transposed, conv kernels are transposed and flipped (Lava's Conv is a true convolution), and a Dense after
a flatten gets its columns permuted to Lava's flattening order. The host layer (first Conv/Gemm and its
Quantize) runs in numpy and sets each sample's bias mantissas. Every sample runs from a reset state for the
graph's number of steps; spikes of every layer are recorded with ring buffers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodeploy.errors import UnsupportedError
from neurodeploy.ir import reference
from neurodeploy.backends.loihi.mapping import NEURON_OPS
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.ann import CURRENT_SUMS
from neurodeploy.passes.layers import padded_steps, upstream_of
from neurodeploy.progress import bar



def to_lava_layout(a: np.ndarray) -> np.ndarray:
    """IR per-sample layout (C, H, W) -> Lava's (W, H, C); 1-D stays."""
    return a.transpose(2, 1, 0) if a.ndim == 3 else a


def from_lava_layout(a: np.ndarray) -> np.ndarray:
    return a.transpose(2, 1, 0) if a.ndim == 3 else a


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """IR per-sample shape (C, H, W) -> Lava's (W, H, C); 1-D stays."""
    return tuple(reversed(shape)) if len(shape) == 3 else tuple(shape)


@dataclass
class LavaNetwork:
    """The Lava processes of one graph, and what a per-sample run needs to reset and read."""

    neurons: dict[str, object] = field(default_factory=dict)     # node name -> LIF process
    synapses: dict[str, object] = field(default_factory=dict)    # node name -> Dense / Conv process
    sinks: dict[str, object] = field(default_factory=dict)       # LIF node name -> RingBuffer
    host_bias: dict[str, str] = field(default_factory=dict)      # LIF node name -> host value of its bias
    sources: dict[str, object] = field(default_factory=dict)     # timed graph input -> spike RingBuffer
    initial_v: dict[str, np.ndarray] = field(default_factory=dict)


def _host_graph(g: Graph, values: list[str]) -> Graph:
    """The untimed nodes (the host layer) that compute ``values`` from the graph input."""
    nodes = [n for n in g.nodes if not any(g.types[v].timed for v in n.outputs)
             and n.op not in NEURON_OPS]
    return Graph(nodes, dict(g.inputs), values, g.params, dict(g.types), name=f"{g.name}-host")


def _lif(g: Graph, node: Node, steps: int):
    from lava.proc.io.sink import RingBuffer
    from lava.proc.lif.process import LIF, LIFReset

    shape = g.types[node.outputs[0]].shape
    neurons = lava_shape(shape)
    bias = g.params.get(node.inputs[1])
    bias = to_lava_layout(np.broadcast_to(bias, shape)) if bias is not None else np.zeros(neurons, np.int64)
    a = node.attrs
    v0 = np.full(neurons, a.get("v_init", 0), np.int64)
    settings = dict(shape=neurons, du=a["du"], dv=a["dv"], vth=a["vth"], bias_mant=bias.astype(np.int64),
                    bias_exp=a.get("bias_exp", 0), v=v0, name=node.name)
    if a.get("reset_every_step", 0):  # a stateless neuron: Lava's LIF that zeroes u and v at the start of every step
        lif = LIFReset(**settings, reset_interval=1, reset_offset=0)
    else:
        lif = LIF(**settings)
    sink = RingBuffer(shape=neurons, buffer=steps) if node.op == "LoihiLIF" else None
    if sink is not None:
        lif.s_out.connect(sink.a_in)
    return lif, sink, v0


def _dense_weights(g: Graph, node: Node) -> np.ndarray:
    """Dense weights with columns in Lava's order when the input was flattened from a (C, H, W) layer."""
    weight = g.param_of(node, 1)
    source = g.producer(node.inputs[0])
    if source is not None and source.op in ("Flatten", "Reshape"):
        shape = g.types[source.inputs[0]].shape
        if len(shape) == 3:
            order = np.arange(int(np.prod(shape))).reshape(shape).transpose(2, 1, 0).reshape(-1)
            weight = weight[:, order]
    return weight


def synapse_process(g: Graph, node: Node):
    """The Lava Dense or Conv process of a LoihiDense / LoihiConv node (weights in Lava's layout)."""
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import Dense
    from lava.utils.weightutils import SignMode

    a = node.attrs
    if node.op == "LoihiDense":
        mode = {"mixed": SignMode.MIXED, "excitatory": SignMode.EXCITATORY, "inhibitory": SignMode.INHIBITORY}
        return Dense(weights=_dense_weights(g, node), weight_exp=a.get("weight_exp", 0),
                     num_weight_bits=a.get("num_weight_bits", 8), sign_mode=mode[a.get("sign_mode", "mixed")],
                     name=node.name)
    pads = a.get("pads", (0, 0, 0, 0))
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise UnsupportedError(f"{node}: Lava's Conv pads symmetrically; got pads {list(pads)}")
    weight = g.param_of(node, 1).transpose(0, 3, 2, 1)[:, ::-1, ::-1] << a.get("weight_exp", 0)
    in_shape = lava_shape(g.types[node.inputs[0]].shape)
    strides, dilations = a.get("strides", (1, 1)), a.get("dilations", (1, 1))
    return Conv(weight=np.ascontiguousarray(weight), input_shape=in_shape, padding=(pads[1], pads[0]),
                stride=(strides[1], strides[0]), dilation=(dilations[1], dilations[0]), groups=a.get("group", 1),
                name=node.name)


def _spike_source(g: Graph, value: str) -> tuple[str, bool]:
    """The LIF node (or timed graph input) whose spikes reach ``value`` through Flatten/Reshape, and whether
    they were flattened on the way."""
    producer, chain = upstream_of(g, value)
    flattened, value = bool(chain), chain[0].inputs[0] if chain else value
    if producer is not None and producer.op == "PadSteps":  # the host appends the silent steps to the input
        producer, value = None, producer.inputs[0]
    if producer is None and value in g.inputs and g.inputs[value].timed:
        return value, flattened
    if producer is None or producer.op != "LoihiLIF":
        raise UnsupportedError(f"value '{value}' does not come from a LoihiLIF layer; Lava cannot wire it")
    return producer.name, flattened


def _out_port(g: Graph, net: LavaNetwork, source: str, steps: int):
    """The Lava output port of a LIF layer, or of a spike source created for a timed graph input."""
    if source in net.neurons:
        return net.neurons[source].s_out
    if source not in net.sources:
        from lava.proc.io.source import RingBuffer

        net.sources[source] = RingBuffer(data=np.zeros(lava_shape(g.inputs[source].shape) + (steps,), np.int32))
    return net.sources[source].s_out


def _target_neuron(g: Graph, synapse: Node) -> Node:
    """The neuron layer a synapse node feeds, directly or through an Add (Lava sums an InPort's inputs)."""
    (consumer,) = g.consumers(synapse.outputs[0])
    if consumer.op in CURRENT_SUMS:
        (consumer,) = g.consumers(consumer.outputs[0])
    if consumer.op not in NEURON_OPS:
        raise UnsupportedError(f"{synapse}: its current does not reach a LIF layer; Lava cannot wire it")
    return consumer


def build_network(g: Graph) -> LavaNetwork:
    """Create and connect the Lava processes of a Loihi-lowered graph."""
    net = LavaNetwork()
    steps = int(g.meta["num_steps"])
    for node in g.find(*NEURON_OPS):
        net.neurons[node.name], sink, net.initial_v[node.name] = _lif(g, node, steps)
        if sink is not None:
            net.sinks[node.name] = sink
        if node.inputs[1] not in g.params:
            net.host_bias[node.name] = node.inputs[1]
    for node in g.find("LoihiDense", "LoihiConv"):
        syn = net.synapses[node.name] = synapse_process(g, node)
        source, flattened = _spike_source(g, node.inputs[0])
        out_port = _out_port(g, net, source, steps)
        (out_port.flatten() if flattened else out_port).connect(syn.s_in)
        syn.a_out.connect(net.neurons[_target_neuron(g, node).name].a_in)
    for node in g.find("LoihiLIF"):
        if len(node.inputs) > 2 and node.inputs[2]:
            lif = net.neurons[node.name]
            syn = net.synapses[f"{node.name}.recurrent"] = _recurrent_dense(g, node)
            lif.s_out.connect(syn.s_in)
            syn.a_out.connect(lif.a_in)
    return net


def _recurrent_dense(g: Graph, node: Node):
    """The Dense process from a LIF layer's spikes back to its own input (the chip's one-step delay included)."""
    from lava.proc.dense.process import Dense
    from lava.utils.weightutils import SignMode

    weight = g.param_of(node, 2)
    mode = SignMode.EXCITATORY if weight.min() >= 0 else SignMode.INHIBITORY if weight.max() <= 0 else SignMode.MIXED
    return Dense(weights=weight, weight_exp=node.attrs.get("rec_weight_exp", 0), sign_mode=mode,
                 name=f"{node.name}_recurrent")


def _spike_data(spikes: np.ndarray) -> np.ndarray:
    """[T, *IR shape] spikes of one sample -> a source RingBuffer's data [*Lava shape, T]."""
    return np.moveaxis(np.stack([to_lava_layout(s) for s in spikes]), 0, -1).astype(np.int32)


def reset_synapses(synapses) -> None:
    """Empty the one-step output buffers of Dense / Conv processes between samples."""
    for syn in synapses:
        buffer = syn.a_buff if hasattr(syn, "a_buff") else syn.a_buf
        buffer.set(np.zeros(buffer.shape, np.int64))


def host_values(g: Graph, values: list[str], x: np.ndarray) -> dict[str, np.ndarray]:
    """The per-sample values the host computes before a run (the first layer's transform), for every sample."""
    return reference.run(_host_graph(g, values), {next(iter(g.inputs)): x}) if values else {}


def _reset(net: LavaNetwork, biases: dict[str, np.ndarray]) -> None:
    for name, lif in net.neurons.items():
        lif.u.set(np.zeros(lif.u.shape, np.int64))
        lif.v.set(net.initial_v[name])
        if name in biases:
            lif.bias_mant.set(biases[name])
    reset_synapses(net.synapses.values())


def _run_with_bias_starts(g: Graph, net: LavaNetwork, process, steps: int, first_run: bool) -> None:
    """Run one sample for ``steps`` steps; a layer whose bias starts late (``bias_start``: its synaptic delay) runs with
    bias 0 until then, and the host writes its bias between run segments, as it writes biases between samples."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    late = {n.name: n.attrs["bias_start"] for n in g.find(*NEURON_OPS) if n.attrs.get("bias_start", 0) > 0}
    for name in late:
        zeros = np.zeros(net.neurons[name].bias_mant.shape, np.int64)
        if first_run:  # before the first run the processes are not compiled: set the initial value
            net.neurons[name].bias_mant.init = zeros
        else:
            net.neurons[name].bias_mant.set(zeros)
    done = 0
    for start in sorted(set(late.values())) + [steps]:
        if start > done:
            process.run(condition=RunSteps(num_steps=start - done), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            done = start
        for name in [n for n, s in late.items() if s == start]:
            node = g.node(name)
            bias = to_lava_layout(np.broadcast_to(g.params[node.inputs[1]], g.types[node.outputs[0]].shape))
            net.neurons[name].bias_mant.set(bias.astype(np.int64))


def run_lava(g: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run every sample of ``x`` ([N, ...], or [T, N, ...] spikes for a timed input) through Lava; returns
    spikes per LoihiLIF [T, N, *IR shape] and readouts.

    Keys are the LoihiLIF output values (spikes) and the readout output values, as in ``reference.run``.
    """

    if g.find("LoihiTTFS"):
        from neurodeploy.backends.loihi.lava_temporal import run_lava_temporal

        return run_lava_temporal(g, x)
    steps = int(g.meta["num_steps"])
    net = build_network(g)
    input_type = next(iter(g.inputs.values()))
    samples = x.shape[1] if input_type.timed else len(x)
    host = host_values(g, sorted(set(net.host_bias.values())), x)
    spikes = {n.outputs[0]: [] for n in g.find("LoihiLIF")}
    readouts = {n.outputs[0]: [] for n in g.find("LoihiVoltageReadout")}
    any_process = next(iter(net.neurons.values()))
    try:
        with bar(samples, "Lava") as progress:
            for i in range(samples):
                _run_sample(g, net, any_process, host, x, i, steps, spikes, readouts)
                progress.update()
    finally:
        any_process.stop()
    out = {v: np.stack(s, axis=1).astype(np.float32) for v, s in spikes.items()}
    out.update({v: np.stack(r).astype(np.float32) for v, r in readouts.items()})
    return out


def _run_sample(g: Graph, net: LavaNetwork, any_process, host: dict, x: np.ndarray, i: int, steps: int,
                spikes: dict, readouts: dict) -> None:
    """Reset the network to sample ``i`` (biases, input spikes), run it, and append what the sinks recorded."""
    biases = {layer: to_lava_layout(host[value][i]) for layer, value in net.host_bias.items()}
    if i:
        _reset(net, biases)
    else:  # before the first run the processes are not compiled yet: set the initial values
        for layer, bias in biases.items():
            net.neurons[layer].bias_mant.init = bias.astype(np.int64)
    for source in net.sources.values():
        sample = x[:, i]
        data = _spike_data(np.concatenate([sample, np.zeros((padded_steps(g),) + sample.shape[1:], sample.dtype)]))
        if i:
            source.data.set(data)
        else:
            source.data.init = data
    _run_with_bias_starts(g, net, any_process, steps, first_run=not i)
    for node in g.find("LoihiLIF"):
        data = np.moveaxis(net.sinks[node.name].data.get(), -1, 0)  # [T, *lava shape]
        spikes[node.outputs[0]].append(np.stack([from_lava_layout(d) for d in data]))
    for node in g.find("LoihiVoltageReadout"):
        readouts[node.outputs[0]].append(from_lava_layout(net.neurons[node.name].v.get()))
