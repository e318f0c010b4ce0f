"""TTFS / SC-TTFS on Lava: neurodeploy's own Lava process (``TTFSNeuron``) with a fixed-point CPU process model
(tag ``fixed_pt``), wired with Lava's own Dense / Conv synapse processes.

The process model keeps the voltage, the two "spike sent" flags and a step counter as Vars, receives the
encoding and calibration currents on two InPorts, and sends the encoding and calibration spikes on two OutPorts.
Its arithmetic per step is :func:`neurodeploy.ir.ops.loihi_temporal.ttfs_step`, the definition the golden
simulator (the LoihiTTFS op reference) uses too; on Loihi 2 the same tables would go into microcode.
A LoihiTTFSReadout is the same process with no threshold tables; its voltage is read after the run.
"""
from __future__ import annotations

import functools

import numpy as np

from neurodeploy.backends.loihi.lava_run import (
    from_lava_layout,
    host_values,
    lava_shape,
    reset_synapses,
    synapse_process,
    to_lava_layout,
)
from neurodeploy.backends.loihi.mapping import spike_train
from neurodeploy.errors import UnsupportedError
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops.loihi_temporal import ttfs_step

_TABLES = ("decode_enc", "decode_cal", "threshold_enc", "threshold_cal")


@functools.lru_cache(maxsize=None)
def _process_classes():
    """Define the Lava process and its model on first use (Lava is imported only when it runs). Lava looks for
    models in the process's folder by importing its modules one by one, which a package cannot serve; the run
    names the model explicitly instead (``exception_proc_model_map``)."""
    from lava.magma.core.decorator import implements, requires, tag
    from lava.magma.core.model.py.model import PyLoihiProcessModel
    from lava.magma.core.model.py.ports import PyInPort, PyOutPort
    from lava.magma.core.model.py.type import LavaPyType
    from lava.magma.core.process.ports.ports import InPort, OutPort
    from lava.magma.core.process.process import AbstractProcess
    from lava.magma.core.process.variable import Var
    from lava.magma.core.resources import CPU
    from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

    class TTFSNeuron(AbstractProcess):
        """Fixed-point TTFS / SC-TTFS neurons of one layer; tables of ``window`` entries (zeros where unused)."""

        def __init__(self, *, shape, v, window, encode_start, decode_shift, state_bits, tables, counts, name=None):
            super().__init__(shape=shape, name=name)
            self.a_enc, self.a_cal = InPort(shape=shape), InPort(shape=shape)
            self.s_enc, self.s_cal = OutPort(shape=shape), OutPort(shape=shape)
            self.v = Var(shape=shape, init=v)
            self.sent = Var(shape=(2,) + tuple(shape), init=0)
            self.t = Var(shape=(1,), init=0)
            self.params = Var(shape=(4,), init=np.array([window, encode_start, decode_shift, state_bits]))
            self.tables = Var(shape=(4, window), init=tables)   # rows in _TABLES order
            self.counts = Var(shape=(4,), init=counts)          # entries in use per row (0 or window)

    @implements(proc=TTFSNeuron, protocol=LoihiProtocol)
    @requires(CPU)
    @tag("fixed_pt")
    class PyTTFSNeuronModelFixed(PyLoihiProcessModel):
        a_enc: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
        a_cal: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
        s_enc: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
        s_cal: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
        v: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)
        sent: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
        t: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
        params: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
        tables: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
        counts: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

        def run_spk(self):
            a_enc, a_cal = self.a_enc.recv(), self.a_cal.recv()
            window, start, shift, bits = (int(p) for p in self.params)
            attrs = {"window": window, "encode_start": start, "decode_shift": shift, "state_bits": bits}
            attrs.update({key: self.tables[i, :int(self.counts[i])] for i, key in enumerate(_TABLES)})
            v, sent = self.v.astype(np.int64), self.sent.astype(bool)
            fire_enc, fire_cal = ttfs_step(int(self.t[0]), v, sent, a_enc if self.counts[0] else None,
                                           a_cal if self.counts[1] else None, attrs)
            self.v[:] = v
            self.sent[:] = sent
            self.t[0] += 1
            self.s_enc.send(fire_enc.astype(np.int32))
            self.s_cal.send(fire_cal.astype(np.int32))

    return TTFSNeuron, PyTTFSNeuronModelFixed


