"""Chapter 4: the six models of the lightweight architecture benchmark.

Layer specs follow ``SPECS.md`` section 4 (the study's public code). Every convolution keeps its
bias, even in front of batch norm, because that is what the study's code does and what makes its
parameter counts come out: LeNet-5 61,706; ResNet-Mini 11,402 (base 4, as trained; 175,370 with the
base 16 of the text); DenseNet-Tiny 11,666; MobileNet-Lite 14,218; ViT-Tiny 105,546; Custom CNN 6,330.

Readings where the spec is silent (none of them changes a parameter count):
- 3x3 convolutions use padding 1 (same size).
- The stems of ResNet-Mini, DenseNet-Tiny and MobileNet-Lite are plain convolutions, with no norm or
  activation after them, as listed; DenseNet has no final BN-ReLU before pooling.
- ViT-Tiny's encoder block is ``nn.TransformerEncoderLayer(norm_first=True, activation="relu")``
  written out: dropout 0.2 on the attention weights, after attention, after the MLP's ReLU and after
  its second linear layer.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_model


class LeNet5(nn.Module):
    """LeNet-5 lite: tanh, average pooling, three dense layers (61,706 params)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2),  # pad 2 keeps 28x28, as LeNet's 32x32 input did
            nn.Tanh(),
            nn.AvgPool2d(2),  # 14x14
            nn.Conv2d(6, 16, kernel_size=5),  # 10x10
            nn.Tanh(),
            nn.AvgPool2d(2),  # 5x5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.Tanh(),
            nn.Linear(120, 84),
            nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block; a 1x1 conv + BN shortcut when stride or width changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetMini(nn.Module):
    """ResNet-Mini: 1x1 stem, three stages of two basic blocks (base, 2 base, 4 base), GAP head.

    ``base=4`` is what the study trained (11,402 params); its text says 16 (175,370 params).
    """

    def __init__(self, num_classes: int = 10, base: int = 4, dropout: float = 0.2):
        super().__init__()
        self.stem = nn.Conv2d(1, base, kernel_size=1)
        self.layers = nn.Sequential(
            BasicBlock(base, base),
            BasicBlock(base, base),
            BasicBlock(base, 2 * base, stride=2),  # 28 -> 14
            BasicBlock(2 * base, 2 * base),
            BasicBlock(2 * base, 4 * base, stride=2),  # 14 -> 7
            BasicBlock(4 * base, 4 * base),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(4 * base, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.layers(self.stem(x))))


class DenseLayer(nn.Module):
    """Pre-activation BN -> ReLU -> Conv3x3 -> Dropout; its ``growth`` new maps join its input."""

    def __init__(self, in_channels: int, growth: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, growth, kernel_size=3, padding=1),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class DenseNetTiny(nn.Module):
    """DenseNet-Tiny: three dense blocks of three layers, growth 8, 1x1 + avg-pool transitions (11,666 params)."""

    def __init__(
        self,
        num_classes: int = 10,
        stem_channels: int = 8,
        growth: int = 8,
        layers_per_block: int = 3,
        num_blocks: int = 3,
        compression: int = 4,
        dropout: float = 0.2,
    ):
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(1, stem_channels, kernel_size=3, padding=1)]
        channels = stem_channels
        for index in range(num_blocks):
            for _ in range(layers_per_block):
                blocks.append(DenseLayer(channels, growth, dropout))
                channels += growth
            if index < num_blocks - 1:  # transitions after blocks 1 and 2 only: 28 -> 14 -> 7
                blocks.append(nn.Conv2d(channels, channels // compression, kernel_size=1))
                blocks.append(nn.AvgPool2d(2))
                channels //= compression
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels, num_classes),  # 8 + 3 * 8 = 32
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


class DepthwiseSeparable(nn.Sequential):
    """Depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU, as in MobileNet v1."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=stride, padding=1, groups=in_channels),
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, kernel_size=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class MobileNetLite(nn.Module):
    """MobileNet-Lite: 3x3 stem, three depthwise-separable blocks (32, 64, 128), GAP head (14,218 params)."""

    def __init__(self, num_classes: int = 10, dropout: float = 0.2):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            DepthwiseSeparable(16, 32),
            DepthwiseSeparable(32, 64, stride=2),  # 28 -> 14
            DepthwiseSeparable(64, 128, stride=2),  # 14 -> 7
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.self_attention = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x))


class ViTTiny(nn.Module):
    """ViT-Tiny: 4x4 patches -> 49 tokens + CLS, three pre-norm blocks of width 64 (105,546 params)."""

    def __init__(
        self,
        num_classes: int = 10,
        patch_size: int = 4,
        dim: int = 64,
        depth: int = 3,
        num_heads: int = 8,
        mlp_dim: int = 128,
        dropout: float = 0.2,
        image_size: int = 28,
    ):
        super().__init__()
        num_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(1, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, num_patches + 1, dim).normal_(std=0.02))
        self.blocks = nn.Sequential(*(EncoderBlock(dim, num_heads, mlp_dim, dropout) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (N, 49, dim)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embedding
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])  # classify from the CLS token only


class CustomCNN(nn.Module):
    """The study's own baseline: three Conv -> ReLU -> BN -> MaxPool blocks (8, 16, 32), GAP head (6,330 params)."""

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (8, 16, 32), dropout: float = 0.2):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for width in widths:
            # The study puts BN after the ReLU; kept as written.
            layers += [
                nn.Conv2d(in_channels, width, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(width),
                nn.MaxPool2d(2),  # 28 -> 14 -> 7 -> 3
            ]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(widths[-1], num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


@register_model("lenet5")
def lenet5(**kwargs) -> LeNet5:
    return LeNet5(**kwargs)


@register_model("resnet_mini")
def resnet_mini(**kwargs) -> ResNetMini:
    return ResNetMini(**kwargs)


@register_model("densenet_tiny")
def densenet_tiny(**kwargs) -> DenseNetTiny:
    return DenseNetTiny(**kwargs)


@register_model("mobilenet_lite")
def mobilenet_lite(**kwargs) -> MobileNetLite:
    return MobileNetLite(**kwargs)


@register_model("vit_tiny")
def vit_tiny(**kwargs) -> ViTTiny:
    return ViTTiny(**kwargs)


@register_model("custom_cnn")
def custom_cnn(**kwargs) -> CustomCNN:
    return CustomCNN(**kwargs)
