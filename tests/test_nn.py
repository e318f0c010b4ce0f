"""neurodeploy.nn: spiking layers whose torch forward equals the IR reference spike for spike, surrogate gradients,
training, the torch.fx rules for spiking models, guidance for other libraries' neurons, the digits SNN."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import neurodeploy.nn as snn
from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.frontend.torch_fx import from_torch
from neurodeploy.ir import reference


def _spikes_in(steps: int, samples: int, shape: tuple, rate: float = 0.4) -> np.ndarray:
    return (np.random.rand(steps, samples, *shape) < rate).astype(np.float32)


def _randomize(module: nn.Module) -> nn.Module:
    """Nonzero neuron biases and BN statistics, so every parameter the lowering copies matters."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, snn.NEURONS) and m.bias is not None:
                m.bias.uniform_(-0.2, 0.3)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return module.eval()


def assert_same_spikes(module: nn.Module, x: np.ndarray, input_shape: tuple, **trace) -> dict:
    """Torch forward vs IR reference: every neuron layer's spikes equal, the output close; returns the spikes."""
    g = from_torch(module, input_shape, "under_test", **trace)
    layers = {name: m for name, m in module.named_modules() if isinstance(m, snn.NEURONS)}
    seen = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, out.detach().numpy()))
             for name, m in layers.items()]
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    for h in hooks:
        h.remove()
    values = {name: g.node(name).outputs[0] for name in layers}
    got = reference.run(g, {next(iter(g.inputs)): x}, keep=values.values())
    for name, value in values.items():
        np.testing.assert_array_equal(got[value], seen[name], err_msg=f"spikes of layer '{name}'")
        assert 0.02 < seen[name].mean() < 0.98, f"layer '{name}' fires at rate {seen[name].mean()}: a weak test"
    np.testing.assert_allclose(got[g.outputs[0]], expected, rtol=1e-5, atol=1e-4)
    return seen


NEURON_OPTIONS = [
    dict(reset="zero"), dict(reset="subtract"), dict(reset="none"),
    dict(reset="zero", reset_timing="next_step"), dict(reset="subtract", reset_timing="next_step"),
    dict(fire_when="ge"), dict(refractory=2), dict(refractory=1, reset="subtract"), dict(v_init=0.5),
    dict(surrogate="leak_aware"), dict(threshold=0.6, bias=True, shape=12),
]


@pytest.mark.parametrize("options", NEURON_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("kind", ["IF", "LIF"])
def test_neuron_options_give_the_same_spikes_as_the_ir(kind, options):
    def neuron(n):
        settings = {**options, "shape": n} if "shape" in options else options
        return snn.IF(**settings) if kind == "IF" else snn.LIF(v_decay=0.2, **settings)

    model = _randomize(snn.SNN(nn.Linear(6, 12), neuron(12), nn.Linear(12, 8), neuron(8), snn.SpikeCount()))
    with torch.no_grad():
        model[0].module.weight.mul_(2.0)
        model[2].module.weight.mul_(2.0)
    assert_same_spikes(model, _spikes_in(20, 4, (6,)), (6,))


@pytest.mark.parametrize("decay", [dict(v_decay=0.1, i_decay=0.3), dict(beta=0.8, alpha=0.5),
                                   dict(tau_mem=2e-3, tau_syn=5e-3, dt=1e-3)])
def test_current_decay_and_its_three_spellings(decay):
    model = _randomize(snn.SNN(nn.Linear(5, 10), snn.LIF(**decay), nn.Linear(10, 4), snn.MembraneReadout(0.25)))
    assert_same_spikes(model, _spikes_in(24, 3, (5,)), (5,))
    g = from_torch(model, (5,))
    lif = g.find("LIF")[0]
    expected = {"v_decay": 0.1, "i_decay": 0.3} if "v_decay" in decay else \
        {"v_decay": 0.2, "i_decay": 0.5} if "beta" in decay else {"v_decay": 0.5, "i_decay": 0.2}
    for key, value in expected.items():
        assert lif.attrs[key] == pytest.approx(value, rel=1e-6)
    assert g.meta["time"]["dt"] == decay.get("dt")


def test_recurrent_layers_match_with_and_without_bias():
    model = _randomize(snn.SNN(
        nn.Linear(6, 16), snn.RecurrentLIF(16, v_decay=0.1, reset="subtract", bias=True),
        nn.Linear(16, 8), snn.IF(shape=8, recurrent=True, reset="zero", reset_timing="next_step"),
        snn.SpikeCount()))
    with torch.no_grad():
        model[1].recurrent_weight.mul_(3.0)
        model[3].recurrent_weight.mul_(3.0)
        model[0].module.weight.mul_(2.0)
    assert_same_spikes(model, _spikes_in(25, 4, (6,)), (6,))
    g = from_torch(model, (6,))
    first, second = g.find("LIF")[0], g.find("IF")[0]
    assert g.params[first.inputs[2]].shape == (16, 16) and first.inputs[1] in g.params
    assert second.inputs[1] == "" and g.params[second.inputs[2]].shape == (8, 8)


class ConvSNN(nn.Module):
    """A hand-written forward: conv, BatchNorm, pooling and a residual add of spikes over time."""

    def __init__(self):
        super().__init__()
        self.encode = snn.DirectEncode(10)
        self.conv = snn.PerStep(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)))
        self.lif1 = snn.LIF(v_decay=0.25, shape=(4, 8, 8), bias=True, threshold=0.5)
        self.conv2 = snn.PerStep(nn.Conv2d(4, 4, 3, padding=1))
        self.lif2 = snn.LIF(v_decay=0.25, threshold=0.5, surrogate="fast_sigmoid")
        self.pool = snn.PerStep(nn.AvgPool2d(2))
        self.drop = snn.TimeDropout(0.2)
        self.flat = snn.PerStep(nn.Flatten())
        self.fc = nn.Linear(64, 10)  # acts on the last axis: per step as is
        self.if3 = snn.IF(threshold=0.3)
        self.out = snn.SpikeCount()

    def forward(self, x):
        s1 = self.lif1(self.conv(self.encode(x)))
        s2 = self.lif2(self.conv2(s1)) + s1
        return self.out(self.if3(self.fc(self.flat(self.drop(self.pool(s2))))))


