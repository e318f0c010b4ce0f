"""Rate-coded ANN -> SNN conversion with data-based threshold balancing.

Each ReLU becomes an IF neuron with reset by subtraction whose threshold is lambda, the chosen percentile of
that ReLU's positive activations on calibration inputs (Rueckauer et al. 2017; 100 = the maximum). A spike
then stands for the value lambda: the IF output is followed by ``Mul(lambda)``, which
``fold_spike_scales`` pushes into the weights of the next Conv/Gemm, so the current reaching every layer
averages the ANN pre-activation (biases are kept and injected at every step). The input is presented by an
encoder for T steps and every graph output is read out by integrating it over those steps.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node

_PASS_THROUGH = ("AveragePool", "Flatten", "Reshape")  # linear, commute with a positive scalar factor


def replace_maxpool(g: Graph, ctx) -> Graph:
    """Refuse MaxPool (conversion.maxpool='error') or replace it by AveragePool ('avg').

    A rate-coded spike train has no cheap exact max; average pooling of the same window is the documented
    substitute (it changes the network, so the compile report shows the ANN accuracy after replacing).
    """
    pools = g.find("MaxPool")
    if not pools:
        return g
    if ctx.conversion.maxpool == "error":
        raise UnsupportedError(
            f"{len(pools)} MaxPool layer(s) cannot be rate-converted exactly; rerun with --maxpool avg to "
            "replace them by average pooling (see docs/architecture.md)", [str(p) for p in pools])
    g = g.copy()
    for node in g.find("MaxPool"):
        node.op = "AveragePool"
        node.attrs = {k: v for k, v in node.attrs.items() if k in ("kernel_shape", "strides", "pads")}
        node.attrs["count_include_pad"] = 0
    g.meta["maxpool_replaced_by_avgpool"] = [n.name for n in pools]
    return g


def activation_thresholds(g: Graph, values: list[str], x: np.ndarray, percentile: float) -> dict[str, float]:
    """Percentile of the positive entries of each named value when ``g`` runs on inputs ``x``."""
    from neurodeploy.sim.evaluate import run_batched

    with np.errstate(over="ignore", invalid="ignore"):  # overflowing activations are reported by relu_thresholds
        collected = run_batched(g, x, keep=values, reduce=lambda name, a: a[~(a <= 0)].astype(np.float32))
    finite = lambda a: bool(np.isfinite(a).all())
    return {v: (float(np.percentile(collected[v], percentile)) if finite(collected[v]) else float("nan"))
            if collected[v].size else 0.0 for v in values}


def relu_thresholds(g: Graph, ctx, coding: str) -> dict[str, float]:
    """Per ReLU output value, the activation percentile that becomes its layer's threshold; InputError without
    calibration inputs, UnsupportedError listing every ReLU with no positive activation (a layer that never spikes)."""
    if ctx.calibration is None:
        raise InputError(f"{coding} conversion needs calibration inputs for its thresholds: give a dataset")
    relus = g.find("Relu")
    thresholds = activation_thresholds(g, [r.outputs[0] for r in relus], ctx.calibration, ctx.conversion.percentile)
    overflow = [f"{r}: activations are NaN or beyond float32 on the calibration samples" for r in relus
                if not np.isfinite(thresholds[r.outputs[0]])]
    if overflow:
        raise InputError("the model's activations overflow (are its weights, biases or inputs far too large?):",
                         overflow)
    dead = [f"{r}: no positive activation on {len(ctx.calibration)} calibration samples" for r in relus
            if thresholds[r.outputs[0]] <= 0]
    if dead:
        raise UnsupportedError("layers that would never spike (threshold 0):", dead)
    return thresholds


def _encoder(g: Graph, input_name: str, cfg) -> Node:
    out = g.unique_name(f"{input_name}_spikes" if cfg.encoding != "direct" else f"{input_name}_steps")
    if cfg.encoding == "direct":
        return Node("DirectEncode", g.unique_name("encode"), [input_name], [out], {"num_steps": cfg.num_steps})
    return Node("RateEncode", g.unique_name("encode"), [input_name], [out],
                {"num_steps": cfg.num_steps, "distribution": cfg.encoding})


def _readout(g: Graph, value: str, cfg) -> Node:
    op = "MembraneReadout" if cfg.readout == "membrane" else "SpikeCount"
    return Node(op, g.unique_name("readout"), [value], [g.unique_name(f"{value}_readout")])


def balance_thresholds(g: Graph, ctx) -> Graph:
    """Convert ReLU -> IF (reset by subtraction) with thresholds from calibration activations.

    Requires: ``ctx.calibration`` inputs [N, *input shape]; no MaxPool. Adds encoders on the inputs and
    readouts on the outputs. Keeps: argmax of the outputs close to the ANN's (measured, not exact).
    """
    cfg = ctx.conversion
    relus = g.find("Relu")
    thresholds = relu_thresholds(g, ctx, "rate")
    g = g.copy()
    for name in list(g.inputs):
        g.insert_after(name, _encoder(g, name, cfg))
    for relu in g.find("Relu"):
        lam = thresholds[relu.outputs[0]]
        relu.op = "IF"
        relu.attrs = {"v_th": lam, "reset": cfg.reset, "v_init": cfg.v_init * lam}
        scale = Node("Mul", g.unique_name(f"{relu.name}_amplitude"), [relu.outputs[0]],
                     [g.unique_name(f"{relu.outputs[0]}_scaled")])
        g.insert_after(relu.outputs[0], scale)
        scale.inputs.append(g.add_param(f"{relu.name}.amplitude", np.array(lam, np.float32)))
    for value in list(g.outputs):
        g.insert_after(value, _readout(g, value, cfg))
    g.toposort()
    g.meta["thresholds"] = {r.name: thresholds[r.outputs[0]] for r in relus}
    g.meta["num_steps"] = cfg.num_steps
    return infer_shapes(g)


def _scalar(g: Graph, node: Node) -> float | None:
    p = g.param_of(node, 1)
    return float(p.reshape(-1)[0]) if p is not None and p.size == 1 and node.inputs[0] not in g.params else None


def _fold_one(g: Graph, mul: Node) -> bool:
    """Fold or move one scalar Mul one step downstream; True when the graph changed."""
    scale, out = _scalar(g, mul), mul.outputs[0]
    consumers = g.consumers(out)
    if scale is None or scale <= 0 or out in g.outputs or not consumers:
        return False
    weighted = [c for c in consumers if c.op in ("Conv", "Gemm") and c.inputs[0] == out]
    if weighted:  # these read the unscaled spikes with scaled weights; the Mul stays for any other reader
        for c in weighted:
            with np.errstate(over="ignore"):
                scaled = (g.param_of(c, 1) * scale).astype(np.float32)
            if not np.isfinite(scaled).all():
                raise InputError(f"{c}: its weights times the threshold {scale:.3g} of the layer before exceed "
                                 f"float32 (largest |weight| {float(np.abs(g.param_of(c, 1)).max()):.3g})")
            g.set_param(c, 1, scaled)
            c.inputs[0] = mul.inputs[0]
        if len(weighted) == len(consumers):
            g.remove(mul)
        return True
    if len(consumers) == 1 and consumers[0].op in _PASS_THROUGH and consumers[0].outputs[0] not in g.outputs:
        through = consumers[0]
        moved = g.unique_name(f"{through.outputs[0]}_unscaled")
        through.inputs[0], mul.inputs[0] = mul.inputs[0], moved
        mul.outputs[0], through.outputs[0] = through.outputs[0], moved
        g.nodes.remove(mul)
        g.nodes.insert(g.nodes.index(through) + 1, mul)
        return True
    return False


def fold_spike_scales(g: Graph, ctx) -> Graph:
    """Push positive scalar Mul nodes through pooling/flatten into the next Conv/Gemm weights.

    A Mul stays only for readers that are not Conv/Gemm (a residual Add, a graph output); a backend
    realises it as synaptic weights.
    Keeps: outputs equal up to float rounding.
    """
    g = g.copy()
    while any(_fold_one(g, mul) for mul in g.find("Mul")):
        pass
    return infer_shapes(g)
