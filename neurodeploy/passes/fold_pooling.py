"""Fold AveragePool into the weighted layer that follows it (Loihi has no pooling; netx cannot import it).

AvgPool(k, stride k, no padding) followed by Conv(kc, stride sc, pad pc) is exactly one strided Conv on the
unpooled input: kernel (kc-1)*k + k, stride sc*k, padding pc*k, each tap w/k^2 spread over its k x k window
(zero padding of the pooled map lands on zero padding of the input when the input size divides by k).
AvgPool -> Flatten -> Gemm becomes a Gemm on the unpooled, flattened input. Pools that do not fit these
conditions are left for the backend check to report.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node


def _plain_pool(g: Graph, pool: Node) -> int | None:
    """The pool size k when ``pool`` is a k x k, stride k, unpadded pool whose input divides by k."""
    k = pool.attrs.get("kernel_shape", (0, 0))
    strides = pool.attrs.get("strides", k)
    _, h, w = g.types[pool.inputs[0]].shape
    if k[0] != k[1] or tuple(strides) != tuple(k) or any(pool.attrs.get("pads", (0, 0, 0, 0))):
        return None
    return k[0] if h % k[0] == 0 and w % k[0] == 0 else None


def _spread(weight: np.ndarray, k: int) -> np.ndarray:
    """[M, C, kh, kw] taps on the pooled map -> [M, C, kh*k, kw*k] taps on the input, each / k^2."""
    return np.repeat(np.repeat(weight, k, axis=2), k, axis=3) / float(k * k)


def _fold_into_conv(g: Graph, pool: Node, conv: Node, k: int) -> None:
    a = conv.attrs
    g.set_param(conv, 1, _spread(g.param_of(conv, 1), k).astype(np.float32))
    kh, kw = g.param_of(conv, 1).shape[2:]
    conv.attrs = {**a, "kernel_shape": (kh, kw), "strides": tuple(s * k for s in a.get("strides", (1, 1))),
                  "pads": tuple(p * k for p in a.get("pads", (0, 0, 0, 0)))}
    conv.inputs[0] = pool.inputs[0]


def _fold_into_gemm(g: Graph, pool: Node, flatten: Node, gemm: Node, k: int) -> None:
    c, h, w = g.types[pool.outputs[0]].shape
    weight = g.param_of(gemm, 1).reshape(-1, c, h, w)
    g.set_param(gemm, 1, _spread(weight, k).reshape(weight.shape[0], -1).astype(np.float32))
    flatten.inputs[0] = pool.inputs[0]


def fold_average_pool(g: Graph, ctx) -> Graph:
    """Merge each plain AveragePool into its only consumer (Conv, or Flatten -> Gemm).

    Requires: dilation-free, ungrouped Conv after the pool. Keeps: outputs equal up to float rounding.
    """
    g = infer_shapes(g.copy())
    for pool in g.find("AveragePool"):
        consumers = g.consumers(pool.outputs[0])
        k = _plain_pool(g, pool)
        if k is None or len(consumers) != 1 or pool.outputs[0] in g.outputs:
            continue
        nxt = consumers[0]
        if nxt.op == "Conv" and nxt.attrs.get("group", 1) == 1 and tuple(nxt.attrs.get("dilations", (1, 1))) == (1, 1):
            _fold_into_conv(g, pool, nxt, k)
        elif nxt.op == "Flatten" and len(g.consumers(nxt.outputs[0])) == 1 \
                and g.consumers(nxt.outputs[0])[0].op == "Gemm":
            _fold_into_gemm(g, pool, nxt, g.consumers(nxt.outputs[0])[0], k)
        else:
            continue
        g.nodes.remove(pool)
        g.drop_unused_params()
        infer_shapes(g)
    return g


def pool_as_neurons(g: Graph, ctx) -> Graph:
    """Replace each plain AveragePool on spikes by a layer of relay neurons: a depthwise k x k Conv of ones into IF
    neurons with threshold k^2 and reset by subtraction, so a relay spike stands for k^2 input spikes (one mean).

    For chips whose cores limit fan-in (TrueNorth): the pool stays a small layer instead of widening the next
    layer's kernel k^2 times. Keeps: spike counts equal up to the relay's remainder (< 1 spike per window).
    """
    g = infer_shapes(g.copy())
    for pool in g.find("AveragePool"):
        k = _plain_pool(g, pool)
        if k is None or not g.types[pool.inputs[0]].timed:
            continue
        c = g.types[pool.inputs[0]].shape[0]
        weight = g.add_param(f"{pool.name}.relay_weight", np.ones((c, 1, k, k), np.float32))
        summed = g.unique_name(f"{pool.name}_sum")
        conv = Node("Conv", g.unique_name(f"{pool.name}_conv"), [pool.inputs[0], weight], [summed],
                    {"kernel_shape": (k, k), "strides": (k, k), "pads": (0, 0, 0, 0), "group": c})
        relay = Node("IF", pool.name, [summed], list(pool.outputs),
                     {"v_th": float(k * k), "reset": "subtract", "v_init": 0.0})
        i = g.nodes.index(pool)
        g.nodes[i:i + 1] = [conv, relay]
    return infer_shapes(g)
