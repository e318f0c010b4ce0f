"""T-RevSNN-style networks (papers/002, models/trevsnn.py): the stateless threshold neuron and the weight-standardized
convolution, the export passes against the IR reference (negative leaks included), the shipped model's folded graph
against torch on the whole test split, memory-saving training against plain BPTT, and deployment on every target."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neurodeploy import compile as nd_compile
from neurodeploy.backends import get_backend
from neurodeploy import nn as snn
from neurodeploy.data import load_dataset
from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.frontend import load_model
from neurodeploy.frontend.torch_fx import from_torch
from neurodeploy.ir import reference
from neurodeploy.ir.ops import OPS
from neurodeploy.ir.ops.ann import standardized_weight
from neurodeploy.models.trevsnn import CifarTRevSNN, DigitsTRevSNN
from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage
from neurodeploy.passes.fold_synapses import WEIGHTED

SHAPE = (1, 8, 8)


def _random_model(seed: int = 0) -> DigitsTRevSNN:
    """Random weights, leaks of both signs and layer scales far from 1: every fold has something to do."""
    torch.manual_seed(seed)
    model = DigitsTRevSNN().eval()
    with torch.no_grad():
        for leak in model.leaks:
            leak.module.scale.uniform_(-1.0, 1.0)
        for m in model.modules():
            if isinstance(m, snn.ChannelScale) and m.bound is None:
                m.scale.uniform_(-2.0, 2.0)
            if isinstance(m, snn.WSConv2d):
                m.gain.uniform_(0.5, 2.0)
    return model


def _run(g, x: np.ndarray, keep=()) -> dict:
    return reference.run(g, {next(iter(g.inputs)): x}, keep=keep)


def _digits(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    data = load_dataset("digits")
    return data.x_test[:n], data.y_test[:n]


# ------------------------------------------------------------------ layers and ops


def test_threshold_neuron_fires_strictly_above_its_threshold_and_keeps_nothing():
    layer = snn.ThresholdNeuron()
    x = torch.tensor([[[0.4999, 0.5, 0.5001, 2.0, -1.0]], [[0.3, 0.3, 0.3, 0.3, 0.3]]])  # [T=2, N=1, 5]
    spikes = layer(x)
    assert spikes[0, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]  # 0.5 itself does not spike (half to even)
    assert spikes[1].sum() == 0  # step 0 left nothing: 0.3 alone stays below 0.5
    g = from_torch(snn.SNN(layer), (5,), timed_input=True)
    (lif,) = g.find("LIF")
    assert (lif.attrs["v_decay"], lif.attrs["i_decay"], lif.attrs["fire_when"]) == (1.0, 1.0, "gt")
    assert np.array_equal(_run(g, x.numpy())[g.outputs[0]], spikes.numpy())


def test_threshold_neuron_refuses_state_settings():
    with pytest.raises(InputError, match="v_decay is fixed"):
        snn.ThresholdNeuron(v_decay=0.5)


def test_weight_standardized_conv_matches_the_ir_op():
    torch.manual_seed(1)
    conv = snn.WSConv2d(4, 6, 3, padding=1)
    with torch.no_grad():
        conv.gain.uniform_(0.5, 2.0)
        conv.bias.uniform_(-1, 1)
    w = conv.standardized_weight().detach().numpy()
    flat = w.reshape(6, -1) / conv.gain.detach().numpy()[:, None]
    assert np.allclose(flat.mean(axis=1), 0, atol=1e-6) and np.allclose((flat ** 2).sum(axis=1), 1, atol=1e-4)
    assert np.allclose(standardized_weight(conv.weight.detach().numpy(), conv.gain.detach().numpy(), conv.eps), w,
                       atol=1e-6)
    x = torch.rand(3, 4, 5, 5)
    g = from_torch(nn.Sequential(conv), (4, 5, 5))
    assert [n.op for n in g.nodes] == ["WSConv"]
    assert np.allclose(_run(g, x.numpy())[g.outputs[0]], conv(x).detach().numpy(), atol=1e-5)


def test_sum_adds_any_number_of_inputs_left_to_right():
    a, b, c = (np.full((2, 3), v, np.float32) for v in (1e8, -1e8, 1.0))
    assert OPS["Sum"].ref([a, b, c], {})[0].tolist() == [[1.0] * 3] * 2  # (a + b) + c, not a + (b + c) = 0


# ------------------------------------------------------------------ export passes


def _flat_inputs(g) -> list[str]:
    """Neuron layers whose input is not one Conv/Gemm or one Add/Sum of Conv/Gemm read by that layer only."""
    bad = []
    for neuron in g.find("IF", "LIF", "MembraneReadout"):
        producer = g.producer(neuron.inputs[0])
        paths = [g.producer(v) for v in producer.inputs] if producer.op in ("Add", "Sum") else [producer]
        if not all(p is not None and p.op in WEIGHTED and len(g.consumers(p.outputs[0])) == 1 for p in paths):
            bad.append(neuron.name)
    return bad


def test_export_passes_keep_the_reference_outputs_with_negative_leaks():
    model = _random_model()
    g = from_torch(model, SHAPE, "trevsnn")
    x = torch.rand(64, *SHAPE) * 16
    with torch.no_grad():
        expected = model(x).numpy()
    ctx = PassContext(check=True)  # the checker runs after every pass
    passes = stage("export")
    for i in range(1, len(passes) + 1):
        folded = run_passes(g, passes[:i], ctx)
        out = _run(folded, x.numpy())[folded.outputs[0]]
        assert np.allclose(out, expected, atol=1e-4), f"after {passes[i - 1].__name__}: {np.abs(out - expected).max()}"
    ops = {n.op for n in folded.nodes}
    assert not ops & {"WSConv", "Mul"}, ops  # additions only: every scale sits in a synapse
    assert _flat_inputs(folded) == []
    assert g.find("WSConv") and g.find("Mul")  # the passes never change the graph they are given


def test_a_carried_state_unrolls_into_synapses_scaled_by_powers_of_the_leak():
    class Carry(nn.Module):
        def __init__(self):
            super().__init__()
            self.encode, self.fire, self.fire_a = snn.DirectEncode(1), snn.ThresholdNeuron(), snn.ThresholdNeuron()
            self.a, self.b = snn.PerStep(nn.Linear(3, 2)), snn.PerStep(nn.Linear(3, 2))
            self.leak = snn.PerStep(snn.ChannelScale(2, -0.5))
            self.readout = snn.MembraneReadout(1.0)

        def forward(self, x):
            x = self.encode(x)
            state = self.a(x)  # read by two layers: its synapses are copied for the second
            carried = self.leak(self.leak(state)) + self.b(x)  # alpha^2 a(x) + b(x): two steps of carry
            return self.readout(self.fire(carried) + self.fire_a(state))

    model = Carry().eval()
    g = run_passes(from_torch(model, (3,)), stage("export"), PassContext(check=True))
    paths = {n.name: n for n in g.nodes if n.op == "Gemm"}
    copy_a = paths["a_to_fire"]
    assert np.allclose(g.param_of(copy_a, 1), 0.25 * model.a.module.weight.detach().numpy(), atol=1e-7)
    assert np.allclose(g.param_of(copy_a, 2), 0.25 * model.a.module.bias.detach().numpy(), atol=1e-7)
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    with torch.no_grad():
        assert np.allclose(_run(g, x)[g.outputs[0]], model(torch.from_numpy(x)).numpy(), atol=1e-6)


def test_channel_scales_fold_only_into_a_layer_they_alone_read():
    g = from_torch(_random_model(), SHAPE)
    passes = stage("export")
    upto = [p.__name__ for p in passes].index("fold_channel_scales") + 1
    folded = run_passes(g, passes[:upto], PassContext(check=True))
    left = [n for n in folded.nodes if n.op == "Mul"]
    # layer scales sit after the pointwise conv they alone read: folded; leaks scale a sum of currents: left for
    # expand_current_sums
    assert left and all("leaks" in n.name for n in left)


# ------------------------------------------------------------------ the zoo model


@pytest.fixture(scope="module")
def shipped():
    loaded = load_model("digits_trevsnn")
    return loaded, run_passes(loaded.graph, stage("export"), PassContext(check=True))


def test_shipped_model_folded_graph_predicts_as_torch_on_the_whole_test_split(shipped):
    loaded, folded = shipped
    module = loaded.torch_module.eval()
    x, y = _digits()
    spikes: dict[str, list] = {}
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: spikes.setdefault(name, []).append(o.numpy()))
             for name, m in module.named_modules() if isinstance(m, snn.ThresholdNeuron)]
    with torch.no_grad():
        logits = module(torch.from_numpy(x)).numpy()
    for h in hooks:
        h.remove()
    neurons = {n.name: n.outputs[0] for n in folded.find("LIF")}
    out = _run(folded, x, keep=list(neurons.values()))
    assert np.array_equal(out[folded.outputs[0]].argmax(1), logits.argmax(1))
    assert np.mean(logits.argmax(1) == y) >= 0.95
    differing = sum(int((out[v] != spikes[name][0]).sum()) for name, v in neurons.items())
    total = sum(out[v].size for v in neurons.values())
    assert differing <= 1e-4 * total, f"{differing} of {total} spikes differ (float rounding at the threshold)"


def test_memory_saving_training_gives_the_gradients_of_plain_bptt():
    torch.manual_seed(3)
    saving = DigitsTRevSNN(save_memory=True).train()
    plain = DigitsTRevSNN(save_memory=False).train()
    plain.load_state_dict(saving.state_dict())
    x, y = _digits(16)
    for model in (saving, plain):
        loss = nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
    for (name, a), (_, b) in zip(saving.named_parameters(), plain.named_parameters()):
        assert a.grad is not None and torch.allclose(a.grad, b.grad, atol=1e-6), name
    assert any(float(p.grad.abs().sum()) > 0 for p in saving.leaks.parameters())


def test_cifar_definition_traces_and_folds():
    g = run_passes(from_torch(CifarTRevSNN(), (3, 32, 32)), stage("export"), PassContext(check=True))
    assert _flat_inputs(g) == [] and not g.find("WSConv", "Mul")
    assert len(g.find("LIF")) == 1 + 4 * 3 * 4  # the stem, and 4 neuron layers per level, 3 levels, 4 columns


# ------------------------------------------------------------------ deployment


@pytest.fixture(scope="module")
def on_loihi2(tmp_path_factory):
    return nd_compile("digits_trevsnn", target="loihi2", output=tmp_path_factory.mktemp("trev") / "loihi2")


def test_loihi2_keeps_the_float_accuracy_with_stateless_neurons_only(on_loihi2):
    report = on_loihi2.report
    assert abs(report["deployed"]["accuracy"] - report["snn"]["accuracy"]) <= 0.015
    estimate = on_loihi2.estimate
    assert estimate["cores"] > 0 and estimate["energy_uj"] > 0 and estimate["latency_us"] > 0
    layers = [row for row in report["layers"] if row["op"] in ("LoihiLIF", "LoihiVoltageReadout")]
    assert len(layers) == 34
    assert any(row["op"] == "LoihiConv" and "dwconv" in row["name"] for row in report["layers"])  # depthwise


def test_golden_stateless_lif_clears_its_state_every_step():
    attrs = {"du": 4095, "dv": 0, "vth": 1, "bias_exp": 0, "v_init": 0, "num_steps": 0, "bias_start": 0}
    a_in = np.full((5, 1, 1), 1, np.int64)  # 1 << 6 = 64 per step, threshold 1 << 6 = 64: never above it alone
    ref = lambda extra: OPS["LoihiLIF"].ref([a_in, np.zeros(1, np.int64)], {**attrs, **extra})[0][:, 0, 0]
    assert ref({}).tolist() == [0, 1, 0, 1, 0]  # v integrates 64 + 64 > 64 and resets
    assert ref({"reset_every_step": 1}).tolist() == [0] * 5


@pytest.mark.parametrize("target, reason, count", [
    ("loihi1", "Loihi 2 (microcoded) neuron", 34),  # the 33 neuron layers and the readout
    ("truenorth", "stateless threshold neuron", 33),  # (and the readout, the DirectEncode input)
    ("spinnaker1", "not one Conv/Gemm", 11),  # every layer that sums several synapse paths
])
def test_other_targets_name_every_layer_they_cannot_express(target, reason, count, tmp_path):
    with pytest.raises(UnsupportedError) as info:
        nd_compile("digits_trevsnn", target=target, output=tmp_path / target)
    problems = [p for p in info.value.problems if reason in p]
    assert len(problems) == count, info.value.problems
    assert not (tmp_path / target).exists()  # no half-written build


def test_lowered_graph_runs_every_layer_stateless_to_its_steady_state(shipped):
    _, folded = shipped
    backend = get_backend("loihi2")
    x, _ = _digits(40)
    ctx = PassContext(ConversionConfig(num_steps=1), calibration=load_dataset("digits").x_train[:200],
                      spec=backend.spec, check=True)
    deployed = run_passes(folded, backend.passes(), ctx)
    assert backend.check(deployed) == []
    chip = deployed.find("LoihiLIF", "LoihiVoltageReadout")
    assert chip and all(n.attrs.get("reset_every_step") == 1 for n in chip)
    assert deployed.meta["steady_state"] and deployed.meta["num_steps"] == 1 + deployed.meta["pipeline_depth"]
    golden = _run(deployed, x)[deployed.outputs[0]]
    float_out = _run(folded, x)[folded.outputs[0]]
    assert np.mean(golden.argmax(1) == float_out.argmax(1)) >= 0.95
