"""PyNN export of a SpiNNaker-lowered network: ``pynn_network.npz`` (populations, connection lists) and
``pynn_network.py`` (builds and runs it with any PyNN simulator: pyNN.spiNNaker on a machine, pyNN.brian2 here).

Every population is IF_curr_delta (tau_m from its decay per tick, huge without leak; cm = tau_m (1 - e) so that an
input adds as it is), v_rest = v_reset = 0, threshold and i_offset from
the s16.15 integers; projections carry the dequantized 16-bit weights (mV) with delay 1 ms = 1 tick, so
sPyNNaker re-derives the same integers. The first population's i_offset is the host-computed input of each sample.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.backends.spinnaker.mapping import POPULATION_OPS
from neurodeploy.backends.spinnaker.quantize import FRACTION_BITS, dequantized
from neurodeploy.ir.graph import Graph
from neurodeploy.ir.ops import OPS, resolve_attrs


def connection_list(weight: np.ndarray, in_shape: tuple, out_shape: tuple, attrs: dict):
    """(pre, post, weight index) of every synapse of a Gemm [M, F] or an ungrouped Conv [M, C, kh, kw]."""
    if weight.ndim == 2:
        post, pre = np.nonzero(weight)
        return pre, post, np.ravel_multi_index((post, pre), weight.shape)
    m, c, kh, kw = weight.shape
    _, h, w = in_shape
    _, oh, ow = out_shape
    (sh, sw), (pt, pl), (dh, dw) = attrs["strides"], attrs["pads"][:2], attrs["dilations"]
    if attrs["group"] != 1:
        raise ValueError("grouped conv export is not supported")
    pre, post, index = [], [], []
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    for ky in range(kh):
        for kx in range(kw):
            iy, ix = oy * sh - pt + ky * dh, ox * sw - pl + kx * dw
            ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            positions_in, positions_out = (iy * w + ix)[ok], (oy * ow + ox)[ok]
            mm, cc = np.meshgrid(np.arange(m), np.arange(c), indexing="ij")
            mm, cc = mm.ravel()[:, None], cc.ravel()[:, None]
            pre.append((cc * h * w + positions_in).ravel())
            post.append((mm * oh * ow + positions_out).ravel())
            index.append(np.broadcast_to(np.ravel_multi_index((mm, cc, ky, kx), weight.shape), (mm.size, ok.sum())).ravel())
    pre, post, index = (np.concatenate(a) for a in (pre, post, index))
    keep = weight.reshape(-1)[index] != 0
    return pre[keep], post[keep], index[keep]


def network_arrays(g: Graph) -> dict[str, np.ndarray]:
    """The arrays of pynn_network.npz (population i: pop{i}_*; projection into population i: prj{i}_*)."""
    arrays, names = {}, []
    for i, neuron in enumerate(g.find(*POPULATION_OPS)):
        names.append(neuron.name)
        attrs = resolve_attrs(OPS[neuron.op], neuron)
        shape = g.types[neuron.outputs[0]].shape
        arrays[f"pop{i}_size"] = np.array(int(np.prod(shape)))
        arrays[f"pop{i}_v_thresh_raw"] = np.array(attrs["v_thresh"])
        arrays[f"pop{i}_v_init_raw"] = np.array(attrs["v_init"])
        arrays[f"pop{i}_exp_tc"] = np.array(attrs["exp_tc"] / 2 ** FRACTION_BITS)
        arrays[f"pop{i}_readout"] = np.array(neuron.op != "SpiNNakerIF")
        if not neuron.inputs[0]:
            continue
        syn = g.producer(neuron.inputs[0])
        sa = resolve_attrs(OPS[syn.op], syn)
        q = g.param_of(syn, 1)
        pre, post, index = connection_list(q, g.types[syn.inputs[0]].shape, shape, sa)
        arrays[f"prj{i}_pre"], arrays[f"prj{i}_post"] = pre.astype(np.int32), post.astype(np.int32)
        arrays[f"prj{i}_weight"] = dequantized(q.reshape(-1)[index], sa["left_shift_exc"], sa["left_shift_inh"])
        offset = np.broadcast_to(g.param_of(neuron, 1), shape).reshape(-1)
        arrays[f"pop{i}_i_offset"] = offset / 2 ** FRACTION_BITS
    (_, input_type), = g.inputs.items()
    if input_type.timed:  # a spike input: a SpikeSourceArray population in front of the first projection
        arrays["spike_input_size"] = np.array(input_type.size)
    arrays["population_names"] = np.array(names)
    arrays["fraction_bits"] = np.array(FRACTION_BITS)
    return arrays


SCRIPT = '''"""PyNN network exported by neurodeploy (target {target}); data in pynn_network.npz beside this file.

    python pynn_network.py [pyNN.spiNNaker|pyNN.brian2]   # runs the first sample's input in pynn_inputs.npz

