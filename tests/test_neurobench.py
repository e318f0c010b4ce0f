"""neurodeploy's metrics equal NeuroBench 2.3.0's where the two define a metric the same way (docs/metrics.md).

NeuroBench really runs here: its Benchmark, hooks and metric classes, on the torch modules; neurodeploy's figures
come from the IR graph of the same module and the reference simulator. Its SNN support hooks snnTorch neurons;
neurodeploy's neurons are registered as activation layers (NeuroBench's ``add_activation_module``), which is all
SynapticOperations and ActivationSparsity need (MembraneUpdates needs snnTorch's per-step ``mem`` and is not
compared).
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("neurobench")

SAMPLES = 24


def _neurobench(model, x: np.ndarray, y: np.ndarray) -> dict:
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=8, shuffle=False)
    bench = Benchmark(model, loader, [], [lambda preds: preds.argmax(-1)],
                      [[Footprint, ConnectionSparsity, ParameterCount], [ActivationSparsity, SynapticOperations]])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = bench.run(quiet=True)
    assert "Error running" not in printed.getvalue(), printed.getvalue()  # NeuroBench turns failures into 0 / None
    model.cleanup_hooks()
    return results


def _spiking_model(net):
    from neurobench.models import NeuroBenchModel

    from neurodeploy.nn import NEURONS

    class NeurodeployModel(NeuroBenchModel):
        def __init__(self) -> None:
            super().__init__()
            self.net = net.eval()
            for neuron in NEURONS:
                self.add_activation_module(neuron)

        def __call__(self, batch):
            with torch.no_grad():
                return self.net(batch)

        def __net__(self):
            return self.net

    return NeurodeployModel()


def _ours(module, x: np.ndarray, y: np.ndarray):
    from neurodeploy.frontend.torch_fx import from_torch
    from neurodeploy.metrics import network_metrics
    from neurodeploy.sim.evaluate import evaluate

    g = from_torch(module, tuple(x.shape[1:]))
    return network_metrics(g, evaluate(g, x, y))


def _compare(theirs: dict, ours: dict) -> None:
    ops, activity = ours["compute"], ours["activity"]
    synops = theirs["SynapticOperations"]
    assert synops["Effective_MACs"] == pytest.approx(ops["effective_macs"], rel=1e-9)
    assert synops["Effective_ACs"] == pytest.approx(ops["effective_acs"], rel=1e-9)
    assert synops["Dense"] == pytest.approx(ops["dense"], rel=1e-9)
    assert theirs["ActivationSparsity"] == pytest.approx(activity["activation_sparsity"], rel=1e-9)
    assert theirs["ConnectionSparsity"] == pytest.approx(round(activity["connection_sparsity"], 4))
    assert theirs["Footprint"] == activity["footprint_bytes"]
    assert theirs["ParameterCount"] == activity["parameters"]


@pytest.fixture(scope="module")
def test_split(digits):
    return digits.x_test[:SAMPLES], digits.y_test[:SAMPLES]


def test_ann_metrics_equal_neurobench(test_split):
    from neurobench.models import TorchModel

    from neurodeploy.frontend import load_state_dict
    from neurodeploy.models import ZOO

    mlp = ZOO["digits_mlp"].build()
    load_state_dict(mlp, ZOO["digits_mlp"].checkpoint_path)
    mlp.eval()
    x, y = test_split
    _compare(_neurobench(TorchModel(mlp), x, y), _ours(mlp, x, y))


def test_snn_metrics_equal_neurobench(test_split):
    """digits_snn: the analog image at each of T = 8 steps makes the first layer's MACs (NeuroBench counts them at
    every step, as papers/000's encoding layer); the spiking layers' inputs are ACs."""
    from neurodeploy.frontend import load_state_dict
    from neurodeploy.models import ZOO

    snn = ZOO["digits_snn"].build()
    load_state_dict(snn, ZOO["digits_snn"].checkpoint_path)
    x, y = test_split
    ours = _ours(snn, x, y)
    assert ours["compute"]["effective_macs"] > 0 and ours["compute"]["effective_acs"] > 0
    _compare(_neurobench(_spiking_model(snn), x, y), ours)


def test_conv_snn_metrics_equal_neurobench(test_split):
    """Per-tap counting at feature-map borders (padding taps are no connections) and a non-binary input after
    average pooling, on random weights with some zeros."""
    from torch import nn

    from neurodeploy.nn import LIF, SNN, DirectEncode, MembraneReadout

    torch.manual_seed(0)
    lif = lambda: LIF(v_decay=0.25, threshold=0.5)
    snn = SNN(DirectEncode(4), nn.Conv2d(1, 4, 3, padding=1, bias=False), lif(), nn.AvgPool2d(2),
              nn.Conv2d(4, 6, 3, padding=1, stride=2, bias=False), lif(), nn.Flatten(), nn.Linear(24, 10),
              MembraneReadout())
    with torch.no_grad():
        snn[1].module.weight[:, :, 0, 0] = 0
    x, y = test_split
    ours = _ours(snn, x, y)
    kinds = [row["kind"] for row in ours["compute"]["layers"]]
    assert kinds == ["MAC", "MAC", "AC"]  # analog image; pooled spikes; spikes
    _compare(_neurobench(_spiking_model(snn), x, y), ours)
