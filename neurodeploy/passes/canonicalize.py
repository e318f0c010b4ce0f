"""Canonicalizing passes on ANN graphs: fewer op variants for everything downstream, same outputs."""
from __future__ import annotations

import numpy as np

from neurodeploy.ir.graph import Graph
from neurodeploy.passes.fold_synapses import canonical_weighted


def remove_identities(g: Graph, ctx) -> Graph:
    """Remove Identity and (inference-mode) Dropout nodes. Keeps: outputs exactly equal."""
    g = g.copy()
    for node in g.find("Identity", "Dropout"):
        g.remove(node)
    return g


def normalize_gemm(g: Graph, ctx) -> Graph:
    """Rewrite every Gemm to alpha=1, beta=1, transB=1 (W [out, in]) with a bias parameter.

    Keeps: outputs equal up to float rounding.
    """
    g = g.copy()
    for node in g.find("Gemm"):
        a = node.attrs
        weight = g.param_of(node, 1)
        out_features = weight.shape[0] if a.get("transB", 0) else weight.shape[1]
        weight_t = weight if a.get("transB", 0) else weight.T
        bias = g.param_of(node, 2)
        bias = np.zeros(out_features, np.float32) if bias is None else np.broadcast_to(bias.reshape(-1), (out_features,))
        g.set_param(node, 1, (a.get("alpha", 1.0) * weight_t).astype(np.float32))
        g.set_param(node, 2, (a.get("beta", 1.0) * bias).astype(np.float32))
        node.attrs = {"transB": 1}
    return g


def fold_batchnorm(g: Graph, ctx) -> Graph:
    """Fold BatchNormalization into the Conv/Gemm that feeds only it.

    W <- W * gamma/sigma (per output channel), b <- beta + (b - mu) * gamma/sigma, sigma = sqrt(var + eps).
    Requires: canonical Gemm (normalize_gemm). A BN whose producer is not Conv/Gemm, or whose producer's
    output has other consumers, is left in place. Keeps: outputs equal (atol 1e-5).
    """
    g = g.copy()
    for bn in g.find("BatchNormalization"):
        producer = g.producer(bn.inputs[0])
        if producer is None or producer.op not in ("Conv", "Gemm") or bn.inputs[0] in g.outputs:
            continue
        if not canonical_weighted(producer):  # a Gemm not in the form W [out, in] (a trained SNN's, unnormalized)
            continue
        if len(g.consumers(bn.inputs[0])) != 1:
            continue
        gamma, beta, mean, var = (g.param_of(bn, i).astype(np.float64) for i in range(1, 5))
        factor = gamma / np.sqrt(var + bn.attrs.get("epsilon", 1e-5))
        weight = g.param_of(producer, 1).astype(np.float64)
        bias = g.param_of(producer, 2)
        bias = np.zeros(weight.shape[0]) if bias is None else bias.astype(np.float64)
        g.set_param(producer, 1, (weight * factor.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(np.float32))
        g.set_param(producer, 2, (beta + (bias - mean) * factor).astype(np.float32))
        g.remove(bn)
    return g
