"""Small networks for scikit-learn's 8x8 digits (input [1, 8, 8], 10 classes).

Both use only layers that rate conversion maps exactly: Conv/Linear, BatchNorm (folded), ReLU, average
pooling, flatten and dropout.
"""
from __future__ import annotations

from torch import nn

INPUT_SHAPE = (1, 8, 8)


class DigitsMLP(nn.Sequential):
    """64 -> 128 -> 64 -> 10 perceptron."""

    def __init__(self) -> None:
        super().__init__(
            nn.Flatten(),
            nn.Linear(64, 128), nn.ReLU(),
            nn.Linear(128, 64), nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(64, 10),
        )


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class DigitsCNN(nn.Sequential):
    """Three 3x3 conv blocks with BatchNorm, two 2x2 average pools, then 256 -> 64 -> 10."""

    def __init__(self) -> None:
        super().__init__(
            *_conv_block(1, 16),
            *_conv_block(16, 32), nn.AvgPool2d(2),
            *_conv_block(32, 64), nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(256, 64), nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(64, 10),
        )
