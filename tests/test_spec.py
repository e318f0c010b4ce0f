"""Chip specs and the backend registry: every spec validates; bad specs fail with every problem listed."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodeploy.backends import BACKENDS, get_backend, spec_path
from neurodeploy.errors import SpecError
from neurodeploy.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
BACKEND_DIRS = sorted(p.name for p in (ROOT / "backends").iterdir() if (p / "spec.yaml").exists())


def test_every_backend_folder_is_registered_and_packaged():
    assert BACKEND_DIRS == sorted(BACKENDS)
    packages = re.search(r"packages = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S).group(1)
    for name in BACKEND_DIRS:
        assert f'"neurodeploy.backends.{name}"' in packages


@pytest.mark.parametrize("name", BACKEND_DIRS)
def test_spec_loads_and_backend_instantiates(name):
    spec = load_spec(spec_path(name))
    assert spec.name == name
    assert get_backend(name).spec == spec


def _write(tmp_path, **changes) -> Path:
    raw = {"schema": 1, "name": "chip", "title": "Chip", "description": "test chip", "supported_ops": ["Gemm"],
           "values": {"cores": {"per_chip": 128, "neurons": None}}, "sources": {"cores.per_chip": "paper"},
           "references": {"paper": "A paper, 2020"}}
    raw.update(changes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_valid_spec_and_unknown_values(tmp_path):
    spec = load_spec(_write(tmp_path))
    assert spec.value("cores.per_chip") == 128
    assert spec.source_of("cores.per_chip") == "A paper, 2020"
    with pytest.raises(SpecError, match="'cores.neurons' is unknown"):
        spec.value("cores.neurons")
    with pytest.raises(SpecError, match="has no value 'cores.axons'"):
        spec.value("cores.axons")


def test_invalid_spec_lists_every_problem(tmp_path):
    path = _write(tmp_path, supported_ops=["Gemm", "Teleport"], values={"energy_pj": {"syn_op": 23.6, "hop": 3.0}},
                  sources={"energy_pj.syn_op": "davies", "energy_pj.nothing": "paper"})
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert sorted(err.value.problems) == sorted([
        "supported_ops: unknown op 'Teleport'",
        "values.energy_pj.hop = 3.0 has no entry in 'sources'",
        "sources.energy_pj.nothing: no such value",
        "sources.energy_pj.syn_op: reference 'davies' is not in 'references'",
    ])


def test_unknown_key_and_schema(tmp_path):
    with pytest.raises(SpecError, match="unknown key 'cores'"):
        load_spec(_write(tmp_path, cores=3))
    with pytest.raises(SpecError, match="schema is 2"):
        load_spec(_write(tmp_path, schema=2))


def test_ref_backend_estimate_counts_activity(digits):
    from neurodeploy.frontend import load_model
    from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage
    from neurodeploy.sim.evaluate import evaluate

    ctx = PassContext(ConversionConfig(num_steps=4), calibration=digits.x_train[:64])
    snn = run_passes(load_model("digits_mlp").graph, stage("canonicalize") + stage("rate"), ctx)
    backend = get_backend("ref")
    assert backend.check(snn) == []
    activity = evaluate(snn, digits.x_test[:10], digits.y_test[:10], simulate=backend.simulate)
    figures = backend.estimate(snn, activity)
    assert figures["neurons"] == 128 + 64 + 10 and figures["synapses"] == 64 * 128 + 128 * 64 + 64 * 10
    # every spike of the 128 hidden neurons reaches 64 synapses, every spike of the 64 reaches 10
    expected = activity.spikes_per_layer["2"] * 64 + activity.spikes_per_layer["4"] * 10
    assert figures["synaptic_events_per_inference"] == pytest.approx(expected)
    assert np.isfinite(figures["spikes_per_inference"])
