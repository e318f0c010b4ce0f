"""T-RevSNN-style networks (papers/002, Hu et al., ICML 2024), built from neurodeploy.nn layers (docs/trevsnn.md).

The network is split into T groups ("columns"), one per time step, each with its own parameters; every column has
the same L levels. The stem is computed once and its spikes feed every column. Level l of column t:

    f      = down(s[l-1] of column t)  +  up(s[l+1] of column t-1)          multi-level connection from step t-1
    a      = H(f)                                                           turn-off neurons (no state)
    d      = H(DWConv3x3(a))                                                depthwise
    h      = H(PWConv1x1(d)),  2x wider                                     pointwise, expand
    x      = f + gamma * PWConv1x1(h)                                       ReZero / layer scale on the branch
    c[l]   = alpha[l] * c[l] of column t-1  +  x                            turn-on state, per-channel leak alpha
    s[l]   = H(c[l])

H is the stateless threshold neuron (:class:`neurodeploy.nn.ThresholdNeuron`, a spike when its input exceeds 0.5)
and every convolution is weight-standardized (:class:`neurodeploy.nn.WSConv2d`, no BatchNorm). The classifier reads
the last level's spikes of the last column. The turn-on state c is papers/002's: it never resets, so it is
a linear function of the columns' inputs, c[t] = sum_k alpha^(t-k) x[k]; the export passes unroll it into
synapses scaled by alpha^(t-k) and every neuron of the deployed network is stateless (docs/trevsnn.md).

Differences from the reference code (github:BICLab/T-RevSNN), each for deployment: a spike between the depthwise
and the pointwise convolution (a chip cannot chain two synapse layers without a neuron between them; folding
them would turn the depthwise kernel into a full one), all levels at the stem's resolution (an upsampling path
is not a synapse layer the chips have), one block per level, the leak alpha shared by the columns (it belongs to
the turn-on neuron), and the stem's spikes rather than its potential entering the columns (the host computes the
stem and drives one neuron layer).

Training memory: with ``save_memory`` (the default in training) each column runs under
``torch.utils.checkpoint``: only what crosses from one step to the next (the turn-on states, the deeper levels'
spikes and the stem's spikes) is kept, and the backward pass recomputes one column at a time, so the memory of the
turn-off parts does not grow with T (benchmarks/trevsnn_memory.py). The reference reconstructs c[t-1] = (c[t] -
x[t]) / alpha instead of keeping it; keeping it costs one state per turn-on neuron and step (memory O(T) with a small
constant) and stays exact for alpha near 0 or negative.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from neurodeploy.nn import ChannelScale, DirectEncode, MembraneReadout, PerStep, ThresholdNeuron, WSConv2d

LEAK_BOUND = 1.0  # |alpha| <= 1: a carried state never grows from one step to the next
LAYER_SCALE_INIT = 1.0


def _ws(c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> PerStep:
    return PerStep(WSConv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups))


class Level(nn.Module):
    """One level of one column: the fusion of its inputs, one ConvNeXt-style block, and the turn-on threshold."""

    def __init__(self, c_in: int, channels: int, c_deeper: int | None, expand: int = 2) -> None:
        super().__init__()
        self.down = _ws(c_in, channels, 3)
        self.up = _ws(c_deeper, channels, 1) if c_deeper else None
        self.fire_in = ThresholdNeuron()
        self.dwconv, self.fire_dw = _ws(channels, channels, 3, groups=channels), ThresholdNeuron()
        self.pwconv1, self.fire_pw = _ws(channels, expand * channels, 1), ThresholdNeuron()
        self.pwconv2 = _ws(expand * channels, channels, 1)
        self.layer_scale = PerStep(ChannelScale(channels, LAYER_SCALE_INIT))
        self.fire_out = ThresholdNeuron()

    def forward(self, below: torch.Tensor, deeper: torch.Tensor | None, carried: torch.Tensor | None,
                leak: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """(turn-on state c, its spikes) from the spikes below (this column) and of the deeper level (column
        t-1, None in column 0), and this level's state of column t-1 (None in column 0)."""
        f = self.down(below)
        if deeper is not None and self.up is not None:
            f = f + self.up(deeper)
        branch = self.fire_pw(self.pwconv1(self.fire_dw(self.dwconv(self.fire_in(f)))))
        state = f + self.layer_scale(self.pwconv2(branch))
        if carried is not None:
            state = leak(carried) + state
        return state, self.fire_out(state)


