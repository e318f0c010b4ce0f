"""papers/000's six benchmark models for the digits, each as MLP and CNN, and papers/003's deep digits SNNs.

Frames (the 8x8 digits, [1, 8, 8]) and their event version ('digits-events', [T = 12, 2, 11, 11] spikes):

1. ANN on frames: the zoo's ``digits_mlp`` / ``digits_cnn`` (models/digits.py).
2. SNN converted from (1): no model here, ``neurodeploy compile digits_mlp`` converts it.
3. SNN trained directly with STBP on spike-encoded frames: ``bench_snn_frames_{mlp,cnn}``. The model starts with a
   Bernoulli rate encoder (``RateEncode``, T = 8): training draws fresh spikes per batch; its data set
   'digits-bernoulli' holds the encoder's own reference spikes of the frames, so the compiler drops the encoder and
   feeds the spikes to the chip as a spike input (a chip takes no stochastic encoder of a trained SNN).
4. ANN on binary images of the events (``bench_ann_binary_{mlp,cnn}``, 'digits-events-binary', [6, 11, 11]).
5. ANN on intensity images of the events (``bench_ann_intensity_{mlp,cnn}``, 'digits-events-intensity').
6. SNN trained directly with STBP on the event trains (``bench_snn_events_{mlp,cnn}``): no encoder, the first layer
   takes the [T, N, 2, 11, 11] spikes.

Deep SNNs trained with spike-based BP (papers/003): ``digits_vgg_snn`` (VGG-style, 7 weight layers) and
``digits_resnet_snn`` (ResNet-style, 8 weight layers: two residual blocks whose shortcut is a 1x1 convolution
into the same neurons' current), both on analog frames (DirectEncode, the trainable encoding layer) with a
membrane readout; TimeDropout only in the training build (``TRAINING[...].model_args``). The ResNet trains with
STBP's rectangular surrogate instead of the leak-aware one, under which its residual blocks saturate
(docs/training.md).

The CNNs halve the image twice: by 2x2 average pools on the 8x8 frames, by stride-2 convolutions on the 11x11
events (the chips fold only pools that tile their input exactly).

Neurons are chosen to deploy exactly (models/digits_snn.py): LIF with v_decay 1/4 (tau = 3/4 in STBP's notation,
a power-of-two fraction that Loihi's 12-bit decay holds exactly), reset to zero, fire on v > v_th = 1, no bias. The
STBP models end in a spiking layer and a ``SpikeCount`` (the prediction is the class with most spikes), the deep
nets in a ``MembraneReadout``. Weights start at ``INIT_GAIN`` times torch's default initialisation, so that every
layer spikes from the first batch (at the default scale the output layers of the convolutional SNNs stay silent
and receive no gradient). Checkpoints are float32 state dicts under 300 KB.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from neurodeploy.data import BERNOULLI_STEPS
from neurodeploy.models.recipes import TrainOptions
from neurodeploy.nn import LIF, SNN, DirectEncode, MembraneReadout, PerStep, RateEncode, SpikeCount, TimeDropout

V_DECAY = 0.25
FRAME_STEPS = BERNOULLI_STEPS  # T of the frames SNNs: 'digits-bernoulli' holds their encoder's spikes
DEEP_STEPS = 6  # T of the deep SNNs
DROPOUT = 0.2  # papers/003: p = 0.2-0.25, one mask per sample held for all steps
INIT_GAIN = {"mlp": 2.0, "cnn": 4.0, "deep": 4.0}
FRAMES, EVENTS, BINARY, INTENSITY = (1, 8, 8), (2, 11, 11), (6, 11, 11), (2, 11, 11)


def lif(surrogate: str = "rectangular") -> LIF:
    """The deployable LIF of every benchmark SNN (see the module docstring)."""
    return LIF(v_decay=V_DECAY, threshold=1.0, reset="zero", reset_timing="immediate", fire_when="gt",
               surrogate=surrogate)


def scale_weights(model: nn.Module, gain: float) -> nn.Module:
    """Multiply every weight of ``model`` by ``gain`` (once, at construction)."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(gain)
    return model


def _flat(shape: tuple[int, ...]) -> int:
    return int(torch.tensor(shape).prod())


