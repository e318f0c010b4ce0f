"""Direct-training recipes (models/recipes.py) and the benchmark zoo models (models/benchmark.py): reproducible
training, the documented losses, dropout held over time, shipped checkpoints at their stated accuracy, and every new
SNN imported exactly (IR reference predictions == torch predictions)."""
import numpy as np
import pytest
import torch
from torch import nn

from neurodeploy.data import load_dataset
from neurodeploy.ir import reference
from neurodeploy.models import BENCHMARK_MODELS, ZOO
from neurodeploy.models.benchmark import MIN_ACCURACY, TRAINING, build_for_training, lif, scale_weights
from neurodeploy.models.recipes import (TrainOptions, accuracy, spike_bp_loss, stbp_loss, time_major, train_ann,
                                        train_spike_bp, train_stbp)
from neurodeploy.nn import LIF, SNN, DirectEncode, MembraneReadout, SpikeCount, TimeDropout

TINY = TrainOptions(batch_size=16, train_samples=48, learning_rate=5e-3, surrogate_width=2.0)
SNNS = [m.name for m in BENCHMARK_MODELS if TRAINING[m.name].recipe != "ann"]


def _tiny_stbp() -> SNN:
    return scale_weights(SNN(DirectEncode(4), nn.Flatten(), nn.Linear(64, 16, bias=False), lif(),
                             nn.Linear(16, 10, bias=False), lif(), SpikeCount()), 4.0)


def _tiny_spike_bp() -> SNN:
    return scale_weights(SNN(DirectEncode(4), nn.Conv2d(1, 4, 3, padding=1, bias=False), lif("leak_aware"),
                             TimeDropout(0.2), nn.Flatten(), nn.Linear(256, 10, bias=False), MembraneReadout()), 4.0)


def _twice(build, recipe, dataset="digits"):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(recipe(build(), dataset, 2, TINY))
    return runs


@pytest.mark.parametrize("build, recipe, dataset", [
    (_tiny_stbp, train_stbp, "digits"),
    (_tiny_spike_bp, train_spike_bp, "digits"),
    (lambda: scale_weights(SNN(nn.Flatten(), nn.Linear(242, 10, bias=False), lif(), SpikeCount()), 2.0), train_stbp,
     "digits-events"),
    (lambda: nn.Sequential(nn.Flatten(), nn.Linear(242, 10)), train_ann, "digits-events-intensity"),
], ids=["stbp", "spike_bp", "stbp-spike-input", "ann"])
def test_recipes_are_reproducible(build, recipe, dataset):
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    (first, a), (second, b) = _twice(build, recipe, dataset)
    for key, value in first.state_dict().items():
        torch.testing.assert_close(value, second.state_dict()[key], rtol=0, atol=0, msg=key)
    assert a["loss"] == b["loss"] and a["test_accuracy"] == b["test_accuracy"] and len(a["loss"]) == 2
    assert a["train_samples"] == 48 and a["loss"][1] < a["loss"][0]
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (threads, deterministic)


def test_recipes_set_their_surrogate():
    stbp, spike_bp = _tiny_stbp(), _tiny_spike_bp()
    train_stbp(stbp, "digits", 0, TINY)
    _, metrics = train_spike_bp(spike_bp, "digits", 0, TrainOptions(train_samples=8))
    assert {(m.surrogate, m.surrogate_width) for m in stbp.modules() if isinstance(m, LIF)} == {("rectangular", 2.0)}
    assert {m.surrogate for m in spike_bp.modules() if isinstance(m, LIF)} == {"leak_aware"}
    assert metrics["time_dropout"] == [0.2] and metrics["recipe"] == "spike_bp"


def test_stbp_loss_is_the_mse_between_label_and_firing_rate():
    counts = torch.tensor([[4.0, 0.0, 2.0], [1.0, 3.0, 0.0]])  # spike counts over T = 4
    labels = torch.tensor([0, 2])
    rate = counts / 4
    target = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    expected = float(((rate - target) ** 2).mean())  # (0 + 0 + .25 + .0625 + .5625 + 1) / 6
    assert float(stbp_loss(counts, labels, 4)) == pytest.approx(expected) == pytest.approx(1.875 / 6)


