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


# ------------------------------------------------------------------ every op's checks against mutated nodes

def _seeds():
    """One valid node per op: (inputs: TensorType activation | array parameter | None absent, attrs, outputs)."""
    from neurodeploy.ir.graph import TensorType

    w = lambda *shape: np.random.default_rng(0).normal(size=shape).astype(np.float32)
    q = lambda *shape: np.random.default_rng(0).integers(-3, 4, size=shape)
    x4, s4, i4 = TensorType((4,)), TensorType((4,), timed=True), TensorType((4,), "int64", timed=True)
    img, spikes_img = TensorType((2, 6, 6)), TensorType((2, 6, 6), timed=True)
    window = {"kernel_shape": (2, 2), "strides": (2, 2), "pads": (0, 0, 1, 1)}
    curve = {"num_steps": 3, "alpha": 1.0, "beta": 0.0, "k": 0.5}
    calibrated = {**curve, "alpha_c": 0.5, "beta_c": 0.0, "k_c": 0.5}
    lif = {"du": 4095, "dv": 0, "vth": 10}
    ttfs = {"window": 3, "encode_start": 3, "decode_enc": (2, 1, 1), "threshold_enc": (9, 6, 3)}
    return {
        "Conv": ([img, w(3, 2, 3, 3), w(3)], {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1), "strides": (2, 1)}, 1),
        "Gemm": ([TensorType((6,)), w(4, 6), w(4)], {"transB": 1}, 1),
        "AveragePool": ([img], window, 1), "MaxPool": ([img], window, 1),
        "BatchNormalization": ([img, w(2), w(2), w(2), np.ones(2, np.float32)], {}, 1),
        "Relu": ([x4], {}, 1), "Identity": ([x4], {}, 1), "Dropout": ([x4], {}, 1),
        "Flatten": ([img], {"axis": 1}, 1), "Reshape": ([img, np.array([0, 8, 9])], {}, 1),
        "Add": ([x4, w(4)], {}, 1), "Mul": ([x4, w(1, 4)], {}, 1), "Sum": ([x4, x4, w(4)], {}, 1),
        "WSConv": ([img, w(3, 2, 3, 3), np.ones(3, np.float32), w(3)], {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1)},
                   1),
        "DirectEncode": ([x4], {"num_steps": 3}, 1), "RateEncode": ([x4], {"num_steps": 3, "gain": 0.5}, 1),
        "IF": ([s4], {"v_th": 1.0}, 1), "LIF": ([s4], {"v_th": 1.0, "v_decay": 0.5, "i_decay": 0.5}, 1),
        "SpikeCount": ([s4], {}, 1), "MembraneReadout": ([s4], {"v_decay": 0.1}, 1),
        "Quantize": ([x4], {"scale": 8.0, "bits": 8}, 1), "PadSteps": ([s4], {"steps": 2}, 1),
        "TTFS": ([x4], curve, 1), "SCTTFS": ([x4], calibrated, 2), "TTFSDecode": ([s4, s4], calibrated, 1),
        "LoihiDense": ([s4, q(3, 4)], {"weight_exp": 1}, 1),
        "LoihiConv": ([spikes_img, q(3, 2, 3, 3)], {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1)}, 1),
        "LoihiLIF": ([i4, q(4)], lif, 2), "LoihiVoltageReadout": ([i4, q(4)], lif, 1),
        "LoihiTTFS": ([i4, None, q(4)], ttfs, 1), "LoihiTTFSReadout": ([i4, None, q(4)], ttfs, 1),
        "TrueNorthLayer": ([s4, q(3, 4), np.ones(3, np.int64), np.full(3, 2), np.zeros(3, np.int64)], {}, 3),
        "SpiNNakerSynapses": ([s4, q(3, 4) * 100], {"left_shift_exc": 2}, 2),
        "SpiNNakerIF": ([i4, q(4)], {"v_thresh": 100}, 2),
        "SpiNNakerVoltageReadout": ([i4, q(4)], {"v_thresh": 100}, 1),
    }


def _graph(op: str, inputs: list, attrs: dict, n_out: int):
    from neurodeploy.ir.graph import Graph, Node, TensorType

    g, names = Graph([], {}, ["out"]), []
    for i, value in enumerate(inputs):
        if value is None:
            names.append("")
        elif isinstance(value, TensorType):
            g.inputs[f"x{i}"] = value
            names.append(f"x{i}")
        else:
            names.append(g.add_param(f"p{i}", np.asarray(value)))
    g.nodes.append(Node(op, "node", names, ["out"] + [f"o{i}" for i in range(1, n_out)], attrs))
    return g


