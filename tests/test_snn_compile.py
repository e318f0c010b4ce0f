"""Compiling trained SNNs: no conversion, event data [N, T, ...], the float SNN and the deployed one evaluated on the
same samples, time semantics in the report, clear errors for data that do not fit."""
import json
import warnings

import numpy as np
import pytest
from helpers import recurrent_snn, spike_trains

from neurodeploy.pipeline import CompileRequest, compile_model
from neurodeploy.data import Dataset
from neurodeploy.errors import InputError
from neurodeploy.frontend import LoadedModel


def _event_data(g, steps=16, train=48, test=32) -> Dataset:
    """Spike trains [N, T, 12] labelled by the float SNN itself, so its accuracy is 100 % by construction."""
    from neurodeploy.ir import reference

    x = np.moveaxis(spike_trains(steps, train + test, (12,), seed=4), 0, 1)
    y = reference.run(g, {"x": np.moveaxis(x, 0, 1)})["out"].argmax(axis=1).astype(np.int64)
    return Dataset("events", x[:train], y[:train], x[train:], y[train:], steps=steps)


def _compile(tmp_path, target, dataset=None, g=None):
    g = g or recurrent_snn()
    g.meta["time"] = {"dt": 1e-3, "integration": "euler", "source": "test", "notes": []}
    loaded = LoadedModel("recurrent", g, None, spiking=True)
    request = CompileRequest(model="recurrent.nir", output=tmp_path / target, target=target, eval_samples=None)
    return compile_model(request, say=lambda _: None, imported=(loaded, dataset))


def test_trained_snn_on_event_data_reports_float_and_deployed_accuracy(tmp_path):
    g = recurrent_snn()
    report = _compile(tmp_path, "loihi2", _event_data(g), g)
    assert report["snn"]["accuracy"] == 1.0 and report["snn"]["coding"] == "trained"
    assert report["snn"]["num_steps"] == 16 and report["deployed"]["steps"] == 18
    assert 0.5 <= report["deployed"]["accuracy"] <= 1.0
    assert report["time_semantics"]["dt"] == 1e-3 and report["time_semantics"]["num_steps"] == 16
    files = json.loads((tmp_path / "loihi2" / "report.json").read_text())["files"]
    assert {"snn.onnx", "deployed.onnx", "report.md", "mapping.json"} <= set(files)
    assert "time semantics" in (tmp_path / "loihi2" / "report.md").read_text()


def test_trained_snn_without_data_measures_activity_on_seeded_spikes(tmp_path):
    report = _compile(tmp_path, "ref")
    assert report["snn"]["accuracy"] is None and report["deployed"]["spikes_per_inference"] > 0
    assert report["dataset"].startswith("seeded input")


def test_samples_without_a_time_axis_are_refused_for_a_spike_input():
    from neurodeploy.data import spike_fit

    rng = np.random.default_rng(0)
    flat = Dataset("flat", rng.random((8, 12), dtype=np.float32), np.zeros(8, np.int64),
                   rng.random((4, 12), dtype=np.float32), np.zeros(4, np.int64))
    steps, problems = spike_fit(flat, "x", (12,), True, 5)
    assert steps is None and problems == ["model input 'x' takes spike trains [N, T, 12] but data set 'flat' has "
                                          "samples of shape [12] (that is one sample without a time axis)"]


