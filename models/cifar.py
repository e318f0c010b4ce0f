"""VGG16 and ResNet20 for 32x32x3 inputs (CIFAR-10 layout), used for scale tests with random weights.

As in the ANN-to-SNN conversion literature (Sengupta et al. 2019, the SC-TTFS paper), VGG16 pools by
averaging, which rate conversion maps exactly; ResNet20 is He et al.'s CIFAR ResNet with 1x1 projection
shortcuts where the shape changes and global average pooling.
"""
from __future__ import annotations

from torch import nn

INPUT_SHAPE = (3, 32, 32)
VGG16_LAYERS = (64, 64, "pool", 128, 128, "pool", 256, 256, 256, "pool", 512, 512, 512, "pool", 512, 512, 512, "pool")


class VGG16(nn.Module):
    """13 conv (3x3, BN, ReLU) + 3 fully connected layers; 5 average pools take 32x32 to 1x1."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers, channels = [], 3
        for item in VGG16_LAYERS:
            if item == "pool":
                layers.append(nn.AvgPool2d(2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1, bias=False), nn.BatchNorm2d(item), nn.ReLU()]
                channels = item
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus shortcut (identity, or 1x1 conv-BN when the shape changes), then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class ResNet20(nn.Module):
    """3 stages of 3 BasicBlocks (16, 32, 64 channels), global average pooling, 64 -> classes."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, c_in = [], 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(BasicBlock(c_in, c_out, stride if i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AvgPool2d(8), nn.Flatten(), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))
