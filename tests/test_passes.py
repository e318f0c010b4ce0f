"""Passes keep meaning (reference outputs before/after), skip what they must skip, and fail by name."""
from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from neurodeploy.errors import PassError, UnsupportedError
from neurodeploy.frontend.torch_fx import from_torch
from neurodeploy.ir import reference
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage
from neurodeploy.passes.canonicalize import fold_batchnorm, normalize_gemm, remove_identities
from neurodeploy.passes.convert_rate import balance_thresholds, fold_spike_scales, replace_maxpool

from test_frontend import _randomize_batchnorm


def _out(g, x):
    return reference.run(g, {next(iter(g.inputs)): x})[g.outputs[0]]


def _canonical(module, shape, ctx):
    return run_passes(from_torch(_randomize_batchnorm(module), shape), stage("canonicalize"), ctx)


def test_fold_batchnorm_conv_and_linear(ctx):
    module = nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                           nn.Linear(4 * 6 * 6, 5), nn.BatchNorm1d(5), nn.Dropout(0.3), nn.Identity())
    g = from_torch(_randomize_batchnorm(module), (2, 8, 8))
    folded = run_passes(g, stage("canonicalize"), ctx)
    assert [n.op for n in folded.nodes] == ["Conv", "Relu", "Flatten", "Gemm"]
    x = np.random.rand(4, 2, 8, 8).astype(np.float32)
    np.testing.assert_allclose(_out(folded, x), _out(g, x), atol=1e-5)
    assert [n.op for n in g.nodes].count("BatchNormalization") == 2, "the input graph must not change"


def test_fold_batchnorm_skips_a_producer_with_two_consumers(ctx):
    class TwoConsumers(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y

    g = from_torch(_randomize_batchnorm(TwoConsumers()), (2, 5, 5))
    folded = fold_batchnorm(g, ctx)
    assert [n.op for n in folded.nodes] == ["Conv", "BatchNormalization", "Add"]


def test_normalize_gemm_folds_alpha_beta_and_transpose(ctx):
    g = Graph([], {"x": TensorType((3,))}, ["y"])
    w, b = g.add_param("w", np.random.randn(3, 2).astype(np.float32)), g.add_param("b", np.ones(2, np.float32))
    g.nodes = [Node("Gemm", "fc", ["x", w, b], ["y"], {"alpha": 2.0, "beta": 0.5, "transB": 0})]
    x = np.random.rand(4, 3).astype(np.float32)
    out = normalize_gemm(g, ctx)
    assert out.nodes[0].attrs == {"transB": 1}
    np.testing.assert_allclose(_out(out, x), _out(g, x), atol=1e-6)


def test_remove_identities_keeps_outputs(ctx):
    g = from_torch(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.Identity()), (3,))
    out = remove_identities(g, ctx)
    assert [n.op for n in out.nodes] == ["Gemm"] and out.outputs == [out.nodes[0].outputs[0]]


def test_failing_pass_is_named_with_the_passes_before_it(ctx):
    def break_graph(g, ctx):
        g = g.copy()
        g.nodes[0].inputs[0] = "vanished"
        return g

    g = from_torch(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), (3,))
    with pytest.raises(PassError, match=r"(?s)pass 'break_graph' failed \(passes run before it: "
                                        r"remove_identities, normalize_gemm\).*'vanished' is not defined"):
        run_passes(g, [remove_identities, normalize_gemm, break_graph, fold_batchnorm], ctx)


def test_rate_conversion_approaches_the_ann(ctx):
    module = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    ann = _canonical(module, (6,), ctx)
    x = np.random.rand(32, 6).astype(np.float32)
    ctx.calibration = x
    ctx.conversion = ConversionConfig(num_steps=512, percentile=100.0)
    snn = run_passes(ann, stage("rate"), ctx)
    assert [n.op for n in snn.nodes] == ["DirectEncode", "Gemm", "IF", "Gemm", "IF", "Gemm", "MembraneReadout"]
    rate_decoded = _out(snn, x) / 512
    np.testing.assert_allclose(rate_decoded, _out(ann, x), atol=0.02 * np.abs(_out(ann, x)).max())


def test_thresholds_are_activation_percentiles(ctx):
    ann = _canonical(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)), (4,), ctx)
    x = np.random.rand(64, 4).astype(np.float32)
    hidden = reference.run(ann, {"input_1": x}, keep=[ann.nodes[1].outputs[0]])[ann.nodes[1].outputs[0]]
    ctx.calibration = x
    for percentile in (100.0, 90.0):
        ctx.conversion = ConversionConfig(percentile=percentile)
        snn = balance_thresholds(ann, ctx)
        assert snn.meta["thresholds"]["1"] == pytest.approx(np.percentile(hidden[hidden > 0], percentile))
        if_node = snn.find("IF")[0]
        assert if_node.attrs["v_th"] == pytest.approx(snn.meta["thresholds"]["1"])
        assert if_node.attrs["v_init"] == pytest.approx(0.5 * if_node.attrs["v_th"])


def test_fold_spike_scales_keeps_meaning_and_stops_at_residual_add(ctx):
    from neurodeploy.models import ZOO

    ann = _canonical(ZOO["resnet20"].build(), (3, 32, 32), ctx)
    x = np.random.rand(4, 3, 32, 32).astype(np.float32)
    ctx.calibration = x
    ctx.conversion = ConversionConfig(num_steps=4)
    unfolded = balance_thresholds(ann, ctx)
    folded = fold_spike_scales(unfolded, ctx)
    np.testing.assert_allclose(_out(folded, x), _out(unfolded, x), rtol=1e-4, atol=1e-4)
    remaining = folded.find("Mul")
    assert remaining and all(c.op == "Add" for m in remaining for c in folded.consumers(m.outputs[0]))
    assert len(remaining) == 9 - 2  # identity shortcuts keep their spike amplitude; projections fold


def test_maxpool_is_refused_by_default_and_replaced_on_request(ctx):
    module = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3),
                           nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2, 2))
    ann = _canonical(module, (1, 8, 8), ctx)
    with pytest.raises(UnsupportedError) as err:
        replace_maxpool(ann, ctx)
    assert err.value.problems == ["2 (MaxPool)", "5 (MaxPool)"] and "--maxpool avg" in str(err.value)
    ctx.conversion = ConversionConfig(maxpool="avg")
    replaced = replace_maxpool(ann, ctx)
    assert [n.op for n in replaced.nodes].count("AveragePool") == 2
    assert replaced.meta["maxpool_replaced_by_avgpool"] == ["2", "5"]


def test_layer_that_never_activates_is_an_error(ctx):
    module = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    module[0].bias.data.fill_(-100.0)
    ann = _canonical(module, (3,), ctx)
    ctx.calibration = np.random.rand(16, 3).astype(np.float32)
    with pytest.raises(UnsupportedError, match=r"1 \(Relu\): no positive activation on 16 calibration samples"):
        balance_thresholds(ann, ctx)


def test_stochastic_encoders_convert(ctx, digits):
    from neurodeploy.frontend import load_model
    from neurodeploy.sim.evaluate import evaluate

    ann = run_passes(load_model("digits_mlp").graph, stage("canonicalize"), ctx)
    ctx.calibration = digits.x_train[:128]
    ctx.conversion = ConversionConfig(num_steps=64, encoding="bernoulli")
    snn = run_passes(ann, stage("rate"), ctx)
    assert snn.nodes[0].op == "RateEncode"
    result = evaluate(snn, digits.x_test[:200], digits.y_test[:200])
    assert result.accuracy > 0.9 and result.spikes_per_layer["encode"] > 0
