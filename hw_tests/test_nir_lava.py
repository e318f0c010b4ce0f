"""NIR graphs from other tools, compiled for loihi2: golden simulator == Lava (Loihi2SimCfg, fixed_pt), spike for
spike at every step. Networks built now in Norse 1.1.0 and snnTorch 1.0.0 with random weights (their float spikes
equal the libraries' own simulation: tests/test_nir.py), and the NIR paper's Braille SRNNs and sinabs CNN."""
from __future__ import annotations

import contextlib
import io

import nir
import numpy as np
import pytest
import torch
from test_nir import NIR_FILES, SNNTORCH, box, lin, norse_export

from neurodeploy.pipeline import CompileRequest, compile_model
from neurodeploy.run import run_build

pytestmark = pytest.mark.lava


def _compile_and_run(tmp_path, model, samples: int, steps: int | None = None, **snn_import) -> dict:
    out = tmp_path / "build"
    conversion = {"num_steps": steps} if steps else {}
    compile_model(CompileRequest(model=str(model), output=out, target="loihi2", conversion=conversion,
                                 snn_import=snn_import), say=lambda _: None)
    return run_build(out, ["golden", "lava"], samples, say=lambda _: None)


def _assert_identical(result: dict, samples: int) -> None:
    rows = result["agreement"]
    assert all(r["samples_identical"] == r["samples"] == samples for r in rows.values()), rows
    assert sum(result["runners"]["lava"]["spikes_per_layer"].values()) > 0


def test_norse_network_with_random_weights(tmp_path):
    torch.manual_seed(23)
    import norse.torch as nt

    net = nt.SequentialState(lin(9, 13, 3.0), box(13, 5e-3, 0.3), lin(13, 4, 3.0), box(4, 8e-3, 0.3))
    path = norse_export(net, torch.zeros(9), tmp_path / "norse.nir")
    _assert_identical(_compile_and_run(tmp_path, path, 5, steps=40, dt=1e-3), 5)


def test_snntorch_network_with_random_weights(tmp_path):
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(29)
    factory, shape, reset = SNNTORCH["leaky_zero"]
    with contextlib.redirect_stdout(io.StringIO()):
        graph = export_to_nir(factory(), torch.zeros((1,) + shape), ignore_dims=[0])
    nir.write(tmp_path / "snntorch.nir", graph)
    _assert_identical(_compile_and_run(tmp_path, tmp_path / "snntorch.nir", 5, steps=40, reset=reset), 5)


@pytest.mark.parametrize("name", ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"])
def test_braille_srnn(tmp_path, name):
    _assert_identical(_compile_and_run(tmp_path, NIR_FILES / f"{name}.nir", 5), 5)


def test_cnn_sinabs(tmp_path):
    _assert_identical(_compile_and_run(tmp_path, NIR_FILES / "cnn_sinabs.nir", 2, steps=12), 2)