run(sim, first_input, steps) builds the network, runs `steps` ticks of 1 ms and returns the spike count of every
neuron per population and the final voltage of the readout population; first_input is the first population's
i_offset (host layer), or the input spike train [steps, neurons] of a spike-input network.
"""
import importlib
import sys
from pathlib import Path

import numpy as np

DATA = np.load(Path(__file__).with_name("pynn_network.npz"))
HUGE_TAU_MS = 1e9  # IF_curr_delta without leak


def _threshold(sim, raw):
    # sPyNNaker fires at v >= threshold; brian2 at v > threshold: half a step lower gives the same ticks
    return (raw - 0.5 if "brian2" in sim.__name__ else raw) / 2 ** int(DATA["fraction_bits"])


def _brian2_timing(sim, projections):
    # On SpiNNaker a spike of tick t is input of tick t + 1, added before the threshold. brian2 delivers after the
    # threshold, and drops input that arrives between a spike and the next state update (refractoriness). So run
    # synapses after the state update and before the threshold, where they still read the previous tick's spikes,
    # and deliver those without further delay (that reading already is the one tick of delay).
    if "brian2" not in sim.__name__:
        return
    from brian2 import ms

    sim.state.network.schedule = ["start", "groups", "synapses", "thresholds", "resets", "end"]
    for prj in projections:
        for row in prj._brian2_synapses.values():
            for syn in row.values():
                syn.delay = 0 * ms


def _membrane(decay):
    # e = exp(-1 ms / tau_m) per tick; cm = tau_m (1 - e) makes R (1 - e) = 1, so an input adds as it is
    if decay >= 1.0:
        return {{"tau_m": HUGE_TAU_MS, "cm": 1.0}}
    tau_m = -1.0 / np.log(decay)
    return {{"tau_m": tau_m, "cm": tau_m * (1.0 - decay)}}


def _spike_source(sim, spikes):
    # spikes [ticks, neurons] of one sample; a spike of tick t reaches the first population at tick t + 1
    times = [[float(t) for t in np.nonzero(column)[0]] for column in np.asarray(spikes).reshape(len(spikes), -1).T]
    if "brian2" in sim.__name__:  # pyNN.brian2's spike generators run on brian2's default clock, not setup's
        import brian2

        brian2.defaultclock.dt = 1.0 * brian2.ms
    return sim.Population(len(times), sim.SpikeSourceArray(spike_times=times), label="spike_input")


def run(sim, first_input, steps):
    """first_input: the host's input of one sample: the first population's i_offset (s16.15), or for a spike-input
    network its spike train [steps, neurons]."""
    sim.setup(timestep=1.0, min_delay=1.0)
    scale = 2 ** int(DATA["fraction_bits"])
    pops, projections = [], []
    if "spike_input_size" in DATA:
        pops.append(_spike_source(sim, first_input))
    first_offset = first_input
    for i, name in enumerate(DATA["population_names"]):
        size = int(DATA[f"pop{{i}}_size"])
        offset = DATA[f"pop{{i}}_i_offset"] if f"pop{{i}}_i_offset" in DATA else np.asarray(first_offset, float).ravel() / scale
        thresh = 1e9 if bool(DATA[f"pop{{i}}_readout"]) else _threshold(sim, float(DATA[f"pop{{i}}_v_thresh_raw"]))
        cells = sim.IF_curr_delta(**_membrane(float(DATA.get(f"pop{{i}}_exp_tc", 1.0))), v_rest=0.0, v_reset=0.0,
                                  tau_refrac=0.0, v_thresh=thresh, i_offset=offset)
        pop = sim.Population(size, cells, label=str(name))
        pop.initialize(v=float(DATA[f"pop{{i}}_v_init_raw"]) / scale)
        pop.record(["spikes", "v"] if bool(DATA[f"pop{{i}}_readout"]) else "spikes")
        if f"prj{{i}}_pre" in DATA:
            for sign, receptor in ((1, "excitatory"), (-1, "inhibitory")):
                w = DATA[f"prj{{i}}_weight"]
                keep = w * sign > 0
                pairs = np.stack([DATA[f"prj{{i}}_pre"][keep], DATA[f"prj{{i}}_post"][keep],
                                  w[keep], np.ones(keep.sum())], axis=1)  # PyNN: inhibitory current weights < 0
                if len(pairs):
                    projections.append(sim.Projection(pops[-1], pop, sim.FromListConnector(
                        pairs, column_names=["weight", "delay"]), sim.StaticSynapse(), receptor_type=receptor))
        pops.append(pop)
    _brian2_timing(sim, projections)
    sim.run(float(steps))
    counts, voltage = {{}}, None
    for pop in pops[1:] if "spike_input_size" in DATA else pops:
        segment = pop.get_data().segments[0]
        counts[pop.label] = np.array([len(st) for st in segment.spiketrains])
        if segment.filter(name="v"):
            voltage = np.asarray(segment.filter(name="v")[0].magnitude)[-1]
    sim.end()
    return counts, voltage


if __name__ == "__main__":
    sim = importlib.import_module(sys.argv[1] if len(sys.argv) > 1 else "pyNN.spiNNaker")
    if not Path(__file__).with_name("pynn_inputs.npz").exists():
        sys.exit("pynn_inputs.npz (first_offset [N, neurons] in s16.15, or spikes [N, steps, neurons], and steps) is "
                 "needed: see neurodeploy docs/report.md")
    inputs = np.load(Path(__file__).with_name("pynn_inputs.npz"))
    first = inputs["spikes"][0] if "spikes" in inputs else inputs["first_offset"][0]
    counts, voltage = run(sim, first, int(inputs["steps"]))
    print({{k: int(v.sum()) for k, v in counts.items()}}, "class", int(np.argmax(voltage)))
'''


def export_pynn(g: Graph, folder: Path, first_offsets: np.ndarray | None = None) -> None:
    """Write pynn_network.npz, pynn_network.py and (given the host inputs of some samples) pynn_inputs.npz."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "pynn_network.npz", **network_arrays(g))
    (folder / "pynn_network.py").write_text(SCRIPT.format(target=g.meta.get("target", "spinnaker")))
    if first_offsets is not None:
        np.savez_compressed(folder / "pynn_inputs.npz", first_offset=first_offsets, steps=g.meta["num_steps"])