def _halving_convs(channels: int, side: int, activation, bias: bool) -> tuple[list[nn.Module], int]:
    """Two 3x3 convolutions (16 and 32 channels), each followed by ``activation()`` and each halving the side: by a
    2x2 average pool when the side is a multiple of 4 (8x8 frames: 8 -> 4 -> 2), else by stride 2 (11x11 events:
    11 -> 6 -> 3), since the chips fold only pools that tile their input exactly. Returns the layers and the number
    of features they give."""
    pool = side % 4 == 0
    layers, c_in = [], channels
    for c_out in (16, 32):
        layers += [nn.Conv2d(c_in, c_out, 3, stride=1 if pool else 2, padding=1, bias=bias), activation()]
        layers += [nn.AvgPool2d(2)] if pool else []
        side, c_in = side // 2 if pool else (side + 1) // 2, c_out
    return layers, 32 * side * side


# ------------------------------------------------------------------ 3 and 6: STBP SNNs


def _snn_mlp(inputs: int, hidden: int = 128) -> list[nn.Module]:
    return [nn.Flatten(), nn.Linear(inputs, hidden, bias=False), lif(), nn.Linear(hidden, 10, bias=False), lif(),
            SpikeCount()]


def _snn_cnn(channels: int, side: int) -> list[nn.Module]:
    convs, features = _halving_convs(channels, side, lif, bias=False)
    return convs + [nn.Flatten(), nn.Linear(features, 10, bias=False), lif(), SpikeCount()]


class FramesSNNMLP(SNN):
    """Model 3, MLP: RateEncode(8, Bernoulli) -> 64-128 -> LIF -> 128-10 -> LIF -> SpikeCount."""

    def __init__(self) -> None:
        super().__init__(RateEncode(FRAME_STEPS, distribution="bernoulli"), *_snn_mlp(_flat(FRAMES)))
        scale_weights(self, INIT_GAIN["mlp"])


class FramesSNNCNN(SNN):
    """Model 3, CNN: RateEncode(8) -> 3x3 conv 16 -> LIF -> pool -> 3x3 conv 32 -> LIF -> pool -> 128-10 -> LIF."""

    def __init__(self) -> None:
        super().__init__(RateEncode(FRAME_STEPS, distribution="bernoulli"), *_snn_cnn(1, FRAMES[-1]))
        scale_weights(self, INIT_GAIN["cnn"])


class EventsSNNMLP(SNN):
    """Model 6, MLP: spikes [T, N, 2, 11, 11] -> 242-128 -> LIF -> 128-10 -> LIF -> SpikeCount."""

    def __init__(self) -> None:
        super().__init__(*_snn_mlp(_flat(EVENTS)))
        scale_weights(self, INIT_GAIN["mlp"])


class EventsSNNCNN(SNN):
    """Model 6, CNN: spikes -> 3x3 conv 16 stride 2 -> LIF -> 3x3 conv 32 stride 2 -> LIF -> 288-10 -> LIF."""

    def __init__(self) -> None:
        super().__init__(*_snn_cnn(EVENTS[0], EVENTS[-1]))
        scale_weights(self, INIT_GAIN["cnn"])


# ------------------------------------------------------------------ 4 and 5: ANNs on event images


def _ann_mlp(inputs: int, hidden: int) -> list[nn.Module]:
    return [nn.Flatten(), nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, 10)]


def _ann_cnn(channels: int, side: int) -> list[nn.Module]:
    convs, features = _halving_convs(channels, side, nn.ReLU, bias=True)
    return convs + [nn.Flatten(), nn.Dropout(0.2), nn.Linear(features, 10)]


class BinaryMLP(nn.Sequential):
    """Model 4, MLP: binary event image [6, 11, 11] -> 726-64 -> ReLU -> 64-10 (64 hidden: 128 would make the
    checkpoint larger than 300 KB)."""

    def __init__(self) -> None:
        super().__init__(*_ann_mlp(_flat(BINARY), 64))


class BinaryCNN(nn.Sequential):
    """Model 4, CNN: [6, 11, 11] -> 3x3 conv 16 stride 2 -> ReLU -> 3x3 conv 32 stride 2 -> ReLU -> 288-10."""

    def __init__(self) -> None:
        super().__init__(*_ann_cnn(BINARY[0], BINARY[-1]))


