"""Golden simulator vs a real Lava run (Loihi2SimCfg, fixed_pt): identical spikes in every layer at every step.

The digits models are compiled for loihi2 with the production passes (rate conversion with reset to zero,
average-pool folding, fixed-point quantization) and 50 test samples run through both.
"""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.backends import get_backend
from neurodeploy.data import load_digits_dataset
from neurodeploy.frontend import load_model
from neurodeploy.ir import reference
from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage
from neurodeploy.run import agreement

SAMPLES = 50


def compile_for_loihi(name: str, steps: int = 32, target: str = "loihi2"):
    data = load_digits_dataset()
    backend = get_backend(target)
    ctx = PassContext(ConversionConfig(**{**backend.conversion_defaults(), "num_steps": steps}),
                      calibration=data.x_train[:512], spec=backend.spec, check=True)
    graph = run_passes(load_model(name).graph, stage("canonicalize") + stage("rate") + backend.passes(), ctx)
    assert backend.check(graph) == []
    return graph, data


@pytest.mark.lava
@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_golden_and_lava_spikes_are_identical(name):
    from neurodeploy.backends.loihi.lava_run import run_lava

    g, data = compile_for_loihi(name)
    x = data.x_test[:SAMPLES]
    lava = run_lava(g, x)
    golden = reference.run(g, {next(iter(g.inputs)): x}, keep=list(lava))
    rows = agreement(g, golden, lava)
    assert all(r["samples_identical"] == SAMPLES and r["differing_entries"] == 0 for r in rows.values()), rows
    for value in lava:
        np.testing.assert_array_equal(lava[value], golden[value])
    layers = g.find("LoihiLIF")
    assert all(golden[n.outputs[0]].sum() > 0 for n in layers), "every layer spikes: the comparison is not vacuous"


@pytest.mark.lava
def test_loihi1_spec_builds_the_same_arithmetic():
    from neurodeploy.backends.loihi.lava_run import run_lava

    g, data = compile_for_loihi("digits_mlp", steps=8, target="loihi1")
    x = data.x_test[:5]
    lava = run_lava(g, x)
    golden = reference.run(g, {next(iter(g.inputs)): x}, keep=list(lava))
    for value in lava:
        np.testing.assert_array_equal(lava[value], golden[value])


@pytest.mark.lava
def test_residual_network_golden_and_lava_agree():
    """ResNet20 (random weights): identity shortcuts become depthwise 1x1 synapses summed into the block's
    output LIF, projection shortcuts 1x1 strided convs; Lava sums both connections like the golden Add."""
    import torch

    from neurodeploy.backends.loihi.lava_run import run_lava
    from neurodeploy.frontend.torch_fx import from_torch
    from neurodeploy.models import ZOO

    torch.manual_seed(0)
    backend = get_backend("loihi2")
    images = np.random.default_rng(0).random((9, 3, 32, 32), dtype=np.float32)
    ctx = PassContext(ConversionConfig(**{**backend.conversion_defaults(), "num_steps": 4}),
                      calibration=images[:8], spec=backend.spec, check=True)
    g = run_passes(from_torch(ZOO["resnet20"].build().eval(), (3, 32, 32)),
                   stage("canonicalize") + stage("rate") + backend.passes(), ctx)
    assert backend.check(g) == [] and len(g.find("Add")) == 9
    x = images[8:]
    lava = run_lava(g, x)
    golden = reference.run(g, {next(iter(g.inputs)): x}, keep=list(lava))
    for value in lava:
        np.testing.assert_array_equal(lava[value], golden[value], err_msg=value)
    assert all(golden[n.outputs[0]].sum() > 0 for n in g.find("LoihiLIF"))  # every layer spikes


@pytest.mark.lava
def test_leaky_neurons_golden_and_lava_agree():
    """Float LIF neurons lowered to 12-bit current and voltage decays agree with Lava at every step."""
    from neurodeploy.backends.loihi.lava_run import run_lava

    from helpers import leaky_snn

    backend = get_backend("loihi2")
    x = np.random.default_rng(2).random((3, 6), dtype=np.float32)
    ctx = PassContext(ConversionConfig(), calibration=x, spec=backend.spec, check=True)
    g = run_passes(leaky_snn(i_decay=0.5, bias=False), backend.passes(), ctx)
    lava = run_lava(g, x)
    golden = reference.run(g, {"x": x}, keep=list(lava))
    for value in lava:
        np.testing.assert_array_equal(lava[value], golden[value], err_msg=value)
    assert golden["s2"].sum() > 0