class TRevSNN(nn.Module):
    """A T-RevSNN-style network: ``DirectEncode(1)`` -> stem (WSConv + threshold, computed once) -> ``num_steps``
    columns of ``len(channels)`` levels -> Linear on the last level's spikes of the last column ->
    ``MembraneReadout`` (the logits). ``stride`` of the stem; ``input_shape`` (C, H, W)."""

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int, channels: tuple[int, ...],
                 num_steps: int, stem_stride: int = 2, save_memory: bool = True) -> None:
        super().__init__()
        self.num_steps, self.save_memory = int(num_steps), save_memory
        c0, h, w = input_shape
        self.encode = DirectEncode(1)
        self.stem = _ws(c0, channels[0], 3, stride=stem_stride)
        self.fire_stem = ThresholdNeuron()
        deeper = list(channels[1:]) + [None]
        below = [channels[0]] + list(channels[:-1])
        self.columns = nn.ModuleList(  # column 0 has no column before it: no multi-level inputs
            nn.ModuleList(Level(below[l], channels[l], deeper[l] if t else None) for l in range(len(channels)))
            for t in range(self.num_steps))
        self.leaks = nn.ModuleList(PerStep(ChannelScale(c, 0.5, LEAK_BOUND)) for c in channels)
        side = (h + stem_stride - 1) // stem_stride, (w + stem_stride - 1) // stem_stride
        self.flatten = PerStep(nn.Flatten())
        self.classifier = PerStep(nn.Linear(channels[-1] * side[0] * side[1], num_classes))
        self.readout = MembraneReadout(v_decay=1.0)  # the last step's input: the chip's steady state (one step here)

    def column(self, t: int, stem: torch.Tensor, *carried: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Column t: the turn-on states of every level followed by the spikes of levels 1.. (what column t+1 reads;
        level 0's spikes feed this column only), from the stem's spikes and column t-1's (``carried``, empty for
        column 0). With one level, its spikes (the classifier's input)."""
        levels = len(self.columns[t])
        states, spikes, below = [], [], stem
        for l, level in enumerate(self.columns[t]):
            deeper = carried[levels + l] if carried and l + 1 < levels else None
            state, below = level(below, deeper, carried[l] if carried else None, self.leaks[l])
            states.append(state)
            spikes.append(below)
        return tuple(states + (spikes[1:] or spikes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem = self.fire_stem(self.stem(self.encode(x)))
        carried: tuple[torch.Tensor, ...] = ()
        for t in range(self.num_steps):
            if self.training and self.save_memory and torch.is_grad_enabled():
                carried = checkpoint(self.column, t, stem, *carried, use_reentrant=False)
            else:
                carried = self.column(t, stem, *carried)
        return self.readout(self.classifier(self.flatten(carried[-1])))

    def clamp_(self) -> None:
        """Keep every leak within [-1, 1] (called after each optimiser step)."""
        for leak in self.leaks:
            leak.module.clamp_()


DIGITS_CHANNELS = (16, 32)
DIGITS_STEPS = 4


class DigitsTRevSNN(TRevSNN):
    """The zoo's T-RevSNN-style network for the 8x8 digits: stem 1 -> 16 channels at 4x4, two levels (16, 32
    channels), T = 4 columns, 10 classes."""

    def __init__(self, num_steps: int = DIGITS_STEPS, save_memory: bool = True) -> None:
        super().__init__((1, 8, 8), 10, DIGITS_CHANNELS, num_steps, save_memory=save_memory)


class CifarTRevSNN(TRevSNN):
    """A CIFAR-size definition (3x32x32, stem stride 2 to 16x16, levels of 64, 128 and 256 channels, T = 4) for
    scale tests; random weights."""

    def __init__(self, num_steps: int = 4, save_memory: bool = True) -> None:
        super().__init__((3, 32, 32), 10, (64, 128, 256), num_steps, save_memory=save_memory)
