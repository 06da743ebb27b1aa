"""Name -> builder registry, so a run configuration can name its model as a string."""
from __future__ import annotations

from typing import Callable

from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    """Decorator: make ``builder(**kwargs) -> nn.Module`` available as ``build_model(name, **kwargs)``."""

    def wrap(builder: Callable[..., nn.Module]):
        if name in _BUILDERS:
            raise ValueError(f"model name {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return wrap


def model_names() -> list[str]:
    return sorted(_BUILDERS)


def builder(name: str) -> Callable[..., nn.Module]:
    """The function registered as ``name``."""
    try:
        return _BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; known models: {', '.join(model_names())}"
        ) from None


def build_model(name: str, **kwargs) -> nn.Module:
    return builder(name)(**kwargs)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, the number the studies quote."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