def test_a_hand_written_conv_snn_matches_step_for_step():
    model = _randomize(ConvSNN())
    spikes = assert_same_spikes(model, np.random.rand(3, 1, 8, 8).astype(np.float32), (1, 8, 8))
    assert spikes["lif1"].shape == (10, 3, 4, 8, 8)
    g = from_torch(model, (1, 8, 8))
    assert [n.op for n in g.nodes] == ["DirectEncode", "Conv", "BatchNormalization", "LIF", "Conv", "LIF", "Add",
                                       "AveragePool", "Dropout", "Flatten", "Gemm", "IF", "SpikeCount"]
    assert not g.inputs["x"].timed and g.meta["time"]["num_steps"] == 10


@pytest.mark.parametrize("distribution", ["bernoulli", "poisson"])
def test_rate_encoding_in_eval_mode_draws_the_ir_references_spikes(distribution):
    model = snn.SNN(snn.RateEncode(12, gain=0.8, distribution=distribution, seed=3), nn.Flatten(),
                    nn.Linear(16, 6), snn.IF(threshold=0.5), snn.SpikeCount()).eval()
    x = np.random.rand(5, 16).astype(np.float32)
    assert_same_spikes(model, x, (16,))
    node = from_torch(model, (16,)).find("RateEncode")[0]
    assert node.attrs == {"num_steps": 12, "distribution": distribution, "gain": pytest.approx(0.8), "seed": 3}
    model.train()
    assert not torch.equal(model[0](torch.from_numpy(x)), model[0](torch.from_numpy(x)))  # fresh draws


def test_timed_input_rule_and_time_metadata():
    timed = snn.SNN(nn.Linear(4, 3), snn.LIF(v_decay=0.5, tau_syn=None), snn.SpikeCount())
    g = from_torch(timed, (4,))
    assert g.inputs["input_1"].timed and g.meta["time"]["timed_input"]
    assert g.meta["time"]["integration"] == "discrete" and g.meta["time"]["source"].startswith("neurodeploy.nn")
    assert not from_torch(nn.Sequential(nn.Linear(4, 3)), (4,)).inputs["input_1"].timed
    assert "time" not in from_torch(nn.Sequential(nn.Linear(4, 3)), (4,)).meta
    assert from_torch(nn.Sequential(nn.Linear(4, 3), snn.SpikeCount()), (4,), timed_input=True).inputs["input_1"].timed
    with pytest.raises(UnsupportedError, match="put neurodeploy.nn.DirectEncode or RateEncode before it"):
        from_torch(timed, (4,), timed_input=False)
    clash = snn.SNN(nn.Linear(4, 3), snn.LIF(tau_mem=2e-3, dt=1e-3), nn.Linear(3, 3),
                    snn.LIF(tau_mem=4e-3, dt=5e-4), snn.SpikeCount())
    with pytest.raises(UnsupportedError, match="disagree on dt") as err:
        from_torch(clash, (4,))
    assert err.value.problems == ["layer '1': dt = 0.001", "layer '3': dt = 0.0005"]


