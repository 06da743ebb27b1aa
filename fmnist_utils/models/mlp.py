"""Chapter 3: the flexible multilayer perceptron (depth, width, dropout, batch norm as knobs).

``hidden_layers=0`` is multinomial logistic regression (784 -> 10, 7,850 params); the default
one hidden layer of 128 units has 101,770.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_model


class MLP(nn.Module):
    """Flatten 784 -> ``hidden_layers`` x [Linear(width) -> BatchNorm1d? -> ReLU -> Dropout?] -> Linear(10)."""

    max_hidden_layers = 8

    def __init__(
        self,
        hidden_layers: int = 1,
        width: int = 128,
        dropout: float = 0.0,
        batch_norm: bool = False,
        num_classes: int = 10,
    ):
        super().__init__()
        # Reject bad sweep values here, with the argument named, rather than deep inside nn.Linear.
        if isinstance(hidden_layers, bool) or not isinstance(hidden_layers, int) or not (
            0 <= hidden_layers <= self.max_hidden_layers
        ):
            raise ValueError(
                f"hidden_layers must be an int in 0..{self.max_hidden_layers}, got {hidden_layers!r}"
            )
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be an int >= 1, got {width!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        layers: list[nn.Module] = [nn.Flatten()]
        in_features = 28 * 28
        for _ in range(hidden_layers):
            # The Linear keeps its bias even before BatchNorm (redundant but harmless), so that
            # turning batch_norm on only adds the 2 * width BN parameters per layer.
            layers.append(nn.Linear(in_features, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU(inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            in_features = width
        layers.append(nn.Linear(in_features, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@register_model("mlp")
def mlp(**kwargs) -> MLP:
    return MLP(**kwargs)
