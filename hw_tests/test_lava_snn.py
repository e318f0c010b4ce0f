"""Trained SNNs on Lava (Loihi2SimCfg, fixed_pt) vs the golden simulator: recurrent leaky layers with decaying
currents, and spike-input convolutions padded for the synaptic delays, identical spikes at every step."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import recurrent_snn, spike_trains
from test_snn_deploy import _deploy, _spiking_cnn

from neurodeploy.backends.loihi.lava_run import run_lava
from neurodeploy.ir import reference
from neurodeploy.run import agreement

pytestmark = pytest.mark.lava


@pytest.mark.parametrize("build", [recurrent_snn, lambda: _spiking_cnn("zero")], ids=["recurrent", "conv"])
def test_trained_snn_spikes_identical_in_golden_and_lava(build):
    g = build()
    steps = 20
    _, deployed = _deploy(g, "loihi2", steps=steps)
    x = spike_trains(steps, 6, g.inputs["x"].shape, seed=11)
    lava = run_lava(deployed, x)
    golden = reference.run(deployed, {"x": x}, keep=list(lava))
    rows = agreement(deployed, golden, lava)
    assert all(r["samples_identical"] == r["samples"] == 6 for r in rows.values()), rows
    assert sum(float(v.sum()) for v in lava.values()) > 0
