"""The benchmark SNNs, the deep SNNs (models/benchmark.py, residual blocks included) and the T-RevSNN-style network
(models/trevsnn.py: stateless neurons as Lava's LIFReset, depthwise convolutions, up to 11 synapse paths summed into
one layer) on Lava (Loihi2SimCfg, fixed_pt) vs the golden simulator: each compiled for loihi2 by the production
driver and run with ``neurodeploy run``'s runners on 5 test samples of its data set, identical spikes in every layer
at every step (and identical readouts). About 45 s for the six, 150 s for the T-RevSNN (110 Lava processes, 34
steps)."""
from __future__ import annotations

import pytest

from neurodeploy.pipeline import CompileRequest, compile_model
from neurodeploy.run import run_build

pytestmark = pytest.mark.lava
SAMPLES = 5
MODELS = ["bench_snn_frames_mlp", "bench_snn_frames_cnn", "bench_snn_events_mlp", "bench_snn_events_cnn",
          "digits_vgg_snn", "digits_resnet_snn", "digits_trevsnn"]


@pytest.mark.parametrize("name", MODELS)
def test_benchmark_snn_spikes_identical_in_golden_and_lava(name, tmp_path):
    pytest.importorskip("lava.magma", reason="Lava (lava-nc) is not installed")
    build = tmp_path / name
    report = compile_model(CompileRequest(model=name, output=build, target="loihi2"), lambda _: None)
    assert report["deployed"]["accuracy"] is not None
    result = run_build(build, ["golden", "lava"], SAMPLES, say=lambda _: None)
    rows = result["agreement"]
    assert rows and all(r["samples_identical"] == r["samples"] == SAMPLES and r["differing_entries"] == 0
                        for r in rows.values()), rows
    spikes = result["runners"]["lava"]["spikes_per_layer"]
    assert spikes and all(v > 0 for v in spikes.values()), f"a silent layer makes the comparison vacuous: {spikes}"
    golden, lava = (result["runners"][r]["accuracy"] for r in ("golden", "lava"))
    assert golden == lava
