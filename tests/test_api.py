"""The Python API (neurodeploy.compile): models in memory, arrays as data, the result object, its errors."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import neurodeploy
from neurodeploy.errors import InputError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_compiles_a_module_in_memory_and_prints_it(capsys):
    block = re.search(r"## From Python\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert len(block.strip().splitlines()) == 5
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Sequential -> loihi2" in out and "loihi2 accuracy" in out and "chip energy per inference, total (µJ)" in out
    assert "build folder:" in out


def _digits_arrays():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16).astype(np.float32).reshape(-1, 1, 8, 8), y


def test_result_object_holds_accuracies_estimate_and_files(tmp_path):
    x, y = _digits_arrays()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    data = {"x_train": x[:300], "y_train": y[:300], "x_test": x[300:360], "y_test": y[300:360]}
    result = neurodeploy.compile(net, data=data, target="loihi1", output=tmp_path / "b", steps=8)
    assert result.folder == tmp_path / "b" and (tmp_path / "b" / "report.json") in result.files
    assert set(result.accuracy) == {"ann", "snn", "deployed"} and all(0 <= v <= 1 for v in result.accuracy.values())
    assert result.estimate["energy_range_uj"][0] <= result.estimate["energy_uj"] <= result.estimate["energy_range_uj"][1]
    assert sum(result.spikes_per_layer.values()) > 0 and result.targets is None
    html = result._repr_html_()
    assert html.startswith("<h1>") and "on loihi1" in html and "<style>" not in html
    assert html.count('<img class="figure" alt="Spike raster" src="data:image/png;base64,') == 1


def test_zoo_name_with_a_data_set_name_and_all_targets(tmp_path):
    result = neurodeploy.compile("digits_mlp", data="digits", target="all", output=tmp_path / "all", steps=4,
                                 eval_samples=20, calibration_samples=64)
    assert set(result.targets) >= {"ref", "loihi1", "loihi2", "truenorth", "spinnaker1"}
    assert "digits_mlp on every target" in repr(result) and "Energy, latency and cores" in result._repr_html_()


def test_mistakes_are_named():
    x, y = _digits_arrays()
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with pytest.raises(InputError, match="unknown option.*stepz"):
        neurodeploy.compile(net, data=(x, y, x, y), stepz=4)
    with pytest.raises(InputError, match="data must be"):
        neurodeploy.compile(net, data=[x, y])
    with pytest.raises(InputError, match="give input_shape"):
        neurodeploy.compile(net)
    with pytest.raises(InputError, match="model must be"):
        neurodeploy.compile(42, data="digits")
    with pytest.raises(InputError, match="not a usable data set") as e:
        neurodeploy.compile(net, data=(x, y[:5], x, y))
    assert "x_train" in str(e.value)
