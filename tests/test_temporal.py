"""TTFS / SC-TTFS: hand-computed neuron ops, conversion with fine-tuning, Loihi 2 lowering, per-chip support, and
the coding comparison table."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neurodeploy.backends import get_backend
from neurodeploy.pipeline import CompileRequest, compile_model
from neurodeploy.errors import UnsupportedError
from neurodeploy.frontend import load_model
from neurodeploy.ir import reference
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage
from helpers import single_op_graph

HALVING = {"num_steps": 4, "alpha": 1.0, "beta": 0.0, "k": math.log(2)}  # theta_e(t) = 1, .5, .25, .125
CALIBRATION = {"alpha_c": 0.5, "beta_c": 0.0, "k_c": math.log(2)}       # theta_c(t) = .5, .25, .125, .0625


def _spike_times(train: np.ndarray) -> list:
    """First spike step per neuron of a [T, N, k] train (None = silent)."""
    fired = train[:, 0].T
    return [int(np.argmax(row)) if row.any() else None for row in fired]


def test_ttfs_spikes_at_the_first_step_its_potential_reaches_the_threshold():
    v = np.array([[1.2, 0.6, 0.3, 0.1, 0.13, 0.0]], np.float32)
    (spikes,) = reference.run(single_op_graph("TTFS", (6,), attrs=HALVING), {"x": v}).values()
    assert _spike_times(spikes) == [0, 1, 2, None, 3, None]
    assert spikes.sum() == 4  # one spike at most
    decode = single_op_graph("TTFSDecode", (6,), attrs=HALVING, timed=True)
    (value,) = reference.run(decode, {"x": spikes}).values()
    np.testing.assert_allclose(value[0], [1.0, 0.5, 0.25, 0.0, 0.125, 0.0], rtol=1e-6)


def test_sc_ttfs_calibration_spike_encodes_the_residual():
    g = Graph([], {"x": TensorType((4,))}, ["enc", "cal"])
    g.nodes = [Node("SCTTFS", "n", ["x"], ["enc", "cal"], {**HALVING, **CALIBRATION})]
    out = reference.run(g, {"x": np.array([[0.9, 1.2, 0.3, 0.05]], np.float32)})
    # 0.9: encoding at t=1 (0.5), residual 0.4 >= theta_c(1)=0.25 -> calibration at t=1; decoded 0.75
    # 1.2: t=0 (1.0), residual 0.2 -> first t>=0 with 0.2 >= theta_c: t=2 (0.125); decoded 1.125 (clipped top)
    # 0.3: t=2 (0.25), residual 0.05 < theta_c(3)=0.0625 -> no calibration spike; 0.05: silent
    assert _spike_times(out["enc"]) == [1, 0, 2, None]
    assert _spike_times(out["cal"]) == [1, 2, None, None]
    decode = Graph([Node("TTFSDecode", "d", ["enc", "cal"], ["z"], {**HALVING, **CALIBRATION})],
                   {"enc": TensorType((4,), timed=True), "cal": TensorType((4,), timed=True)}, ["z"])
    z = reference.run(decode, {"enc": out["enc"], "cal": out["cal"]})["z"]
    np.testing.assert_allclose(z[0], [0.75, 1.125, 0.25, 0.0], rtol=1e-6)


def test_loihi_ttfs_integer_steps_by_hand():
    """Window 2, encoding from step 2: inputs of steps 1-2 are decoded ((a_e*De + a_c*Dc) >> 1), then thresholds."""
    attrs = {"window": 2, "encode_start": 2, "decode_shift": 1, "decode_enc": (4, 2), "decode_cal": (2, 1),
             "threshold_enc": (8, 5), "threshold_cal": (3, 1)}
    g = Graph([], {"a": TensorType((1,), "int64", timed=True), "c": TensorType((1,), "int64", timed=True)},
              ["enc", "cal"])
    bias = g.add_param("bias", np.array([3], np.int64))
    g.nodes = [Node("LoihiTTFS", "n", ["a", "c", bias], ["enc", "cal"], attrs)]
    a = np.array([7, 2, 1, 0, 0]).reshape(5, 1, 1)  # step 0 lies before the decoding window: ignored
    c = np.array([0, 0, 3, 0, 0]).reshape(5, 1, 1)
    out = reference.run(g, {"a": a, "c": c})
    # v: 3 -> +(2*4)>>1 = 7 -> +(1*2 + 3*1)>>1 = 9 >= 8: encoding spike at step 2, v = 1; 1 >= 1 at step 3: calibration
    assert out["enc"][:, 0, 0].tolist() == [0, 0, 1, 0, 0]
    assert out["cal"][:, 0, 0].tolist() == [0, 0, 0, 1, 0]
    readout = Graph([Node("LoihiTTFSReadout", "r", ["a", "c", bias], ["v"],
                          {k: v for k, v in attrs.items() if not k.startswith("threshold")})], dict(g.inputs), ["v"],
                    dict(g.params))
    assert reference.run(readout, {"a": a, "c": c})["v"].tolist() == [[9.0]]


def _temporal_snn(name: str, coding: str, steps: int, digits, epochs: int = 2, spec=None):
    cfg = ConversionConfig(coding=coding, num_steps=steps, finetune_epochs=epochs, percentile=100.0)
    ctx = PassContext(cfg, calibration=digits.x_train[:256], training=(digits.x_train[:400], digits.y_train[:400]),
                      spec=spec, check=True)
    ann = run_passes(load_model(name).graph, stage("canonicalize"), ctx)
    return ann, run_passes(ann, stage(coding), ctx), ctx


def test_conversion_replaces_relus_and_finetuning_keeps_the_best_epoch(digits):
    from neurodeploy.passes.finetune import TorchSNN

    ann, snn, _ = _temporal_snn("digits_mlp", "sc-ttfs", 6, digits, epochs=3)
    assert not snn.find("Relu") and len(snn.find("SCTTFS")) == len(ann.find("Relu")) == 2
    assert snn.meta["latency_steps"] == 12
    tuned = snn.meta["finetune"]
    assert len(tuned["train_loss"]) == 4 and tuned["train_loss"][tuned["kept_epoch"]] == min(tuned["train_loss"])
    for neuron in snn.find("SCTTFS"):  # the decoders carry the sender's trained curves
        (decode,) = [c for c in snn.consumers(neuron.outputs[0]) if c.op == "TTFSDecode"]
        assert {k: decode.attrs[k] for k in ("alpha", "k", "alpha_c")} == {k: neuron.attrs[k] for k in ("alpha", "k", "alpha_c")}
    import torch

    x = digits.x_test[:64]
    with torch.no_grad():
        torch_out = TorchSNN(snn).forward(torch.tensor(x, dtype=torch.float64)).numpy()
    out = reference.run(snn, {next(iter(snn.inputs)): x})[snn.outputs[0]]
    np.testing.assert_allclose(out, torch_out, atol=1e-3)


def test_sc_ttfs_represents_activations_closer_than_ttfs_at_the_same_window(digits):
    """papers/001 eq. 18-19: the calibration spike shrinks the quantization and clipping error of a layer."""
    x = digits.x_test[:200]
    errors = {}
    for coding in ("ttfs", "sc-ttfs"):
        ann, snn, _ = _temporal_snn("digits_mlp", coding, 4, digits, epochs=0)
        first = ann.find("Relu")[0].outputs[0]  # the decoder of the first layer writes the ReLU's value
        exact = reference.run(ann, {next(iter(ann.inputs)): x}, keep=[first])[first]
        decoded = reference.run(snn, {next(iter(snn.inputs)): x}, keep=[first])[first]
        errors[coding] = float(np.abs(decoded - exact).mean() / np.abs(exact).mean())
    assert errors["sc-ttfs"] < 0.5 * errors["ttfs"], errors


def test_loihi2_lowering_agrees_with_the_float_snn_and_lists_its_quantization(digits):
    from neurodeploy.sim.evaluate import evaluate

    backend = get_backend("loihi2")
    _, snn, ctx = _temporal_snn("digits_cnn", "sc-ttfs", 6, digits, epochs=0, spec=backend.spec)
    deployed = run_passes(snn, backend.passes(), ctx)
    assert backend.check(deployed) == []
    assert deployed.meta["num_steps"] == 4 * 6 + 1
    assert [n.attrs["encode_start"] for n in deployed.find("LoihiTTFS")] == [0, 6, 12, 18]
    x, y = digits.x_test[:150], digits.y_test[:150]
    floating, golden = evaluate(snn, x, y), evaluate(deployed, x, y)
    assert golden.accuracy >= floating.accuracy - 0.02
    for layer, spikes in floating.spikes_per_layer.items():
        assert golden.spikes_per_layer[layer] == pytest.approx(spikes, rel=0.05)
    rows = {r["layer"]: r for r in deployed.meta["quantization"]}
    assert all(r["decode_clipped"] == 0 and r["biases_clipped"] == 0 for r in rows.values())
    assert rows["2"]["weights"] == 0 and rows["5"]["weights"] == 16 * 32 * 9  # first layer on the host


@pytest.mark.parametrize("target,reason", [("truenorth", "constant threshold"), ("spinnaker1", "sPyNNaker"),
                                           ("loihi1", "programmable")])
def test_chips_without_temporal_neurons_refuse_with_the_reason(tmp_path, target, reason):
    request = CompileRequest("digits_mlp", tmp_path / "out", target=target, eval_samples=20,
                             conversion={"coding": "sc-ttfs", "num_steps": 4, "finetune_epochs": 0})
    with pytest.raises(UnsupportedError) as err:
        compile_model(request, say=lambda _: None)
    text = str(err.value) + "\n".join(err.value.problems)
    assert reason in text and "SCTTFS" in text and "neurodeploy codings" in text
    assert not (tmp_path / "out").exists()


def test_codings_table_ranks_sc_ttfs_below_ttfs_in_normalized_energy(tmp_path, run_cli):
    code, out, err = run_cli("codings", "digits_mlp", "-o", tmp_path / "cmp", "--rate-steps", "32",
                             "--ttfs-steps", "4,16", "--sc-ttfs-steps", "4", "--tolerance", "1.0",
                             "--finetune-epochs", "2", "--eval-samples", "150")
    assert code == 0, err
    summary = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    rows = {r["coding"]: r for r in summary["rows"]}
    assert set(rows) == {"rate", "ttfs", "sc-ttfs"} and "normalized energy, SpiNNaker weights" in out
    assert [c["T"] for c in summary["candidates"]["ttfs"]] == [4, 16] and rows["ttfs"]["T"] == 16
    assert rows["sc-ttfs"]["latency_steps"] == 2 * 4 + 1 and rows["ttfs"]["latency_steps"] == 2 * 16 + 1
    assert rows["sc-ttfs"]["spikes_per_inference"] < rows["rate"]["spikes_per_inference"]
    for column in ("norm_energy_truenorth", "norm_energy_spinnaker"):
        assert rows["sc-ttfs"][column] < rows["ttfs"][column]
    assert (tmp_path / "cmp" / "comparison.md").read_text().count("|") > 30
    assert (tmp_path / "cmp" / "sc-ttfs-T4" / "report.json").is_file()


def test_codings_folder_is_rewritable_and_reprinted(tmp_path, run_cli):
    out = tmp_path / "cmp"
    argv = ("codings", "digits_mlp", "-o", out, "--codings", "rate", "--rate-steps", "8", "--eval-samples", "20")
    assert run_cli(*argv)[0] == 0
    (out / "notes.txt").write_text("mine")
    code, _, err = run_cli(*argv)
    assert code == 0, err
    assert "kept 1 file(s)" in err and (out / "notes.txt").is_file() and (out / "rate-T8" / "report.json").is_file()
    code, stdout, _ = run_cli("report", out)
    assert code == 0 and "rate" in stdout and "normalized energy, TrueNorth weights" in stdout
