"""SANA-FE (the open Loihi simulator calibrated on silicon) run by neurodeploy on its own Loihi builds.

The digits MLP and CNN are compiled for loihi1 with the production CLI, then ``run --backend sanafe`` builds the
same network in SANA-FE with neurodeploy's placement and runs it: spikes equal the golden simulator's in every
layer at every step, and neurodeploy's estimate for the same samples matches SANA-FE's energy term by term and
its latency within the stated tolerance (docs/energy.md).
"""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.backends.loihi.sanafe_run import sanafe_available
from neurodeploy.cli import main
from neurodeploy.run import run_build

pytestmark = pytest.mark.skipif(sanafe_available() is not None, reason=str(sanafe_available()))

SAMPLES = 5
DYNAMIC_TOLERANCE = 0.15   # the bound on dynamic energy
STEP_TIME_TOLERANCE = 0.25  # and on latency per step


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = {}
    for model in ("digits_mlp", "digits_cnn"):
        folder = tmp_path_factory.mktemp(model)
        assert main(["compile", model, "--target", "loihi1", "-o", str(folder / "build")]) == 0
        out[model] = folder / "build"
    return out


@pytest.mark.parametrize("model", ["digits_mlp", "digits_cnn"])
def test_sanafe_spikes_equal_golden_and_energy_agrees(builds, model):
    result = run_build(builds[model], ["golden", "sanafe"], SAMPLES, say=lambda *_: None)
    assert result["compared"] == "sanafe"
    for layer, row in result["agreement"].items():
        assert row["samples_identical"] == SAMPLES and row["differing_entries"] == 0, (layer, row)
    spikes = result["runners"]["golden"]["spikes_per_layer"]
    assert all(v > 0 for v in spikes.values()), "every layer spikes: the comparison is not vacuous"
    check = result["sanafe"]
    assert check["arithmetic_notes"] == []
    rows = {r["term"]: r for r in check["energy_uj"]}
    # the same events priced with the same (SANA-FE's silicon-fitted) constants: identical per term
    for term in ("synapse", "soma", "network"):
        assert rows[term]["ratio"] == pytest.approx(1.0, rel=1e-6), rows[term]
    total = rows["dynamic total"]
    assert abs(total["ratio"] - 1) <= DYNAMIC_TOLERANCE, total
    assert total["neurodeploy_range"][0] <= total["sanafe"] <= total["neurodeploy_range"][1] + 1e-9
    step = check["step_time_us"]
    assert abs(step["ratio"] - 1) <= STEP_TIME_TOLERANCE, step
    assert result["runners"]["sanafe"]["accuracy"] == result["runners"]["golden"]["accuracy"]


def test_sanafe_network_file_loads_back(builds, tmp_path):
    import sanafe

    path = tmp_path / "new" / "mlp.yaml"  # its folder is created, as for every results file
    result = run_build(builds["digits_mlp"], ["golden", "sanafe"], 1, say=lambda *_: None, sanafe_network=path)
    assert result["sanafe"]["network_file"] == str(path)
    net = sanafe.load_net(str(path), sanafe.load_loihi())
    assert set(net.groups) == {"2", "4", "readout"}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_cli_prints_the_crosscheck(builds, capsys):
    assert main(["run", str(builds["digits_mlp"]), "--backend", "sanafe", "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "SANA-FE cross-check" in out and "dynamic total" in out and "time per step" in out
    assert "golden vs sanafe" in out
