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


BENCHMARK_MODELS = (  # papers/000's benchmark models 3-6 and papers/003's deep SNNs (models/benchmark.py)
    ZooModel("bench_snn_frames_mlp", "benchmark:FramesSNNMLP", (1, 8, 8), "digits-bernoulli", "bench_snn_frames_mlp.pt",
             "benchmark 3: STBP-trained LIF 64-128-10 on Bernoulli spikes of the 8x8 digits (T = 8), spike count"),
    ZooModel("bench_snn_frames_cnn", "benchmark:FramesSNNCNN", (1, 8, 8), "digits-bernoulli", "bench_snn_frames_cnn.pt",
             "benchmark 3: STBP-trained 2-conv LIF CNN on Bernoulli spikes of the 8x8 digits (T = 8), spike count"),
    ZooModel("bench_ann_binary_mlp", "benchmark:BinaryMLP", (6, 11, 11), "digits-events-binary",
             "bench_ann_binary_mlp.pt", "benchmark 4: 726-64-10 perceptron on binary images of digits-events"),
    ZooModel("bench_ann_binary_cnn", "benchmark:BinaryCNN", (6, 11, 11), "digits-events-binary",
             "bench_ann_binary_cnn.pt", "benchmark 4: 2-conv CNN on binary images of digits-events"),
    ZooModel("bench_ann_intensity_mlp", "benchmark:IntensityMLP", (2, 11, 11), "digits-events-intensity",
             "bench_ann_intensity_mlp.pt", "benchmark 5: 242-128-10 perceptron on intensity images of digits-events"),
    ZooModel("bench_ann_intensity_cnn", "benchmark:IntensityCNN", (2, 11, 11), "digits-events-intensity",
             "bench_ann_intensity_cnn.pt", "benchmark 5: 2-conv CNN on intensity images of digits-events"),
    ZooModel("bench_snn_events_mlp", "benchmark:EventsSNNMLP", (2, 11, 11), "digits-events", "bench_snn_events_mlp.pt",
             "benchmark 6: STBP-trained LIF 242-128-10 on the digits-events spike trains (T = 12), spike count"),
    ZooModel("bench_snn_events_cnn", "benchmark:EventsSNNCNN", (2, 11, 11), "digits-events", "bench_snn_events_cnn.pt",
             "benchmark 6: STBP-trained 2-conv LIF CNN on the digits-events spike trains (T = 12), spike count"),
    ZooModel("digits_vgg_snn", "benchmark:DigitsVGGSNN", (1, 8, 8), "digits", "digits_vgg_snn.pt",
             "VGG-style spiking CNN, 7 weight layers (T = 6, direct input), trained with spike-based BP"),
    ZooModel("digits_resnet_snn", "benchmark:DigitsResNetSNN", (1, 8, 8), "digits", "digits_resnet_snn.pt",
             "ResNet-style spiking CNN, 8 weight layers, 1x1-conv shortcuts (T = 6), spike-based BP (rectangular "
             "surrogate)"),
)

ZOO: dict[str, ZooModel] = {
    m.name: m
    for m in (
        ZooModel("digits_cnn", "digits:DigitsCNN", (1, 8, 8), "digits", "digits_cnn.pt",
                 "3-conv CNN with BatchNorm and average pooling, trained on 8x8 digits"),
        ZooModel("digits_mlp", "digits:DigitsMLP", (1, 8, 8), "digits", "digits_mlp.pt",
                 "64-128-64-10 perceptron, trained on 8x8 digits"),
        ZooModel("digits_snn", "digits_snn:DigitsSNN", (1, 8, 8), "digits", "digits_snn.pt",
                 "spiking 64-128-64-10 LIF network (T = 8, direct input), trained directly on 8x8 digits"),
        *BENCHMARK_MODELS,
        ZooModel("digits_trevsnn", "trevsnn:DigitsTRevSNN", (1, 8, 8), "digits", "digits_trevsnn.pt",
                 "T-RevSNN-style network (papers/002): 4 columns (one per step) of 2 levels, depthwise + pointwise "
                 "blocks, weight-standardized convs, layer scale, turn-on leaks, stateless threshold neurons"),
        ZooModel("vgg16", "cifar:VGG16", (3, 32, 32), None, None,
                 "VGG16 (average pooling) for 32x32x3 input, random weights (scale tests)"),
        ZooModel("cifar_trevsnn", "trevsnn:CifarTRevSNN", (3, 32, 32), None, None,
                 "T-RevSNN-style network for 32x32x3 input (levels of 64, 128, 256 channels, T = 4), random weights "
                 "(scale tests)"),
        ZooModel("resnet20", "cifar:ResNet20", (3, 32, 32), None, None,
                 "ResNet20 for 32x32x3 input, random weights (scale tests)"),
    )
}
DEFAULT_MODEL = "digits_cnn"
