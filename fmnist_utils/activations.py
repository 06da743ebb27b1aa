"""Activation maps through forward hooks."""
from __future__ import annotations

import torch
from torch import nn


@torch.inference_mode()
def capture_activations(model: nn.Module, layers: dict[str, str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model(x)`` once and return the output of each named submodule.

    ``layers`` maps a display label to a dotted module path (``"conv1"``, ``"stages.0.0"``); the
    hooks are removed afterwards, even if the forward pass fails.
    """
    modules = dict(model.named_modules())
    unknown = [path for path in layers.values() if path not in modules]
    if unknown:
        raise ValueError(f"no submodule {unknown} in {type(model).__name__}; available: {', '.join(k for k in modules if k)}")
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for label, path in layers.items():
        def hook(_module, _inputs, output, label=label):
            captured[label] = output.detach().clone()  # clone: a later in-place ReLU must not alter it
        handles.append(modules[path].register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return captured