def _neuron_process(g: Graph, node: Node):
    a = node.attrs
    window = int(a["window"])
    shape = g.types[node.outputs[0]].shape
    tables = np.zeros((4, window), np.int64)
    counts = np.zeros(4, np.int64)
    for i, key in enumerate(_TABLES):
        values = a.get(key, ())
        tables[i, :len(values)], counts[i] = values, len(values)
    bias = g.params.get(node.inputs[2])
    v0 = to_lava_layout(np.broadcast_to(bias, shape)) if bias is not None else np.zeros(lava_shape(shape), np.int64)
    process = _process_classes()[0](shape=lava_shape(shape), v=v0.astype(np.int64), window=window,
                                 encode_start=int(a["encode_start"]), decode_shift=int(a.get("decode_shift", 0)),
                                 state_bits=int(a.get("state_bits", 24)), tables=tables, counts=counts,
                                 name=node.name)
    return process, v0.astype(np.int64)


def _sender_port(g: Graph, neurons: dict, value: str):
    """The Lava OutPort whose spikes reach ``value`` through Flatten/Reshape, and whether they were flattened."""
    source, train = spike_train(g, value)
    if source is None or g.node(source).op != "LoihiTTFS":
        raise UnsupportedError(f"value '{value}' does not come from a LoihiTTFS layer; Lava cannot wire it")
    process = neurons[source]
    return (process.s_enc if train == g.node(source).outputs[0] else process.s_cal), train != value


def _build(g: Graph, steps: int):
    from lava.proc.io.sink import RingBuffer

    neurons, initial_v, synapses, sinks = {}, {}, {}, {}
    for node in g.find("LoihiTTFS", "LoihiTTFSReadout"):
        neurons[node.name], initial_v[node.name] = _neuron_process(g, node)
        if node.op == "LoihiTTFS":
            ports = (neurons[node.name].s_enc, neurons[node.name].s_cal)
            for value, port in zip(node.outputs, ports):
                sinks[value] = RingBuffer(shape=port.shape, buffer=steps)
                port.connect(sinks[value].a_in)
    for node in g.find("LoihiTTFS", "LoihiTTFSReadout"):
        for value, port_name in zip(node.inputs[:2], ("a_enc", "a_cal")):
            if not value:
                continue
            synapse = g.producer(value)
            process = synapses[synapse.name] = synapse_process(g, synapse)
            out_port, flattened = _sender_port(g, neurons, synapse.inputs[0])
            (out_port.flatten() if flattened else out_port).connect(process.s_in)
            process.a_out.connect(getattr(neurons[node.name], port_name))
    return neurons, initial_v, synapses, sinks


def run_lava_temporal(g: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run every sample of ``x`` [N, ...] through Lava; returns every LoihiTTFS spike train [T, N, *IR shape]
    and every readout [N, *IR shape], keyed by their value names as in ``reference.run``."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    steps = int(g.meta["num_steps"])
    neurons, initial_v, synapses, sinks = _build(g, steps)
    hosted = {n.name: n.inputs[2] for n in g.find("LoihiTTFS", "LoihiTTFSReadout") if n.inputs[2] not in g.params}
    host = host_values(g, sorted(set(hosted.values())), x)
    spikes = {value: [] for value in sinks}
    readouts = {n.outputs[0]: [] for n in g.find("LoihiTTFSReadout")}
    any_process = next(iter(neurons.values()))
    model = _process_classes()[1]
    config = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={p: model for p in neurons.values()})
    from neurodeploy.progress import bar_range

    try:
        for i in bar_range(len(x), "Lava (TTFS)"):
            for name, process in neurons.items():
                v0 = to_lava_layout(host[hosted[name]][i]).astype(np.int64) if name in hosted else initial_v[name]
                if i == 0:  # not compiled yet: set initial values
                    process.v.init = v0
                    continue
                process.v.set(v0)
                process.sent.set(np.zeros(process.sent.shape, np.int64))
                process.t.set(np.zeros(1, np.int64))
            if i:
                reset_synapses(synapses.values())
            any_process.run(condition=RunSteps(num_steps=steps), run_cfg=config)
            for value, sink in sinks.items():
                data = np.moveaxis(sink.data.get(), -1, 0)
                spikes[value].append(np.stack([from_lava_layout(d) for d in data]))
            for node in g.find("LoihiTTFSReadout"):
                readouts[node.outputs[0]].append(from_lava_layout(neurons[node.name].v.get()))
    finally:
        any_process.stop()
    out = {v: np.stack(s, axis=1).astype(np.float32) for v, s in spikes.items()}
    out.update({v: np.stack(r).astype(np.float32) for v, r in readouts.items()})
    return out