class IntensityMLP(nn.Sequential):
    """Model 5, MLP: intensity image [2, 11, 11] -> 242-128 -> ReLU -> 128-10."""

    def __init__(self) -> None:
        super().__init__(*_ann_mlp(_flat(INTENSITY), 128))


class IntensityCNN(nn.Sequential):
    """Model 5, CNN: [2, 11, 11] -> 3x3 conv 16 stride 2 -> ReLU -> 3x3 conv 32 stride 2 -> ReLU -> 288-10."""

    def __init__(self) -> None:
        super().__init__(*_ann_cnn(INTENSITY[0], INTENSITY[-1]))


# ------------------------------------------------------------------ papers/003: deep SNNs


def _conv(c_in: int, c_out: int, kernel: int = 3) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False)


def _dropout(p: float) -> list[nn.Module]:
    return [TimeDropout(p)] if p > 0 else []


class DigitsVGGSNN(nn.Module):
    """VGG-style SNN, 7 weight layers: DirectEncode(6) -> [conv 16, conv 16] -> pool -> [conv 32, conv 32] -> pool
    -> conv 64 -> 256-64 -> 64-10 -> MembraneReadout; 3x3 convolutions, a LIF layer after each hidden one.

    ``dropout`` p > 0 adds TimeDropout(p) after the last convolution's and the hidden fully connected layer's spikes:
    training builds it with p = ``DROPOUT``; the zoo builds p = 0 (no dropout layers: the same network at inference,
    and the same state dict), because the compiler keeps an inference-time Dropout of a trained SNN as an op that
    the chips refuse.
    """

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.features = SNN(
            DirectEncode(DEEP_STEPS),
            _conv(1, 16), lif("leak_aware"), _conv(16, 16), lif("leak_aware"), nn.AvgPool2d(2),
            _conv(16, 32), lif("leak_aware"), _conv(32, 32), lif("leak_aware"), nn.AvgPool2d(2),
            _conv(32, 64), lif("leak_aware"))
        self.dropout1 = nn.Sequential(*_dropout(dropout))
        self.hidden = SNN(nn.Flatten(), nn.Linear(256, 64, bias=False), lif("leak_aware"))
        self.dropout2 = nn.Sequential(*_dropout(dropout))
        self.classifier = SNN(nn.Linear(64, 10, bias=False), MembraneReadout())
        scale_weights(self, INIT_GAIN["deep"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout2(self.hidden(self.dropout1(self.features(x)))))


class ResidualBlock(nn.Module):
    """s_out = LIF(conv3x3(LIF(conv3x3(P s_in))) + conv1x1(P s_in)), P a 2x2 average pool when ``pool`` (else
    nothing): the shortcut is a 1x1 convolution into the same neurons' current, so both paths are synapses of one
    neuron layer (Loihi sums every connection into a LIF). Each path pools for itself, so each pool has one
    convolution to fold into. (An identity shortcut, spikes added to a current, is refused by the Loihi lowering:
    docs/training.md.)"""

    def __init__(self, c_in: int, c_out: int, pool: bool = False) -> None:
        super().__init__()
        pooled = (lambda layer: nn.Sequential(nn.AvgPool2d(2), layer)) if pool else (lambda layer: layer)
        self.conv1, self.lif1 = PerStep(pooled(_conv(c_in, c_out))), lif("leak_aware")
        self.conv2 = PerStep(_conv(c_out, c_out))
        self.shortcut = PerStep(pooled(_conv(c_in, c_out, 1)))
        self.lif2 = lif("leak_aware")

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.lif2(self.conv2(self.lif1(self.conv1(s))) + self.shortcut(s))


class DigitsResNetSNN(nn.Module):
    """ResNet-style SNN, 8 weight layers: DirectEncode(6) -> conv 16 -> LIF -> block(16, 8x8) -> pool -> block(16 ->
    32, 4x4) -> pool -> 128-10 -> MembraneReadout; each block two 3x3 convolutions and a 1x1 shortcut. ``dropout``
    as :class:`DigitsVGGSNN`'s (TimeDropout before the classifier in training)."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.encode = DirectEncode(DEEP_STEPS)
        self.stem, self.lif = PerStep(_conv(1, 16)), lif("leak_aware")
        self.block1, self.block2 = ResidualBlock(16, 16), ResidualBlock(16, 32, pool=True)
        self.dropout = nn.Sequential(*_dropout(dropout))
        self.pool, self.flatten = PerStep(nn.AvgPool2d(2)), PerStep(nn.Flatten())
        self.fc, self.readout = PerStep(nn.Linear(128, 10, bias=False)), MembraneReadout()
        scale_weights(self, INIT_GAIN["deep"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.block2(self.block1(self.lif(self.stem(self.encode(x)))))
        return self.readout(self.fc(self.flatten(self.pool(self.dropout(s)))))


# ------------------------------------------------------------------ how each model is trained


@dataclass(frozen=True)
class Training:
    """How one zoo model is trained: ``recipe`` (models/recipes.py: 'stbp', 'spike_bp' or 'ann'), the data set it
    trains on (may differ from the zoo entry's evaluation set: the frames SNNs train on the analog frames with fresh
    Bernoulli spikes per batch), the number of epochs, the optimiser settings, and the arguments of the model class
    for training (the deep SNNs' dropout)."""

    recipe: str
    dataset: str
    epochs: int
    options: TrainOptions = TrainOptions()
    model_args: dict = field(default_factory=dict)


_STBP = TrainOptions(learning_rate=5e-3, surrogate_width=2.0)
_ANN = TrainOptions(learning_rate=5e-3)
_DEEP = TrainOptions(learning_rate=2e-3)
_TREVSNN = TrainOptions(learning_rate=5e-3, surrogate="rectangular", surrogate_width=1.0)
TREVSNN_EPOCHS = 20
# the residual blocks saturate under the leak-aware surrogate (most of their neurons end up firing at every step;
# 94.0 % after 40 epochs): its derivative (v > 0) / v_th has no upper cut-off, STBP's rectangular window has one
_DEEP_RESIDUAL = TrainOptions(learning_rate=2e-3, surrogate="rectangular", surrogate_width=2.0)

TRAINING: dict[str, Training] = {
    "bench_snn_frames_mlp": Training("stbp", "digits", 20, _STBP),
    "bench_snn_frames_cnn": Training("stbp", "digits", 30, _STBP),
    "bench_ann_binary_mlp": Training("ann", "digits-events-binary", 60, _ANN),
    "bench_ann_binary_cnn": Training("ann", "digits-events-binary", 60, _ANN),
    "bench_ann_intensity_mlp": Training("ann", "digits-events-intensity", 60, _ANN),
    "bench_ann_intensity_cnn": Training("ann", "digits-events-intensity", 60, _ANN),
    "bench_snn_events_mlp": Training("stbp", "digits-events", 30, _STBP),
    "bench_snn_events_cnn": Training("stbp", "digits-events", 20, _STBP),
    "digits_vgg_snn": Training("spike_bp", "digits", 20, _DEEP, {"dropout": DROPOUT}),
    "digits_resnet_snn": Training("spike_bp", "digits", 20, _DEEP_RESIDUAL, {"dropout": DROPOUT}),
    # papers/002: cross-entropy on the logits (spike_bp_loss with T = 1 readout step); the straight-through window
    # of clamp(x, 0, 1), as the reference trains its threshold units (models/trevsnn.py)
    "digits_trevsnn": Training("spike_bp", "digits", TREVSNN_EPOCHS, _TREVSNN),
}


def build_for_training(name: str) -> nn.Module:
    """Zoo model ``name`` as it trains (its class with ``TRAINING[name].model_args``); its state dict is the zoo
    model's."""
    import importlib

    from neurodeploy.models import ZOO

    module, cls = ZOO[name].factory.split(":")
    return getattr(importlib.import_module(f"neurodeploy.models.{module}"), cls)(**TRAINING[name].model_args)


MIN_ACCURACY = {  # stated test accuracy (torch, test split of the training data set) of the shipped checkpoints
    **{name: 0.95 for name in ("bench_snn_frames_mlp", "bench_snn_frames_cnn", "bench_snn_events_mlp",
                               "bench_snn_events_cnn", "digits_vgg_snn", "digits_resnet_snn",
                               "digits_trevsnn")},
    **{name: 0.94 for name in ("bench_ann_binary_mlp", "bench_ann_binary_cnn", "bench_ann_intensity_mlp",
                               "bench_ann_intensity_cnn")},
}