def test_spike_bp_loss_is_cross_entropy_of_the_mean_potential():
    v = torch.tensor([[6.0, 0.0, -3.0]])  # the readout after T = 3 steps
    expected = -np.log(np.exp(2.0) / (np.exp(2.0) + np.exp(0.0) + np.exp(-1.0)))
    assert float(spike_bp_loss(v, torch.tensor([0]), 3)) == pytest.approx(expected)


def test_time_dropout_mask_is_drawn_once_and_held_for_every_step():
    model = build_for_training("digits_vgg_snn").train()
    seen = []
    dropout = next(m for m in model.modules() if isinstance(m, TimeDropout))
    dropout.register_forward_hook(lambda m, inputs, out: seen.append((inputs[0], out)))
    model(torch.rand(4, 1, 8, 8))
    x, out = seen[0]  # [T, N, ...] spikes in, dropped spikes out
    active = x.sum(0) > 0
    mask = torch.where(active, out.sum(0) / x.sum(0).clamp(min=1), torch.zeros_like(x[0]))
    torch.testing.assert_close(out, x * mask, rtol=0, atol=1e-6)  # one factor per cell, the same at every step
    assert set(torch.unique(mask[active].round(decimals=4)).tolist()) == {0.0, 1.25}  # dropped, or kept / (1 - p)
    assert 0.15 < float((mask[active] == 0).float().mean()) < 0.25  # p = 0.2
    assert not any(isinstance(m, TimeDropout) for m in ZOO["digits_vgg_snn"].build().modules())


def test_spike_input_models_get_time_major_event_trains():
    events = torch.zeros(3, 12, 2, 11, 11)
    assert time_major(build_for_training("bench_snn_events_mlp"), events).shape == (12, 3, 2, 11, 11)
    assert time_major(build_for_training("bench_ann_intensity_mlp"), events).shape == events.shape


@pytest.fixture(scope="module")
def shipped():
    """Each benchmark zoo model with its shipped checkpoint, as neurodeploy imports it."""
    from neurodeploy.frontend import load_model

    return {m.name: load_model(m.name) for m in BENCHMARK_MODELS}


@pytest.mark.parametrize("name", [m.name for m in BENCHMARK_MODELS])
def test_shipped_checkpoints_reach_the_stated_accuracy(name, shipped):
    entry = ZOO[name]
    assert entry.checkpoint_path.stat().st_size < 300_000
    data = load_dataset(TRAINING[name].dataset)  # frames SNNs: analog frames through their own RateEncode
    assert accuracy(shipped[name].torch_module, data.x_test, data.y_test) >= MIN_ACCURACY[name]


@pytest.mark.parametrize("name", SNNS)
def test_new_snns_lower_exactly(name, shipped):
    loaded = shipped[name]
    g = loaded.graph
    assert loaded.spiking and not g.find("Dropout")
    assert all(n.attrs["reset"] == "zero" and n.attrs["fire_when"] == "gt" and n.attrs["v_decay"] == 0.25
               for n in g.find("LIF"))
    data = load_dataset(TRAINING[name].dataset)  # frames SNNs: analog frames, so the encoder is compared too
    x = data.x_test[:24]
    (input_name, input_type), = g.inputs.items()
    feed = np.moveaxis(x, 0, 1) if input_type.timed else x  # event trains go in time-major
    out = reference.run(g, {input_name: feed})[g.outputs[0]]
    with torch.no_grad():
        expected = loaded.torch_module.eval()(time_major(loaded.torch_module, torch.from_numpy(x))).numpy()
    np.testing.assert_array_equal(out.argmax(1), expected.argmax(1))
    if g.find("SpikeCount"):
        np.testing.assert_array_equal(out, expected)  # spike counts: identical numbers


def test_frames_snns_see_the_bernoulli_spikes_of_their_data_set(shipped):
    digits, spikes = load_dataset("digits"), load_dataset("digits-bernoulli")
    model = shipped["bench_snn_frames_mlp"].torch_module.eval()
    with torch.no_grad():
        from_frames = model(torch.from_numpy(digits.x_test)).numpy()
        from_spikes = SNN(*list(model)[1:])(torch.from_numpy(np.moveaxis(spikes.x_test, 0, 1))).numpy()
    np.testing.assert_array_equal(from_frames, from_spikes)
