"""ANN -> TTFS / SC-TTFS conversion (papers/001).

Each ReLU becomes a ``TTFS`` or ``SCTTFS`` neuron followed by ``TTFSDecode`` (see ``neurodeploy.ir.ops.temporal``):
the layer's pre-activation is its membrane potential after decoding, and the decoded spikes replace the ReLU's
output. Average pooling is folded into the next layer first (it would otherwise need its own spiking layer).
Thresholds start from activation statistics: with lambda the chosen percentile of the ReLU's positive outputs on
calibration data, theta_e(0) = lambda and theta_e falls by a factor ``ttfs_range`` over the window; the
calibration threshold starts at the gap between the two largest encoding levels and decays alike, so a
calibration spike refines an encoding spike's value. ``finetune_thresholds`` then trains them.
"""
from __future__ import annotations

import math

from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.passes.convert_rate import relu_thresholds


def initial_curves(lam: float, steps: int, calibration: bool, value_range: float) -> dict:
    """Threshold attributes for a layer whose activations reach ``lam``."""
    k = math.log(value_range) / max(steps - 1, 1)
    attrs = {"num_steps": steps, "alpha": lam, "beta": 0.0, "k": k}
    if calibration:
        attrs.update({"alpha_c": lam * (1.0 - math.exp(-k)), "beta_c": 0.0, "k_c": k})
    return attrs


def convert_to_temporal(g: Graph, ctx) -> Graph:
    """ReLU -> TTFS (coding 'ttfs') or SCTTFS ('sc-ttfs') + TTFSDecode, thresholds from calibration activations.

    Requires: ``ctx.calibration``; no MaxPool. Keeps: argmax close to the ANN's (measured after fine-tuning).
    """
    cfg = ctx.conversion
    relus = g.find("Relu")
    lams = relu_thresholds(g, ctx, cfg.coding)
    g = g.copy()
    calibration = cfg.coding == "sc-ttfs"
    for relu in g.find("Relu"):
        value = relu.outputs[0]
        relu.op = "SCTTFS" if calibration else "TTFS"
        relu.attrs = initial_curves(lams[value], cfg.num_steps, calibration, cfg.ttfs_range)
        relu.outputs = [g.unique_name(f"{value}_enc")] + ([g.unique_name(f"{value}_cal")] if calibration else [])
        decode = Node("TTFSDecode", g.unique_name(f"{relu.name}_decode"), list(relu.outputs), [value],
                      dict(relu.attrs))
        g.nodes.insert(g.nodes.index(relu) + 1, decode)
    g.meta["thresholds"] = {r.name: lams[r.outputs[0]] for r in relus}
    g.meta["num_steps"] = cfg.num_steps
    g.meta["coding"] = cfg.coding
    g.meta["latency_steps"] = cfg.num_steps * len(relus)  # layers x T: one window per spiking layer, pipelined
    return infer_shapes(g)


def set_curves(g: Graph, neuron: Node, curves: dict) -> None:
    """Give a neuron and its decoders the same threshold attributes (the decoders read the sender's curves)."""
    for node in [neuron] + [c for c in g.consumers(neuron.outputs[0]) if c.op == "TTFSDecode"]:
        node.attrs = {**node.attrs, **curves}
