"""Chapter 1: the baseline CNN (Model-1) and the deeper CNN (Model-2).

Layer specs follow ``SPECS.md`` section 1. Model-1 is the classic PyTorch MNIST example network;
we read the study's "one Dropout(0.25) and a Dropout in the head" as Dropout(0.25) after pooling
and Dropout(0.5) in the head, as in that example.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


class BaselineCNN(nn.Module):
    """Model-1: two valid 3x3 convolutions, max pooling, a 128-unit dense head (1,199,882 params)."""

    def __init__(self, num_classes: int = 10, feature_dropout: float = 0.25, head_dropout: float = 0.5):
        super().__init__()
        # Named layers, not a Sequential: the chapter hooks conv1 and conv2 for activation maps.
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)  # 28 -> 26
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)  # 26 -> 24
        self.pool = nn.MaxPool2d(2)  # 24 -> 12
        self.dropout1 = nn.Dropout(feature_dropout)
        self.fc1 = nn.Linear(64 * 12 * 12, 128)
        self.dropout2 = nn.Dropout(head_dropout)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.dropout1(self.pool(x))
        x = torch.flatten(x, 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


class ConvBNReLU(nn.Sequential):
    """3x3 same-padding convolution without bias, batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DeeperCNN(nn.Module):
    """Model-2: three stages of two ConvBNReLU blocks (32, 64, 128 channels), GAP head (304,682 params).

    ``stage_dropouts`` follows the study's progressive 0.05 / 0.10 / 0.15, then 0.2 in the head.
    """

    def __init__(
        self,
        num_classes: int = 10,
        widths: tuple[int, int, int] = (32, 64, 128),
        stage_dropouts: tuple[float, float, float] = (0.05, 0.10, 0.15),
        head_dropout: float = 0.2,
    ):
        super().__init__()
        stages = []
        in_channels = 1
        for index, (width, dropout) in enumerate(zip(widths, stage_dropouts)):
            layers = [ConvBNReLU(in_channels, width), ConvBNReLU(width, width)]
            if index < len(widths) - 1:  # pool after stages 1 and 2 only: 28 -> 14 -> 7
                layers.append(nn.MaxPool2d(2))
            layers.append(nn.Dropout(dropout))
            stages.append(nn.Sequential(*layers))
            in_channels = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(widths[-1], 128),
            nn.ReLU(inplace=True),
            nn.Dropout(head_dropout),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.stages(x)))


@register_model("model1")
def model1(**kwargs) -> BaselineCNN:
    return BaselineCNN(**kwargs)


@register_model("model2")
def model2(**kwargs) -> DeeperCNN:
    return DeeperCNN(**kwargs)
