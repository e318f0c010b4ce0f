"""SC-TTFS / TTFS on Lava (neurodeploy's fixed-point TTFSNeuron process model with Lava's Dense and Conv) vs the
golden simulator: identical encoding and calibration spikes in every layer at every step, and identical readouts.

The digits CNN is converted with the production passes (temporal conversion, threshold fine-tuning, Loihi 2
lowering) and 20 test samples run through both.
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

SAMPLES = 20


def compile_temporal(name: str, coding: str, steps: int):
    data = load_digits_dataset()
    backend = get_backend("loihi2")
    cfg = ConversionConfig(**{**backend.conversion_defaults(), "coding": coding, "num_steps": steps,
                              "finetune_epochs": 3})
    ctx = PassContext(cfg, calibration=data.x_train[:512], training=(data.x_train, data.y_train), spec=backend.spec,
                      check=True)
    graph = run_passes(load_model(name).graph, stage("canonicalize") + stage(coding) + backend.passes(), ctx)
    assert backend.check(graph) == []
    return graph, data


@pytest.mark.lava
@pytest.mark.parametrize("name,coding,steps", [("digits_cnn", "sc-ttfs", 6), ("digits_mlp", "ttfs", 8)])
def test_golden_and_lava_temporal_spikes_are_identical(name, coding, steps):
    from neurodeploy.backends.loihi.lava_run import run_lava

    g, data = compile_temporal(name, coding, steps)
    x, y = data.x_test[:SAMPLES], data.y_test[:SAMPLES]
    lava = run_lava(g, x)
    golden = reference.run(g, {next(iter(g.inputs)): x}, keep=list(lava))
    rows = agreement(g, golden, lava)
    assert all(r["samples_identical"] == SAMPLES and r["differing_entries"] == 0 for r in rows.values()), rows
    for value in lava:
        np.testing.assert_array_equal(lava[value], golden[value])
    trains = [v for n in g.find("LoihiTTFS") for v in n.outputs]
    assert all(golden[v].sum() > 0 for v in trains), "every spike train fires: the comparison is not vacuous"
    assert (golden[g.outputs[0]].argmax(axis=1) == y).mean() >= 0.9
