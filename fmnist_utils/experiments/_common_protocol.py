"""Chapter 6: every network of the five studies under one protocol.

Each study measured its own models under its own protocol (its split, budget, early-stopping rule and,
in two studies, selection on the test set), so their numbers cannot be set side by side. Here every
network trains under one recipe, chosen once for all of them before any result was seen:

- the 60,000 training images split 54,000 / 6,000 (split seed 42), pixels standardised;
- Adam at 1e-3, batch 128, no weight decay, no schedule, no augmentation;
- early stopping on the validation loss (patience 5, at most 100 epochs), the best-validation
  checkpoint evaluated once on the test set;
- three seeds per network.

Why one recipe and not each study's own or a per-model search: the question is which architecture is
best for its size and cost, so everything but the architecture is held fixed; a per-model learning-rate
search would triple the cost on this machine. Adam at 1e-3 is the recipe four of the five studies used.
No augmentation: two studies trained without it, and it would change each network's budget differently.
"""
from __future__ import annotations

from ..chapter import settings_function
from ..config import RunConfig
from ..params import ChapterSpec, Param, int_list, optional, positive_int

TITLE = "Every model under one protocol"

# name -> (registered model, arguments, label, chapter it comes from)
MODELS = {
    "model1": ("model1", {}, "Model-1", 1),
    "model2": ("model2", {}, "Model-2", 1),
    "cnn3_128": ("cnn3_128", {}, "CNN-3-128", 2),
    "light_plain": ("cnn3_128_ds", {}, "lightweight (standard first conv)", 2),
    "light_bn": ("cnn3_128_ds", {"first_block": "separable", "batch_norm": True}, "lightweight (separable + BN)", 2),
    "mlp_best": ("mlp", {"hidden_layers": 2, "width": 4192}, "MLP 2 x 4192", 3),
    "lenet5": ("lenet5", {}, "LeNet-5", 4),
    "resnet_mini": ("resnet_mini", {}, "ResNet-Mini", 4),
    "densenet_tiny": ("densenet_tiny", {}, "DenseNet-Tiny", 4),
    "mobilenet_lite": ("mobilenet_lite", {}, "MobileNet-Lite", 4),
    "vit_tiny": ("vit_tiny", {}, "ViT-Tiny", 4),
    "custom_cnn": ("custom_cnn", {}, "Custom CNN", 4),
    "synergy_baseline": ("synergy_baseline", {}, "study 5 baseline", 5),
    "flexible_final": ("flexible_cnn", {"layers": 6, "filters": 64, "norm": "instance", "dropout": 0.1},
                       "FlexibleCNN 6L/64F, IN, dropout 0.1", 5),
}

SPEC = ChapterSpec("common_protocol", [
    Param("models", list(MODELS), lambda v: None if v and set(v) <= set(MODELS) else
          "a non-empty list drawn from " + ", ".join(MODELS), "networks to train and compare"),
    Param("seeds", {"paper": [42, 43, 44], "quick": [42, 43], "smoke": [42]}, int_list, "training seeds"),
    Param("epochs", {"paper": 100, "quick": 5, "smoke": 1}, positive_int,
          "most epochs per run (early stopping ends every paper run before it)"),
    Param("patience", {"paper": 5, "quick": 2, "smoke": 1}, positive_int,
          "early stopping: epochs without a lower validation loss"),
    Param("batch_size", 128, positive_int, "training batch size of every network"),
    Param("lr", 1e-3, lambda v: None if isinstance(v, float) and v > 0 else "a positive float", "Adam's learning rate"),
    Param("train_subset", {"paper": None, "quick": 5000, "smoke": 256}, optional(positive_int),
          "train on only the first n images of the 54,000 (None: all)"),
    Param("eval_subset", {"paper": None, "quick": 2000, "smoke": 200}, optional(positive_int),
          "validate and test on only the first n images (None: all)"),
])
settings_from = settings_function(SPEC)


def config(settings, name: str, seed: int) -> RunConfig:
    """One network under the common protocol."""
    model, model_args, _, _ = MODELS[name]
    return RunConfig(model=model, model_args=dict(model_args), val_fraction=0.1, split_seed=42,
                     train_subset=settings.train_subset, eval_subset=settings.eval_subset,
                     optimizer="adam", lr=float(settings.lr), batch_size=settings.batch_size,
                     epochs=settings.epochs, patience=settings.patience, monitor="val_loss", select_best=True,
                     seed=seed)


def plan(settings) -> list[tuple[RunConfig, bool]]:
    """Every run as (configuration, needs weights), seed-major so a partial store covers every model first."""
    return [(config(settings, name, seed), False) for seed in settings.seeds for name in settings.models]