class Raw(nn.Module):
    def __init__(self, wrap: bool):
        super().__init__()
        self.encode, self.lif = snn.DirectEncode(4), snn.IF()
        self.conv = snn.PerStep(nn.Conv2d(1, 2, 3)) if wrap else nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.flatten(self.lif(self.conv(self.encode(x))), 1)


def test_per_sample_layers_on_spikes_must_be_wrapped():
    with pytest.raises(UnsupportedError) as err:
        from_torch(Raw(wrap=False), (1, 6, 6))
    assert "Conv2d gets spikes over time [T, N, ...]" in err.value.problems[0]
    assert "wrap it in neurodeploy.nn.PerStep" in err.value.problems[0]
    with pytest.raises(UnsupportedError) as err:
        from_torch(Raw(wrap=True), (1, 6, 6))
    assert "flatten on a value with a time axis [T, N, ...] would act on T" in err.value.problems[0]


def test_invalid_settings_are_listed_at_once():
    with pytest.raises(InputError) as err:
        snn.LIF(v_decay=1.5, beta=0.5, threshold=-1, reset="soft", refractory=-1, recurrent=True)
    assert len(err.value.problems) == 5
    with pytest.raises(InputError, match="give the voltage decay"):
        snn.LIF()
    with pytest.raises(InputError, match=r"input must be \[T, N, ...\]"):
        snn.IF()(torch.zeros(3))


# ------------------------------------------------------------------ gradients and training


def test_surrogate_shapes():
    v = torch.tensor([0.0, 0.4, 0.9, 1.0, 1.1, 1.6, 3.0])
    np.testing.assert_allclose(snn.rectangular(v, 1.0, 1.0), [0, 0, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(snn.rectangular(v, 1.0, 0.5), [0, 0, 2, 2, 2, 0, 0])
    assert snn.fast_sigmoid(v, 1.0, 1.0).argmax() == 3 and (snn.fast_sigmoid(v, 1.0, 1.0) > 0).all()
    np.testing.assert_allclose(snn.leak_aware(v, 2.0, torch.full_like(v, 0.5)), [0] + [0.25] * 6)


@pytest.mark.parametrize("surrogate", snn.SURROGATES)
def test_surrogate_gradients_reach_every_weight(surrogate):
    model = snn.SNN(snn.DirectEncode(6), nn.Linear(5, 8), snn.LIF(v_decay=0.3, surrogate=surrogate),
                    nn.Linear(8, 8), snn.RecurrentLIF(8, v_decay=0.3, surrogate=surrogate, bias=True),
                    nn.Linear(8, 3), snn.MembraneReadout())
    model(torch.rand(4, 5) * 2).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_leak_aware_correction_shrinks_with_the_leak():
    """Gradient per unit input of a constantly driven neuron: IF keeps 1/v_th, more leak gives less."""
    def input_gradient(v_decay):
        x = torch.full((10, 1, 1), 0.6, requires_grad=True)
        layer = snn.LIF(v_decay=v_decay, surrogate="leak_aware") if v_decay else snn.IF(surrogate="leak_aware")
        layer(x).sum().backward()
        return x.grad.sum().item()

    gradients = [input_gradient(d) for d in (0.0, 0.1, 0.4)]
    assert gradients[0] > gradients[1] > gradients[2] > 0


def test_a_few_training_steps_lower_the_loss(digits):
    model = snn.SNN(snn.DirectEncode(4), nn.Flatten(), nn.Linear(64, 32), snn.LIF(v_decay=0.25),
                    nn.Linear(32, 10), snn.MembraneReadout())
    x, y = torch.from_numpy(digits.x_train[:256]), torch.from_numpy(digits.y_train[:256])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x) / 4, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


# ------------------------------------------------------------------ other libraries' neurons


def _no_raw_trace_error(err) -> str:
    text = str(err.value)
    assert "TraceError" not in text and "Proxy" not in text
    assert "NIR" in text and "neurodeploy.nn" in text
    return text


class SnnTorchLoop(nn.Module):
    def __init__(self):
        import snntorch

        super().__init__()
        self.fc1, self.lif1 = nn.Linear(64, 16), snntorch.Leaky(beta=0.9)
        self.fc2, self.lif2 = nn.Linear(16, 10), snntorch.Leaky(beta=0.9)

    def forward(self, x):
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for step in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[step]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def test_snntorch_models_get_guidance_not_a_trace_error():
    import snntorch

    with pytest.raises(UnsupportedError) as err:
        from_torch(SnnTorchLoop(), (64,), "loop")
    text = _no_raw_trace_error(err)
    assert "test_nn.py:" in text and "range(x.shape[0])" in text  # the user's line that stopped the trace
    assert len(err.value.problems) == 1 and "snntorch.export_nir import export_to_nir" in text
    sequential = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), snntorch.Leaky(beta=0.9, init_hidden=True))
    with pytest.raises(UnsupportedError) as err:
        from_torch(sequential, (1, 8, 8), "seq")
    _no_raw_trace_error(err)
    assert "module '2' of type Leaky: snntorch.Leaky is a stateful snnTorch module" in err.value.problems[0]
    assert "LoihiLIF" not in str(err.value) and "neurodeploy.nn DirectEncode, IF, LIF" in err.value.headline