def test_event_data_npz_keeps_its_time_axis(tmp_path):
    g = recurrent_snn()
    data = _event_data(g)
    path = tmp_path / "events.npz"
    np.savez(path, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    from neurodeploy.data import load_dataset

    loaded = load_dataset(str(path))
    assert loaded.x_train.shape == (48, 16, 12) and loaded.steps is None  # T is decided against the model


def test_conversion_options_are_refused_for_a_trained_snn(tmp_path):
    g = recurrent_snn()
    loaded = LoadedModel("recurrent", g, None, spiking=True)
    request = CompileRequest(model="r.nir", output=tmp_path / "b", target="ref", conversion={"percentile": 99.0})
    with pytest.raises(InputError, match="trained SNN: nothing is converted.*--percentile"):
        compile_model(request, say=lambda _: None, imported=(loaded, None))
    assert not (tmp_path / "b").exists()


def test_onnx_export_of_a_third_party_snn_gets_guidance(tmp_path):
    import torch
    import snntorch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.lif = torch.nn.Linear(4, 3), snntorch.Leaky(beta=0.9)

        def forward(self, x):
            mem, out = self.lif.init_leaky(), []
            for t in range(x.shape[0]):
                spk, mem = self.lif(self.fc(x[t]), mem)
                out.append(spk)
            return torch.stack(out)

    path = tmp_path / "snn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's tracer warns about the Python loop
        torch.onnx.export(Net(), torch.rand(3, 2, 4), str(path))
    from neurodeploy.errors import UnsupportedError
    from neurodeploy.frontend.onnx_import import load_onnx

    with pytest.raises(UnsupportedError) as e:
        load_onnx(path)
    assert "export it to NIR (snntorch.export_nir.export_to_nir" in e.value.headline
    assert "LoihiLIF" not in e.value.headline and "spiking ops (domain 'ai.neurodeploy') are DirectEncode, IF, LIF" \
        in e.value.headline



NIR_FILES = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "external" / "nir"
NETX_FILES = NIR_FILES.parent / "netx"


def _events_npz(path, steps: int, shape: tuple, classes: int, train: int = 6, test: int = 5):
    rng = np.random.default_rng(8)
    x = lambda n: (rng.random((n, steps) + shape) < 0.3).astype(np.float32)
    np.savez(path, x_train=x(train), y_train=rng.integers(0, classes, train), x_test=x(test),
             y_test=rng.integers(0, classes, test))
    return path


def test_nir_file_compiles_on_event_data_from_the_command_line(tmp_path, run_cli):
    data = _events_npz(tmp_path / "braille.npz", 30, (12,), 7)
    code, out, err = run_cli("compile", str(NIR_FILES / "braille_noDelay_bias_zero.nir"), "--target", "loihi2",
                             "--dataset", str(data), "--dt", "1e-4", "-o", str(tmp_path / "b"))
    assert code == 0, err
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["test_samples"] == 5 and report["snn"]["accuracy"] is not None
    assert report["deployed"]["steps"] == 32 and report["time_semantics"]["source"] == "option"
    assert (tmp_path / "b" / "snn.nir").is_file() and "time semantics" in out


def test_event_data_of_the_wrong_shape_names_both_shapes(tmp_path, run_cli):
    data = _events_npz(tmp_path / "wrong.npz", 30, (13,), 7)
    code, _, err = run_cli("compile", str(NIR_FILES / "braille_noDelay_bias_zero.nir"), "--dataset", str(data),
                           "-o", str(tmp_path / "b"))
    assert code == 2 and "takes spike trains [N, T, 12] but data set 'wrong' has samples of shape [30, 13]" in err
    assert not (tmp_path / "b").exists()


def test_netx_network_is_evaluated_on_a_data_set(tmp_path, run_cli):
    data = _events_npz(tmp_path / "mnist.npz", 12, (784,), 10, train=2, test=3)
    code, out, err = run_cli("compile", str(NETX_FILES / "mnist_dense.net"), "--dataset", str(data),
                             "-o", str(tmp_path / "b"))
    assert code == 0, err
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["dataset"] == "mnist" and report["test_samples"] == 3 and report["deployed"]["accuracy"] is not None


def test_nir_options_are_refused_for_other_models(run_cli, tmp_path):
    code, _, err = run_cli("compile", "digits_mlp", "--dt", "1e-3", "-o", str(tmp_path / "b"))
    assert code == 2 and "--dt: only a NIR .nir file is read with a time step" in err
    code, _, err = run_cli("compile", "digits_mlp", "--reset", "snntorch-zero", "-o", str(tmp_path / "b"))
    assert code == 2 and "--reset snntorch-zero: only NIR files take it" in err


def test_inspect_reads_a_nir_file(run_cli):
    code, out, _ = run_cli("inspect", str(NIR_FILES / "cnn_sinabs.nir"))
    assert code == 0 and "IF" in out and "SpikeCount" in out


def test_event_counts_are_refused_on_a_chip_and_taken_by_the_reference(tmp_path, run_cli):
    data = _events_npz(tmp_path / "counts.npz", 20, (12,), 7)
    with np.load(data) as f:
        arrays = dict(f)
    arrays["x_test"][2, 5, 3] = 3.0
    np.savez(data, **arrays)
    nir_file = str(NIR_FILES / "braille_noDelay_bias_zero.nir")
    code, _, err = run_cli("compile", nir_file, "--target", "loihi2", "--dataset", str(data), "-o", str(tmp_path / "b"))
    assert code == 2 and "x_test holds values other than 0 and 1 in 1 samples (the first: sample 2, step 5, value 3)" \
        in err and not (tmp_path / "b").exists()
    code, _, err = run_cli("compile", nir_file, "--dataset", str(data), "-o", str(tmp_path / "r"))
    assert code == 0, err


def test_steps_that_disagree_with_the_event_trains_are_refused(tmp_path, run_cli):
    data = _events_npz(tmp_path / "e.npz", 20, (12,), 7)
    code, _, err = run_cli("compile", str(NIR_FILES / "braille_noDelay_bias_zero.nir"), "--dataset", str(data),
                           "--steps", "10", "-o", str(tmp_path / "b"))
    assert code == 2 and "--steps 10: the event trains of e have T = 20 steps" in err


def test_time_dropout_is_dropped_for_deployment(tmp_path):
    """TimeDropout lowers to the IR's Dropout, the identity at inference: a trained SNN with it deploys on a chip."""
    import torch
    from torch import nn

    from neurodeploy.frontend.torch_fx import from_torch
    from neurodeploy.nn import LIF, SNN, DirectEncode, MembraneReadout, TimeDropout

    torch.manual_seed(0)
    snn = SNN(DirectEncode(4), nn.Flatten(), nn.Linear(64, 32), LIF(v_decay=0.25), TimeDropout(0.2),
              nn.Linear(32, 10), MembraneReadout())
    g = from_torch(snn, (1, 8, 8), "dropout_snn")
    assert g.find("Dropout")
    loaded = LoadedModel("dropout_snn", g, "digits", snn, spiking=True)
    request = CompileRequest(model="dropout_snn", output=tmp_path / "b", target="loihi2", eval_samples=10)
    report = compile_model(request, say=lambda s: None, imported=(loaded, _digits()))
    assert "Dropout" not in {layer["op"] for layer in report["layers"]}


def _digits():
    from neurodeploy.data import load_digits_dataset

    return load_digits_dataset()
