"""Every op's numpy reference against torch (ANN ops, atol 1e-5) or hand-computed traces (neuron ops)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurodeploy.ir import reference
from neurodeploy.ir.ops import OPS

from helpers import single_op_graph

ATOL = 1e-5


def run_single(g, x, y=None):
    feeds = {"x": x} if y is None else {"x": x, "y": y}
    return reference.run(g, feeds)["out"]


@pytest.mark.parametrize("stride,padding,groups,dilation,bias", [
    (1, 0, 1, 1, True), (2, 1, 1, 1, False), (1, 1, 2, 1, True), (1, 2, 1, 2, True), (2, 1, 6, 1, True),
    ((1, 2), (0, 1), 3, 1, False),
])
def test_conv_matches_torch(stride, padding, groups, dilation, bias):
    conv = torch.nn.Conv2d(6, 12, 3, stride=stride, padding=padding, groups=groups, dilation=dilation, bias=bias)
    x = np.random.randn(3, 6, 9, 11).astype(np.float32)
    s, p, d = (stride, stride) if isinstance(stride, int) else stride, (padding, padding) if isinstance(
        padding, int) else padding, (dilation, dilation)
    attrs = {"strides": s, "pads": (p[0], p[1], p[0], p[1]), "dilations": d, "group": groups}
    params = [conv.weight.detach().numpy()] + ([conv.bias.detach().numpy()] if bias else [])
    g = single_op_graph("Conv", (6, 9, 11), params, attrs)
    np.testing.assert_allclose(run_single(g, x), conv(torch.from_numpy(x)).detach().numpy(), atol=ATOL)


@pytest.mark.parametrize("trans_b,alpha,beta", [(1, 1.0, 1.0), (0, 0.5, 2.0)])
def test_gemm_matches_torch(trans_b, alpha, beta):
    w = np.random.randn(7, 5).astype(np.float32)  # [out, in]
    b = np.random.randn(7).astype(np.float32)
    x = np.random.randn(4, 5).astype(np.float32)
    g = single_op_graph("Gemm", (5,), [w if trans_b else w.T, b], {"transB": trans_b, "alpha": alpha, "beta": beta})
    expected = alpha * F.linear(torch.from_numpy(x), torch.from_numpy(w)).numpy() + beta * b
    np.testing.assert_allclose(run_single(g, x), expected, atol=ATOL)


@pytest.mark.parametrize("kernel,stride,pad,include_pad", [(2, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 0)])
def test_average_pool_matches_torch(kernel, stride, pad, include_pad):
    x = np.random.randn(2, 3, 8, 7).astype(np.float32)
    g = single_op_graph("AveragePool", (3, 8, 7), attrs={
        "kernel_shape": (kernel, kernel), "strides": (stride, stride), "pads": (pad,) * 4,
        "count_include_pad": include_pad})
    expected = F.avg_pool2d(torch.from_numpy(x), kernel, stride, pad, count_include_pad=bool(include_pad))
    np.testing.assert_allclose(run_single(g, x), expected.numpy(), atol=ATOL)


@pytest.mark.parametrize("kernel,stride,pad", [(2, 2, 0), (3, 2, 1)])
def test_max_pool_matches_torch(kernel, stride, pad):
    x = np.random.randn(2, 3, 8, 8).astype(np.float32)
    g = single_op_graph("MaxPool", (3, 8, 8), attrs={
        "kernel_shape": (kernel, kernel), "strides": (stride, stride), "pads": (pad,) * 4})
    np.testing.assert_allclose(run_single(g, x), F.max_pool2d(torch.from_numpy(x), kernel, stride, pad).numpy(),
                               atol=ATOL)


@pytest.mark.parametrize("shape", [(6,), (4, 5, 5)])
def test_batchnorm_matches_torch(shape):
    bn = torch.nn.BatchNorm1d(shape[0]) if len(shape) == 1 else torch.nn.BatchNorm2d(shape[0])
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-1, 1)
    params = [t.detach().numpy() for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)]
    x = np.random.randn(3, *shape).astype(np.float32)
    g = single_op_graph("BatchNormalization", shape, params, {"epsilon": bn.eps})
    np.testing.assert_allclose(run_single(g, x), bn.eval()(torch.from_numpy(x)).detach().numpy(), atol=ATOL)


def test_relu_flatten_reshape_add_mul():
    x = np.random.randn(2, 3, 4, 4).astype(np.float32)
    y = np.random.randn(2, 3, 4, 4).astype(np.float32)
    np.testing.assert_allclose(run_single(single_op_graph("Relu", (3, 4, 4)), x), np.maximum(x, 0))
    np.testing.assert_array_equal(run_single(single_op_graph("Flatten", (3, 4, 4)), x), x.reshape(2, 48))
    reshape = single_op_graph("Reshape", (3, 4, 4), [np.array([0, 12, -1], np.int64)])
    np.testing.assert_array_equal(run_single(reshape, x), x.reshape(2, 12, 4))
    np.testing.assert_allclose(run_single(single_op_graph("Add", (3, 4, 4), second_input=True), x, y), x + y)
    scale = single_op_graph("Mul", (3, 4, 4), [np.array(2.5, np.float32)])
    np.testing.assert_allclose(run_single(scale, x), 2.5 * x, atol=ATOL)


def _timed(values) -> np.ndarray:
    return np.asarray(values, np.float32).reshape(-1, 1, 1)  # [T, N=1, 1]


@pytest.mark.parametrize("reset,expected", [("subtract", [0, 1, 1, 0]), ("zero", [0, 1, 0, 1])])
def test_if_neuron_hand_computed(reset, expected):
    # v: 0.7, 1.4 (spike), then subtract: 0.4 -> 1.1 (spike) -> 0.1 -> 0.8; zero: 0 -> 0.7 -> 1.4 (spike)
    g = single_op_graph("IF", (1,), attrs={"v_th": 1.0, "reset": reset}, timed=True)
    np.testing.assert_array_equal(run_single(g, _timed([0.7] * 4)).reshape(-1), expected)


def test_if_neuron_initial_potential():
    g = single_op_graph("IF", (1,), attrs={"v_th": 1.0, "v_init": 0.5}, timed=True)
    # v: 0.8 -> 1.1 (spike, 0.1) -> 0.4 -> 0.7
    np.testing.assert_array_equal(run_single(g, _timed([0.3] * 4)).reshape(-1), [0, 1, 0, 0])


@pytest.mark.parametrize("i_decay,expected", [(1.0, [0, 0, 1]), (0.5, [0, 1, 1])])
def test_lif_neuron_hand_computed(i_decay, expected):
    # i_decay 1: i = x; v = 1, 1.5, 1.75 (spike). i_decay 0.5: i = 1, 1.5, 1.75; v = 1, 2.0 (spike, 0.4), 1.95
    g = single_op_graph("LIF", (1,), attrs={"v_th": 1.6, "v_decay": 0.5, "i_decay": i_decay}, timed=True)
    np.testing.assert_array_equal(run_single(g, _timed([1.0] * 3)).reshape(-1), expected)


def test_readouts():
    x = np.random.rand(5, 2, 3).astype(np.float32)
    counts = single_op_graph("SpikeCount", (3,), timed=True)
    np.testing.assert_allclose(run_single(counts, x), x.sum(0), atol=ATOL)
    leaky = single_op_graph("MembraneReadout", (3,), attrs={"v_decay": 0.5}, timed=True)
    expected = sum(x[t] * 0.5 ** (4 - t) for t in range(5))
    np.testing.assert_allclose(run_single(leaky, x), expected, atol=ATOL)


@pytest.mark.parametrize("distribution", ["bernoulli", "poisson"])
def test_rate_encoder_statistics(distribution):
    x = np.array([[0.0, 0.2, 0.5, 1.0]], np.float32)
    g = single_op_graph("RateEncode", (4,), attrs={"num_steps": 4000, "distribution": distribution, "seed": 3})
    rate = run_single(g, x).mean(axis=0)[0]
    expected = x[0] if distribution == "bernoulli" else 1 - np.exp(-x[0])
    np.testing.assert_allclose(rate, expected, atol=0.03)
    assert set(np.unique(run_single(g, x))) <= {0.0, 1.0}


def test_direct_encoder_repeats_input():
    x = np.random.rand(2, 3).astype(np.float32)
    out = run_single(single_op_graph("DirectEncode", (3,), attrs={"num_steps": 4}), x)
    assert out.shape == (4, 2, 3)
    np.testing.assert_array_equal(out[3], x)


def test_ann_op_on_timed_values_is_applied_per_step():
    x = np.random.randn(4, 2, 3, 5, 5).astype(np.float32)  # [T, N, C, H, W]
    g = single_op_graph("AveragePool", (3, 5, 5), attrs={"kernel_shape": (2, 2), "strides": (2, 2)}, timed=True)
    out = run_single(g, x)
    for t in range(4):
        np.testing.assert_allclose(out[t], F.avg_pool2d(torch.from_numpy(x[t]), 2).numpy(), atol=ATOL)


def test_every_op_has_doc_and_reference():
    for name, op in OPS.items():
        assert op.doc and callable(op.ref) and callable(op.infer), name