def test_norse_models_get_guidance_not_a_trace_error():
    import norse.torch as norse

    with pytest.raises(UnsupportedError) as err:
        from_torch(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), norse.LIFCell()), (1, 8, 8), "cell")
    assert "norse.torch.to_nir" in _no_raw_trace_error(err)
    with pytest.raises(UnsupportedError) as err:
        from_torch(norse.SequentialState(nn.Linear(64, 10), norse.LIFCell()), (64,), "state")
    assert "stateful modules of Norse" in _no_raw_trace_error(err)


# ------------------------------------------------------------------ the digits SNN of the zoo


def test_digits_snn_checkpoint_reaches_95_percent_on_the_ir_reference(digits):
    from neurodeploy.frontend import load_model
    from neurodeploy.models import ZOO

    state = torch.load(ZOO["digits_snn"].checkpoint_path, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    loaded = load_model("digits_snn")
    g = loaded.graph
    assert [n.op for n in g.nodes] == ["DirectEncode", "Flatten", "Gemm", "LIF", "Gemm", "LIF", "Gemm",
                                       "MembraneReadout"]
    assert all(n.attrs["reset"] == "zero" and n.attrs["fire_when"] == "gt" and n.attrs["i_decay"] == 1.0
               for n in g.find("LIF"))
    assert g.meta["time"]["num_steps"] <= 16
    out = reference.run(g, {"input_1": digits.x_test})[g.outputs[0]]
    accuracy = float(np.mean(out.argmax(1) == digits.y_test))
    assert accuracy >= 0.95
    with torch.no_grad():
        expected = loaded.torch_module.eval()(torch.from_numpy(digits.x_test)).numpy()
    assert np.array_equal(out.argmax(1), expected.argmax(1))


def test_digits_snn_training_is_reproducible_on_one_machine():
    from neurodeploy.models.train_digits import train

    first, second = (train("digits_snn", epochs=1)[0].state_dict() for _ in range(2))
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0, msg=key)


@pytest.mark.slow
def test_retrained_digits_snn_reaches_the_shipped_accuracy():
    from neurodeploy.models.train_digits import shipped_accuracy, train

    _, accuracy = train("digits_snn")
    assert 100 * accuracy >= 100 * shipped_accuracy("digits_snn") - 1.0
    assert accuracy >= 0.95


def test_the_rebuild_recipes_in_the_guidance_are_exact():
    """snntorch.Leaky and a Norse LIFCell, rebuilt as the error message says, give the same spikes."""
    import norse.torch as norse
    import snntorch

    x = torch.rand(30, 4, 7) * 0.8
    for mechanism in ("subtract", "zero"):
        leaky, out = snntorch.Leaky(beta=0.8, reset_mechanism=mechanism), []
        mem = leaky.init_leaky()
        for step in range(30):
            spikes, mem = leaky(x[step], mem)
            out.append(spikes)
        rebuilt = snn.LIF(beta=0.8, reset=mechanism, reset_timing="next_step")(x)
        assert torch.equal(torch.stack(out), rebuilt) and 0.1 < rebuilt.mean() < 0.9
    dt, tau_mem, tau_syn = 1e-3, 5e-3, 1e-2
    params = norse.LIFParameters(tau_mem_inv=torch.tensor(1 / tau_mem), tau_syn_inv=torch.tensor(1 / tau_syn),
                                 v_th=torch.tensor(0.3))
    cell, state, out = norse.LIFCell(params, dt=dt), None, []
    for step in range(30):
        spikes, state = cell(x[step], state)
        out.append(spikes)
    rebuilt = snn.LIF(tau_mem=tau_mem, tau_syn=tau_syn, dt=dt, threshold=0.3, reset="zero")(x * (dt / tau_mem))
    assert torch.equal(torch.stack(out), rebuilt)
