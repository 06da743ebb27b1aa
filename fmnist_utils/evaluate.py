"""Evaluation: loss, accuracy and predictions of a model; reports computed from stored predictions."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

from .config import PRECISIONS
from .data import CLASSES


@dataclass
class Evaluation:
    loss: float
    accuracy: float
    predictions: np.ndarray  # predicted class per image
    confidence: np.ndarray  # softmax probability of the predicted class
    losses: np.ndarray  # the loss of each image (float32); ``loss`` is their mean


def autocast(precision: str, device_type: str):
    """The context a run's forward passes run in (``RunConfig.precision``): none for "float32";
    ``torch.autocast`` to bfloat16 for "bfloat16". Training and evaluation both use it."""
    if precision == "float32":
        return contextlib.nullcontext()
    if precision == "bfloat16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    raise ValueError(f"precision={precision!r}; allowed: {', '.join(PRECISIONS)}")


@torch.inference_mode()
def evaluate_model(model, x: torch.Tensor, y: torch.Tensor, loss_fn, batch_size: int = 1000,
                   precision: str = "float32") -> Evaluation:
    """Mean loss, accuracy, predictions and per-image losses over (x, y), in eval mode (restores the previous
    mode). ``loss_fn(logits, y, reduction="none")`` gives the per-image losses (``train.make_loss``).

    The forward pass runs in ``precision`` (``autocast``); the logits are cast to float32 before the
    loss and the softmax."""
    was_training = model.training
    model.eval()
    loss_sum = 0.0
    predictions, confidences, losses = [], [], []
    for start in range(0, len(y), batch_size):
        with autocast(precision, x.device.type):
            logits = model(x[start: start + batch_size])
        logits = logits.float()
        target = y[start: start + batch_size]
        # the mean loss stays as the stored runs computed it (summing the per-image losses rounds differently)
        loss_sum += loss_fn(logits, target).item() * len(target)
        losses.append(loss_fn(logits, target, reduction="none").cpu())
        probabilities = logits.softmax(dim=1)
        confidence, predicted = probabilities.max(dim=1)
        predictions.append(predicted.cpu())
        confidences.append(confidence.cpu())
    model.train(was_training)
    predicted = torch.cat(predictions).numpy()
    return Evaluation(
        loss=loss_sum / len(y),
        accuracy=float((predicted == y.cpu().numpy()).mean()),
        predictions=predicted,
        confidence=torch.cat(confidences).numpy(),
        losses=torch.cat(losses).numpy().astype(np.float32),
    )


def summary_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, macro and weighted F1: the headline numbers of the studies."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted")),
    }


def class_report(y_true: np.ndarray, y_pred: np.ndarray, classes=CLASSES) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, plus accuracy and the two averages."""
    report = classification_report(y_true, y_pred, labels=list(range(len(classes))), target_names=list(classes),
                                   output_dict=True, zero_division=0)
    frame = pd.DataFrame(report).T
    frame["support"] = frame["support"].astype(int)
    return frame.rename(columns={"f1-score": "f1"})


def normalized_confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """Rows sum to one: row i is how images of true class i were classified."""
    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)), normalize="true")


def misclassified(y_true: np.ndarray, y_pred: np.ndarray, true_class: int | None = None,
                  predicted_class: int | None = None) -> np.ndarray:
    """Indices of wrong predictions, optionally restricted to one true and/or predicted class."""
    mask = y_true != y_pred
    if true_class is not None:
        mask &= y_true == true_class
    if predicted_class is not None:
        mask &= y_pred == predicted_class
    return np.flatnonzero(mask)
