"""Golden simulator vs a real Lava run (Loihi2SimCfg, fixed_pt): identical spikes in every layer at every step.

The digits models are compiled for loihi2 with the production passes (rate conversion with reset to zero,
average-pool folding, fixed-point quantization) and 50 test samples run through both. TTFS / SC-TTFS networks
(temporal conversion, threshold fine-tuning, Loihi 2 lowering) run on neurodeploy's TTFSNeuron process model with
Lava's Dense and Conv, 20 samples: identical encoding and calibration trains and readouts.
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
TEMPORAL_SAMPLES = 20


def compile_for_loihi(name: str, steps: int = 32, target: str = "loihi2", coding: str = "rate"):
    """The digits model compiled with the production passes for ``target`` (temporal codings: 3 fine-tuning epochs)."""
    data = load_digits_dataset()
    backend = get_backend(target)
    cfg = ConversionConfig(**{**backend.conversion_defaults(), "num_steps": steps, "coding": coding,
                              "finetune_epochs": 3})
    ctx = PassContext(cfg, calibration=data.x_train[:512], training=(data.x_train, data.y_train), spec=backend.spec,
                      check=True)
    graph = run_passes(load_model(name).graph, stage("canonicalize") + stage(coding) + backend.passes(), ctx)
    assert backend.check(graph) == []
    return graph, data


def assert_lava_equals_golden(g, x) -> dict:
    """Run ``x`` through Lava and the golden simulator; every recorded layer identical in every sample and step.
    Returns the golden values."""
    from neurodeploy.backends.loihi.lava_run import run_lava

    lava = run_lava(g, x)
    golden = reference.run(g, {next(iter(g.inputs)): x}, keep=list(lava))
    rows = agreement(g, golden, lava)
    assert all(r["samples_identical"] == len(x) and r["differing_entries"] == 0 for r in rows.values()), rows
    for value in lava:
        np.testing.assert_array_equal(lava[value], golden[value])
    return golden


@pytest.mark.lava
@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_golden_and_lava_spikes_are_identical(name):
    g, data = compile_for_loihi(name)
    golden = assert_lava_equals_golden(g, data.x_test[:SAMPLES])
    layers = g.find("LoihiLIF")
    assert all(golden[n.outputs[0]].sum() > 0 for n in layers), "every layer spikes: the comparison is not vacuous"


@pytest.mark.lava
@pytest.mark.parametrize("name,coding,steps", [("digits_cnn", "sc-ttfs", 6), ("digits_mlp", "ttfs", 8)])
def test_golden_and_lava_temporal_spikes_are_identical(name, coding, steps):
    g, data = compile_for_loihi(name, steps, coding=coding)
    x, y = data.x_test[:TEMPORAL_SAMPLES], data.y_test[:TEMPORAL_SAMPLES]
    golden = assert_lava_equals_golden(g, x)
    trains = [v for n in g.find("LoihiTTFS") for v in n.outputs]
    assert all(golden[v].sum() > 0 for v in trains), "every spike train fires: the comparison is not vacuous"
    assert (golden[g.outputs[0]].argmax(axis=1) == y).mean() >= 0.9


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