def _random_attr(rng, spec):
    """A value for ``spec``: usually of its type and near its bounds (both sides), sometimes of another type."""
    if rng.random() < 0.15:
        return [1.5, "s", (1, 2), (0.5,), 3, float("nan"), True][int(rng.integers(7))]
    if spec.choices and rng.random() < 0.5:
        return spec.choices[int(rng.integers(len(spec.choices)))]
    lo, hi = (-3 if spec.min is None else spec.min), (6 if spec.max is None else min(spec.max, 6))
    if spec.type == "int":
        return int(rng.integers(lo - 1, hi + 2))
    if spec.type == "float":
        return float(rng.choice([0.0, 0.5, 1.0, -1.0, 2.0, 1e-3, np.inf, 1e39]))
    if spec.type == "ints":
        n = spec.length if spec.length and rng.random() < 0.7 else int(rng.integers(0, 5))
        return tuple(int(rng.integers(max(lo, -2) - 1, hi + 1)) for _ in range(n))
    if spec.type == "floats":
        return tuple(float(x) for x in rng.random(int(rng.integers(0, 4))))
    return "x"


def _mutate(op, inputs: list, attrs: dict, n_out: int, rng):
    """One random change: an attribute, a parameter (shape, dtype, size), an activation (shape, time axis,
    dtype), a dropped input, or another number of outputs."""
    from neurodeploy.ir.graph import TensorType

    inputs, attrs, kind = list(inputs), dict(attrs), int(rng.integers(5))
    i = int(rng.integers(len(inputs)))
    if kind == 0 and op.attrs:
        key = list(op.attrs)[int(rng.integers(len(op.attrs)))]
        attrs[key] = _random_attr(rng, op.attrs[key])
    elif kind == 1 and isinstance(inputs[i], np.ndarray):
        p = inputs[i]
        inputs[i] = [p.reshape(-1), p.astype(np.float32 if p.dtype.kind in "iu" else np.int64), p[..., :1],
                     np.zeros(tuple(rng.integers(0, 4, size=int(rng.integers(0, 4)))), p.dtype),
                     np.full(p.shape, np.nan)][int(rng.integers(5))]
    elif kind == 1 and isinstance(inputs[i], TensorType):
        t = inputs[i]
        inputs[i] = [TensorType(t.shape, t.dtype, not t.timed), TensorType(t.shape[:-1] + (t.shape[-1] + 1,), t.dtype,
                     t.timed), TensorType(t.shape, "int64" if t.dtype == "float32" else "float32", t.timed),
                     TensorType(t.shape[1:] or (3, 3), t.dtype, t.timed)][int(rng.integers(4))]
    elif kind == 2:
        inputs[i] = None
    elif kind == 3:
        n_out = int(rng.integers(1, 5))
    else:  # an activation where a parameter was, or the other way round
        t = inputs[i]
        inputs[i] = np.ones((1,) + t.shape, np.float32) if isinstance(t, TensorType) else (
            TensorType(t.shape[1:] or (1,)) if isinstance(t, np.ndarray) else t)
    return inputs, attrs, n_out


def _feeds(g, rng):
    steps = g.nodes[0].attrs.get("num_steps")  # spike trains into a decoder span its window
    steps = int(steps) if isinstance(steps, int) and 0 < steps < 9 else 3
    feeds = {}
    for name, t in g.inputs.items():
        x = rng.random(((steps,) if t.timed else ()) + (2,) + t.shape)
        feeds[name] = (x > 0.5).astype(t.dtype) if t.timed else (x * 50).astype(t.dtype)
    return feeds


def test_every_op_has_a_valid_seed_node():
    from neurodeploy.ir.check import check_graph

    assert sorted(_seeds()) == sorted(OPS)
    for op, (inputs, attrs, n_out) in _seeds().items():
        g = _graph(op, inputs, attrs, n_out)
        check_graph(g)
        reference.run(g, _feeds(g, np.random.default_rng(0)))


@pytest.mark.parametrize("name", sorted(OPS))
def test_mutated_nodes_of_every_op_are_refused_with_a_graph_error_or_run_as_inferred(name):
    """Attribute schemas and shape rules are the only guard a graph from any front-end gets: what they accept,
    the reference runs with the shapes they inferred; what they refuse is a GraphError naming the node, never a
    numpy error."""
    from neurodeploy.errors import GraphError
    from neurodeploy.ir.check import check_graph

    seed_node, refused = _seeds()[name], 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        g = _graph(name, *_mutate(OPS[name], *seed_node, rng))
        try:
            check_graph(g)
        except GraphError as e:
            refused += 1
            assert "node (" in str(e) or "parameter 'p" in str(e), str(e)
            continue
        out = reference.run(g, _feeds(g, rng))
        for value in g.outputs:
            t = g.types[value]
            assert out[value].shape[2 if t.timed else 1:] == t.shape, (seed, value, t, out[value].shape)
    assert refused > 5
