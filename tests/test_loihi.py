"""Loihi backends without Lava: fixed-point op semantics, pooling fold, quantization, mapping, accuracy, CLI.

(The spike-for-spike comparison with a real Lava run is in hw_tests/test_lava_agreement.py.)
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from neurodeploy.backends import get_backend
from neurodeploy.passes.fold_pooling import fold_average_pool
from neurodeploy.backends.loihi.mapping import map_to_cores
from neurodeploy.backends.loihi.quantize import LoihiNumerics, quantize_weights
from neurodeploy.pipeline import check_activity
from neurodeploy.errors import UnsupportedError
from neurodeploy.frontend import load_model
from neurodeploy.ir import reference
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage
from neurodeploy.sim.evaluate import Evaluation, evaluate

from helpers import leaky_snn

LOIHI2 = get_backend("loihi2")


def _lif_graph(a_in_shape, attrs, bias):
    g = Graph([], {"a": TensorType(a_in_shape, "int64", timed=True)}, ["s", "events"])
    b = g.add_param("bias", np.asarray(bias, np.int64))
    g.nodes = [Node("LoihiLIF", "lif", ["a", b], ["s", "events"], attrs)]
    check_graph(g)
    return g


def test_lif_current_wraps_and_voltage_saturates():
    # du=4095: u = a << 6 each step. a = 2^17 + 1 -> u = 2^23 + 64 wraps to 64 - 2^23; v saturates negative
    attrs = {"du": 4095, "dv": 0, "vth": 131071, "bias_exp": 0}
    g = _lif_graph((1,), attrs, [0])
    a = np.array([[[2**17]], [[2**17 + 1]], [[-(2**17) - 1]]], np.int64)  # [T=3, N=1, 1]
    out = reference.run(g, {"a": a}, keep=["s", "events"])
    # step 0: u = 2^23 (no wrap), v = 2^23 clips to 2^23 - 1 (1 event) > vth << 6 = 8388544: spike, v = 0
    # step 1: u = 2^23 + 64 wraps to 64 - 2^23 (1 event), v = 64 - 2^23
    # step 2: u = -2^23 - 64 wraps to 2^23 - 64 (1 event), v = 0
    assert out["events"].tolist() == [[3]]
    assert out["s"].reshape(-1).tolist() == [1, 0, 0]


def test_lif_threshold_is_strict_and_resets_to_zero():
    # bias 100 << 6 = 6400 per step, vth 200 << 6 = 12800: v = 6400, 12800 (not >), 19200 > -> spike, 0, ...
    g = _lif_graph((1,), {"du": 4095, "dv": 0, "vth": 200, "bias_exp": 6}, [100])
    out = reference.run(g, {"a": np.zeros((6, 1, 1), np.int64)}, keep=["s"])
    assert out["s"].reshape(-1).tolist() == [0, 0, 1, 0, 0, 1]


def test_dense_delays_one_step_and_shifts():
    g = Graph([], {"s": TensorType((2,), timed=True)}, ["a"])
    w = g.add_param("w", np.array([[3, -5]], np.int64))
    g.nodes = [Node("LoihiDense", "d", ["s", w], ["a"], {"weight_exp": -1})]
    s = np.array([[[1, 1]], [[1, 0]], [[0, 0]]], np.float32)
    # accumulations 3-5=-2, 3, 0 -> >>1 (floor): -1, 1, 0 -> delayed: 0, -1, 1
    assert reference.run(g, {"s": s})["a"].reshape(-1).tolist() == [0, -1, 1]


def test_quantize_weights_sign_modes():
    num = LoihiNumerics.from_spec(LOIHI2.spec)
    w = np.array([0.5, -1.0, 0.001, 0.2])
    q, mode, stats = quantize_weights(w, scale=254 * 64, exp=0, num=num)
    assert mode == "mixed" and q.tolist() == [128, -254, 0, 50] and stats["weights_zeroed"] == 1
    assert all(v % 2 == 0 for v in q)  # mixed-sign Loihi weights lose their lowest bit
    q, mode, _ = quantize_weights(np.array([1.0, 0.4]), scale=255 * 64, exp=0, num=num)
    assert mode == "excitatory" and q.tolist() == [255, 102]
    q, mode, stats = quantize_weights(np.array([-1.0, -0.5]), scale=300 * 64, exp=0, num=num)
    assert mode == "inhibitory" and q.tolist() == [-255, -150] and stats["weights_clipped"] == 1


def _float_snn(name, digits, steps=16, reset="zero"):
    ctx = PassContext(ConversionConfig(num_steps=steps, reset=reset, percentile=100.0),
                      calibration=digits.x_train[:256], spec=LOIHI2.spec, check=True)
    return run_passes(load_model(name).graph, stage("canonicalize") + stage("rate"), ctx), ctx


def test_fold_average_pool_keeps_meaning(digits):
    snn, ctx = _float_snn("digits_cnn", digits)
    folded = fold_average_pool(snn, ctx)
    assert not folded.find("AveragePool") and len(folded.nodes) == len(snn.nodes) - 2
    conv = folded.node("7")
    assert conv.attrs["kernel_shape"] == (6, 6) and conv.attrs["strides"] == (2, 2) and conv.attrs["pads"] == (2,) * 4
    x = digits.x_test[:20]
    np.testing.assert_allclose(reference.run(folded, {"input_1": x})[folded.outputs[0]],
                               reference.run(snn, {"input_1": x})[snn.outputs[0]], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("name", ["digits_cnn", "digits_mlp"])
def test_loihi_accuracy_within_one_and_a_half_points(digits, name):
    ann_ctx = PassContext(ConversionConfig(), calibration=digits.x_train[:512])
    ann = run_passes(load_model(name).graph, stage("canonicalize"), ann_ctx)
    ctx = PassContext(ConversionConfig(**LOIHI2.conversion_defaults()), calibration=digits.x_train[:512],
                      spec=LOIHI2.spec, check=True)
    deployed = run_passes(ann, stage("rate") + LOIHI2.passes(), ctx)
    assert LOIHI2.check(deployed) == []
    ann_acc = evaluate(ann, digits.x_test, digits.y_test).accuracy
    loihi = evaluate(deployed, digits.x_test, digits.y_test, LOIHI2.simulate, LOIHI2.counters(deployed))
    assert loihi.num_samples == 450 and loihi.accuracy >= ann_acc - 0.015
    report = deployed.meta["quantization"]
    assert [r["layer"] for r in report][-1] == "readout" and all(r["weights_clipped"] == 0 for r in report)


def _dense_layer_graph(inputs: int, outputs: int) -> Graph:
    g = Graph([], {"s": TensorType((inputs,), timed=True)}, ["v"])
    w = g.add_param("w", np.ones((outputs, inputs), np.int64))
    b = g.add_param("b", np.zeros(outputs, np.int64))
    g.nodes = [Node("LoihiDense", "fc", ["s", w], ["a"]),
               Node("LoihiVoltageReadout", "out", ["a", b], ["v"], {"du": 4095, "dv": 0, "vth": 131071})]
    check_graph(g)
    g.meta["num_steps"] = 4
    return g


def test_mapping_hand_checked_cases():
    spec = get_backend("loihi1").spec
    # 2000 -> 1000 dense: 2e6 synapses x (8 weight + 10 index bits) = 36e6 bits / 1048576 per core -> 35 cores
    m = map_to_cores(_dense_layer_graph(2000, 1000), spec)
    assert (m.cores, m.chips, m.layers[0].limited_by, m.violations) == (35, 1, "synaptic memory", [])
    # 20 -> 3000 dense: 60000 x 18 bits needs 2 cores of memory, but compartments need ceil(3000 / 1024) = 3
    m = map_to_cores(_dense_layer_graph(20, 3000), spec)
    assert (m.cores, m.layers[0].limited_by) == (3, "compartments")
    assert m.layers[0].utilization == pytest.approx(3000 / 3072)


def test_output_axons_add_cores():
    spec = get_backend("loihi1").spec
    g = Graph([], {"s": TensorType((10,), timed=True)}, ["v"])
    w1, w2 = g.add_param("w1", np.ones((4000, 10), np.int64)), g.add_param("w2", np.ones((3000, 4000), np.int64))
    b1, b2 = g.add_param("b1", np.zeros(4000, np.int64)), g.add_param("b2", np.zeros(3000, np.int64))
    lif = {"du": 4095, "dv": 0, "vth": 100}
    g.nodes = [Node("LoihiDense", "fc1", ["s", w1], ["a1"]), Node("LoihiLIF", "hidden", ["a1", b1], ["h"], lif),
               Node("LoihiDense", "fc2", ["h", w2], ["a2"]),
               Node("LoihiVoltageReadout", "out", ["a2", b2], ["v"], {**lif, "vth": 131071})]
    check_graph(g)
    hidden, out = map_to_cores(g, spec).layers
    # out: 12e6 synapses x 18 bits / 1048576 -> 206 cores; each hidden neuron reaches all 206, so the hidden
    # layer needs ceil(4000 x 206 / 4096) = 202 cores of output axons (compartments alone: 4)
    assert (out.cores, out.limited_by) == (206, "synaptic memory")
    assert (hidden.cores, hidden.limited_by, hidden.neurons_per_core) == (202, "output axons", 20)


def test_over_limit_network_lists_every_violation():
    spec = get_backend("loihi1").spec
    m = map_to_cores(_dense_layer_graph(70000, 10), spec)
    assert m.violations == ["out: input axons per core: one neuron needs 70000, limit 4096",
                            "out: synaptic memory per core: one neuron needs 1260000 bits, limit 1048576"]


def test_unlowerable_layers_are_listed(digits):
    snn, ctx = _float_snn("digits_mlp", digits, reset="subtract")
    deployed = run_passes(snn, LOIHI2.passes(), ctx)
    problems = LOIHI2.check(deployed)
    assert "2: reset 'subtract' (Lava's LIF resets to 0); convert or import with reset 'zero'" in problems
    assert not any(p.startswith("2 (IF)") for p in problems)  # the layer's reason is said once, not per node


def test_silenced_layer_is_an_error():
    before = Evaluation(1.0, np.zeros(1), 1, {"a": 12.0, "b": 3.0})
    after = Evaluation(1.0, np.zeros(1), 1, {"a": 10.0, "b": 0.0})
    with pytest.raises(UnsupportedError) as err:
        check_activity(before, after)
    assert err.value.problems == ["b: 3.0 spikes per sample before, 0 after"]


def test_compile_and_run_golden_through_the_cli(run_cli, tmp_path):
    out = tmp_path / "l2"
    code, stdout, stderr = run_cli("compile", "digits_mlp", "--target", "loihi2", "-o", out, "--steps", "16")
    assert code == 0, stderr
    assert "loihi2 accuracy (18 steps)" in stdout and "quantization" in stdout
    report = json.loads((out / "report.json").read_text())
    assert report["estimate"]["energy_basis"].startswith("extrapolated")
    assert report["estimate"]["energy_uj"] > 0 and report["estimate"]["cores"] >= 3
    assert {r["layer"] for r in report["quantization"]} == {"2", "4", "readout"}
    code, stdout, _ = run_cli("run", out, "--backend", "golden", "--samples", "25")
    assert code == 0 and "golden accuracy" in stdout
    result = json.loads((out / "run-golden.json").read_text())
    assert len(result["per_sample"]) == 25 and "prediction" in result["per_sample"][0]["golden"]


def test_residual_network_compiles_for_loihi(run_cli, tmp_path):
    path = tmp_path / "res.onnx"
    import torch
    from torch import nn

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Linear(256, 10)
            self.r1, self.r2 = nn.ReLU(), nn.ReLU()

        def forward(self, x):
            y = self.r1(self.a(x))
            return self.fc(torch.flatten(self.r2(self.b(y) + y), 1))

    torch.onnx.export(Res(), torch.rand(1, 1, 8, 8), str(path))
    out = tmp_path / "o"
    code, stdout, stderr = run_cli("compile", path, "--dataset", "digits", "--target", "loihi2", "-o", out,
                                   "--steps", "8", "--eval-samples", "20")
    assert code == 0, stderr
    graph = load_onnx_graph(out / "deployed.onnx")
    adder = next(n for n in graph.nodes if n.op == "Add")
    assert sorted(graph.producer(v).op for v in adder.inputs) == ["LoihiConv", "LoihiConv"]
    shortcut = next(graph.producer(v) for v in adder.inputs if graph.producer(v).attrs.get("group", 1) > 1)
    assert shortcut.attrs["kernel_shape"] == (1, 1) and shortcut.attrs["group"] == 4
    assert "sequential networks only" in (out / "network.net.txt").read_text()


def load_onnx_graph(path):
    from neurodeploy.frontend.onnx_import import load_onnx

    return load_onnx(path)


def _host_bias_at_netx_exp(g, x):
    """The first layer's per-sample bias mantissa, rescaled to netx's exponent 6."""
    first = next(n for n in g.find("LoihiLIF") if not n.inputs[0])
    mant = reference.run(g, {"input_1": x}, keep=[first.inputs[1]])[first.inputs[1]]
    return (mant << (first.attrs["bias_exp"] - 6)).astype(np.float32)


def test_netx_export_reimports_to_the_same_spikes(digits, tmp_path):
    from neurodeploy.backends.loihi.netx_export import export_netx
    from neurodeploy.frontend.netx import load_netx

    ctx = PassContext(ConversionConfig(**{**LOIHI2.conversion_defaults(), "num_steps": 12}),
                      calibration=digits.x_train[:256], spec=LOIHI2.spec, check=True)
    g = run_passes(load_model("digits_cnn").graph, stage("canonicalize") + stage("rate") + LOIHI2.passes(), ctx)
    back = load_netx(export_netx(g, tmp_path / "digits_cnn.net"))
    assert [n.op for n in back.nodes if n.op.startswith("Loihi")] == \
        [n.op if n.op != "LoihiVoltageReadout" else "LoihiLIF" for n in g.nodes if n.op.startswith("Loihi")]
    x = digits.x_test[:6]
    ours = [n.outputs[0] for n in g.find("LoihiLIF")]
    theirs = [n.outputs[0] for n in back.find("LoihiLIF")][: len(ours)]
    a = reference.run(g, {"input_1": x}, keep=ours)
    b = reference.run(back, {"x": _host_bias_at_netx_exp(g, x)}, keep=theirs)
    for mine, exported in zip(ours, theirs):
        np.testing.assert_array_equal(a[mine], b[exported])


def test_energy_hand_checked():
    from neurodeploy.backends.loihi.energy import estimate_energy

    spec = get_backend("loihi1").spec
    g = Graph([], {"s": TensorType((10,), timed=True)}, ["v"])
    w1, w2 = g.add_param("w1", np.ones((4, 10), np.int64)), g.add_param("w2", np.ones((2, 4), np.int64))
    b1, b2 = g.add_param("b1", np.zeros(4, np.int64)), g.add_param("b2", np.zeros(2, np.int64))
    g.nodes = [Node("LoihiDense", "fc1", ["s", w1], ["a1"]),
               Node("LoihiLIF", "hidden", ["a1", b1], ["h"], {"du": 4095, "dv": 0, "vth": 100}),
               Node("LoihiDense", "fc2", ["h", w2], ["a2"]),
               Node("LoihiVoltageReadout", "out", ["a2", b2], ["v"], {"du": 4095, "dv": 0, "vth": 131071})]
    check_graph(g)
    g.meta["num_steps"] = 5
    from neurodeploy.metrics import InputActivity

    # no input spikes; the hidden neurons spike 2, 2, 1 and 1 times; 10 and 8 active updates
    counts = {"hidden:updates": 10.0, "out:updates": 8.0}
    activity = Evaluation(None, np.zeros(1), 1, {"hidden": 6.0}, counts, input_activity={
        "s": InputActivity(np.zeros(10), True), "h": InputActivity(np.array([2.0, 2, 1, 1]), True)})
    e = estimate_energy(g, spec, map_to_cores(g, spec), activity)
    # 6 spikes x 2 synapses each = 12 dense synaptic ops; one message per spike (both targets on one core), no hop
    assert e["synaptic_ops_by_format"] == {"dense": 12, "sparse": 0, "conv": 0}
    assert e["messages_per_inference"] == 6
    with_input = Evaluation(None, np.zeros(1), 1, {"hidden": 6.0}, counts, input_activity={
        "s": InputActivity(np.array([1.0, 0, 2] + [0] * 7), True), "h": activity.input_activity["h"]})
    # input spikes reach their synapses on the chip too: 3 spikes x 4 = 12 more
    assert estimate_energy(g, spec, map_to_cores(g, spec), with_input)["synaptic_ops_per_inference"] == 24
    # 30 compartment-steps x 51.2 + 18 active x 21.6; 6 spike-outs x 69.3; 6 messages x 111 (message-in 0 pJ)
    breakdown_pj = {"synaptic_ops": 12 * 35.5, "neuron_updates": 30 * 51.2 + 18 * 21.6, "spikes_out": 6 * 69.3,
                    "messages": 6 * 111, "hops": 0}
    low_pj = 12 * 23.6 + 30 * 51.2 + 18 * 21.6 + 0 + 6 * 1.7
    high_pj = 12 * 35.5 + 30 * 52 + 18 * 29 + 6 * 69.3 + 6 * 111
    for term, pj in breakdown_pj.items():
        assert e["energy_breakdown_uj"][term] == pytest.approx(pj * 1e-6, abs=1e-15)
    assert e["dynamic_energy_uj"] == pytest.approx(sum(breakdown_pj.values()) * 1e-6)
    assert e["dynamic_energy_range_uj"] == pytest.approx([low_pj * 1e-6, high_pj * 1e-6])
    # per step (work spread evenly: no per-step profile given): the hidden core does (20 x 6.0 + 10 x 3.7) / 5 ns of
    # updates plus (6 x 30 + 6 x 5.1) / 5 ns of spikes and sends = 73.52 ns; the readout core (10 x 6.0 + 8 x 3.7) / 5
    # = 17.92 ns of updates and (6 x 16 + 12 x 3.8) / 5 = 28.32 ns of synaptic work. Overlapped: 73.52 ns; serial
    # (after its sender): 73.52 + 28.32 = 101.84 ns; nominal their mean, 87.68 ns; + 600 ns barrier (one tile)
    assert e["step_time_us"] == pytest.approx(687.68e-3)
    assert e["latency_us"] == pytest.approx(5 * 687.68e-3)
    static_uj = 104e-3 * 5 * 687.68e-9 * 1e6
    assert e["static_energy_uj"] == pytest.approx(static_uj)
    assert e["static_energy_range_uj"][0] == pytest.approx(29e-3 * e["latency_range_us"][0] * 1e-3 * 1e3)
    assert e["energy_uj"] == pytest.approx(sum(breakdown_pj.values()) * 1e-6 + static_uj)
    assert e["system_energy_uj"] is None and "not modelled" in e["system_energy_note"]
    for key in ("energy_uj", "dynamic_energy_uj", "static_energy_uj", "latency_us"):
        low, high = e[key.replace("_uj", "_range_uj").replace("_us", "_range_us")]
        assert low <= e[key] <= high
    # without an active-update counter every update is charged as active, and the report says so
    bare = Evaluation(None, np.zeros(1), 1, {"hidden": 6.0}, input_activity=activity.input_activity)
    e = estimate_energy(g, spec, map_to_cores(g, spec), bare)
    assert e["active_neuron_updates_per_inference"] == 30 and "not counted" in e["energy_notes"][0]


def test_run_refuses_what_it_cannot_run(run_cli, tmp_path):
    code, _, stderr = run_cli("run", tmp_path)
    assert code == 2 and "not a build folder (no report.json)" in stderr and "Traceback" not in stderr
    code, _, stderr = run_cli("run", tmp_path, "--sanafe-network", tmp_path / "n.yaml")
    assert code == 2 and "--sanafe-network needs --backend sanafe" in stderr and not (tmp_path / "n.yaml").exists()
    ref_build = tmp_path / "ref"
    assert run_cli("compile", "digits_mlp", "-o", ref_build, "--steps", "4", "--eval-samples", "10")[0] == 0
    code, _, stderr = run_cli("run", ref_build)
    assert code == 2 and "target 'ref' has no Loihi graph to run" in stderr


def test_netx_file_compiles_and_runs_on_golden(run_cli, tmp_path):
    from test_netx import NETX

    if not NETX.is_dir():
        pytest.skip(f"external networks not found at {NETX}")
    out = tmp_path / "nx"
    code, stdout, stderr = run_cli("compile", NETX / "mnist_dense.net", "--target", "loihi1", "-o", out)
    assert code == 0, stderr
    assert "seeded input" in stdout and "chip energy per inference, total (µJ)" in stdout and (out / "network.net").is_file()
    code, stdout, _ = run_cli("run", out, "--backend", "golden", "--samples", "3")
    assert code == 0 and "golden accuracy -" in stdout
    code, stdout, _ = run_cli("inspect", NETX / "mnist_dense.net")
    assert code == 0 and "LoihiDense" in stdout and "total: 202 neurons, 109184 synapses" in stdout


def test_leaky_neurons_get_12_bit_decays():
    g = leaky_snn(i_decay=0.5, bias=False)
    x = np.random.default_rng(2).random((64, 6), dtype=np.float32)
    ctx = PassContext(ConversionConfig(), calibration=x, spec=LOIHI2.spec, check=True)
    lowered = run_passes(g, LOIHI2.passes(), ctx)
    assert LOIHI2.check(lowered) == []
    lif = lowered.node("lif2")
    assert (lif.attrs["du"], lif.attrs["dv"]) == (2047, 1024)  # (du + 1) / 4096 = 0.5, dv / 4096 = 0.25
    row = next(r for r in lowered.meta["quantization"] if r["layer"] == "lif2")
    assert (row["du"], row["dv"]) == (2047, 1024)
    float_counts = reference.run(g, {"x": x}, keep=["s2"])["s2"].sum(axis=(0, 2))
    fixed_counts = reference.run(lowered, {"x": x}, keep=["s2"])["s2"].sum(axis=(0, 2))
    assert float_counts.mean() > 20
    assert np.corrcoef(float_counts, fixed_counts)[0, 1] > 0.95


def test_biased_decaying_current_becomes_its_steady_state_voltage_bias():
    g = leaky_snn(i_decay=0.5, bias=True)
    ctx = PassContext(ConversionConfig(), calibration=np.random.default_rng(2).random((16, 6), dtype=np.float32),
                      spec=LOIHI2.spec)
    deployed = run_passes(g, LOIHI2.passes(), ctx)
    assert LOIHI2.check(deployed) == []
    rows = {r["layer"]: r for r in deployed.meta["quantization"]}
    assert rows["lif2"]["bias_current_steady_state"] and not rows["lif2"].get("weights_clipped")


def test_sanafe_export_refuses_what_it_cannot_run_listing_every_reason():
    """Checked before SANA-FE is imported or anything runs: a Loihi 2 build and host spike inputs, both named."""
    from neurodeploy.backends.loihi.sanafe_run import check_runnable, expressible_problems
    from neurodeploy.errors import UnsupportedError

    g = Graph([], {"s": TensorType((10,), timed=True)}, ["h"])
    w = g.add_param("w", np.ones((4, 10), np.int64))
    g.nodes = [Node("LoihiDense", "fc", ["s", w], ["a"], {"weight_exp": -1}),
               Node("LoihiLIF", "hidden", ["a", g.add_param("b", np.zeros(4, np.int64))], ["h"],
                    {"du": 4095, "dv": 100, "vth": 100})]
    check_graph(g)
    g.meta["num_steps"] = 5
    with pytest.raises(UnsupportedError) as e:
        check_runnable(g, get_backend("loihi2").spec)
    assert "compile with --target loihi1" in str(e.value) and "spike inputs sent by the host" in str(e.value)
    notes = expressible_problems(g)  # what SANA-FE would run but not reproduce exactly
    assert any("hidden: decays du=4095 dv=100" in n for n in notes) and any("fc: weight_exp -1" in n for n in notes)
