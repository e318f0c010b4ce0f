"""The model zoo (installed as ``neurodeploy.models``): definitions, shipped checkpoints, their data sets.

``ZOO`` is the explicit table of models that ``neurodeploy compile NAME`` accepts.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"


@dataclass(frozen=True)
class ZooModel:
    """One zoo entry. ``factory`` is 'module:Class' under neurodeploy.models; ``checkpoint`` a file name."""

    name: str
    factory: str
    input_shape: tuple[int, ...]
    dataset: str | None
    checkpoint: str | None
    description: str

    def build(self):
        module, cls = self.factory.split(":")
        return getattr(importlib.import_module(f"neurodeploy.models.{module}"), cls)()

    @property
    def checkpoint_path(self) -> Path | None:
        return CHECKPOINT_DIR / self.checkpoint if self.checkpoint else None


ZOO: dict[str, ZooModel] = {
    m.name: m
    for m in (
        ZooModel("digits_cnn", "digits:DigitsCNN", (1, 8, 8), "digits", "digits_cnn.pt",
                 "3-conv CNN with BatchNorm and average pooling, trained on 8x8 digits"),
        ZooModel("digits_mlp", "digits:DigitsMLP", (1, 8, 8), "digits", "digits_mlp.pt",
                 "64-128-64-10 perceptron, trained on 8x8 digits"),
        ZooModel("digits_snn", "digits_snn:DigitsSNN", (1, 8, 8), "digits", "digits_snn.pt",
                 "spiking 64-128-64-10 LIF network (T = 8, direct input), trained directly on 8x8 digits"),
        ZooModel("vgg16", "cifar:VGG16", (3, 32, 32), None, None,
                 "VGG16 (average pooling) for 32x32x3 input, random weights (scale tests)"),
        ZooModel("resnet20", "cifar:ResNet20", (3, 32, 32), None, None,
                 "ResNet20 for 32x32x3 input, random weights (scale tests)"),
    )
}
DEFAULT_MODEL = "digits_cnn"
