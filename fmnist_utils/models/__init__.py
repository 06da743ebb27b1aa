"""Model families, one module each; every model is reachable by name through ``build_model``."""
from .registry import build_model, count_parameters, model_names, register_model

# Importing a family registers its models.
from . import baseline  # noqa: F401,E402  chapter 1: Model-1, Model-2
from . import cnn3  # noqa: F401,E402  chapter 2: CNN-3-128, its lightweight variant, CNN-x-y
from . import mlp  # noqa: F401,E402  chapter 3: flexible MLP
from . import lightweight  # noqa: F401,E402  chapter 4: LeNet-5, ResNet-Mini, ...
from . import flexible_cnn  # noqa: F401,E402  chapter 5: FlexibleCNN

__all__ = ["build_model", "count_parameters", "model_names", "register_model"]
