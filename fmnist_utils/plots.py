"""Figures of the book: readable defaults, one function per kind of figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .data import CLASSES

plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "axes.grid": True, "grid.alpha": 0.3,
                     "axes.spines.top": False, "axes.spines.right": False, "font.size": 10})


def sample_grid(images, labels, per_class: int = 6, classes=CLASSES, seed: int = 0):
    """``per_class`` random images of every class, one row per class."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(per_class * 0.9, len(classes) * 0.95))
    for row, name in enumerate(classes):
        picks = rng.choice(np.flatnonzero(labels == row), per_class, replace=False)
        for col, index in enumerate(picks):
            ax = axes[row, col]
            ax.imshow(np.asarray(images[index]), cmap="gray_r")
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def _stack(histories: list[list[dict]], key: str) -> np.ndarray:
    length = min(len(h) for h in histories)
    return np.array([[row[key] for row in h[:length]] for h in histories])


def learning_curves(groups: dict[str, list[list[dict]]], title: str = ""):
    """Loss and accuracy per epoch, train (dashed) and validation (solid), mean over seeds with min-max band."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, histories), color in zip(groups.items(), colors):
        if not histories:
            continue
        epochs = np.arange(1, min(len(h) for h in histories) + 1)
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "acc")):
            for split, style in (("train", "--"), ("val", "-")):
                key = f"{split}_{metric}"
                if key not in histories[0][0]:
                    continue
                values = _stack(histories, key)
                ax.plot(epochs, values.mean(0), style, color=color,
                        label=f"{label} {'train' if split == 'train' else 'validation'}")
                if len(values) > 1:
                    ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.15, linewidth=0)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    ax_acc.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrices(matrices: dict[str, np.ndarray], classes=CLASSES):
    """Row-normalised confusion matrices side by side, with the share in every cell."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(6.2 * len(matrices), 5.6), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
        ax.grid(False)
        ticks = np.arange(len(classes))
        ax.set_xticks(ticks, classes, rotation=45, ha="right")
        ax.set_yticks(ticks, classes)
        ax.set(xlabel="predicted", ylabel="true", title=title)
        for i in range(len(classes)):
            for j in range(len(classes)):
                if matrix[i, j] >= 0.005:
                    ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if matrix[i, j] > 0.5 else "black")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def activation_maps(maps: dict[str, np.ndarray], image: np.ndarray, channels: int = 8, title: str = ""):
    """The input image, then the first ``channels`` feature maps of each captured layer, one row per layer."""
    fig, axes = plt.subplots(len(maps), channels + 1, figsize=((channels + 1) * 1.25, len(maps) * 1.45),
                             squeeze=False)
    for row, (label, activation) in enumerate(maps.items()):
        axes[row, 0].imshow(image, cmap="gray_r")
        axes[row, 0].set_title("input" if row == 0 else "", fontsize=8)
        axes[row, 0].set_ylabel(f"{label}\n{activation.shape[0]}x{activation.shape[1]}x{activation.shape[2]}",
                                fontsize=8, rotation=0, ha="right", va="center")
        for col in range(channels):
            ax = axes[row, col + 1]
            ax.imshow(activation[col], cmap="viridis")
            ax.set_title(f"ch {col}", fontsize=7)
        for ax in axes[row]:
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images, captions: list[str], columns: int = 8, title: str = ""):
    """Small images with a caption each (misclassified examples, for instance)."""
    rows = max(1, int(np.ceil(len(captions) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.imshow(np.asarray(image), cmap="gray_r")
        ax.set_title(caption, fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def grouped_bars(frame, value: str, group: str, hue: str, ylabel: str = "", title: str = "", ylim=None):
    """Bars of ``value`` for each ``group`` with one bar per ``hue``; error bars from a ``<value>_std`` column."""
    groups, hues = list(dict.fromkeys(frame[group])), list(dict.fromkeys(frame[hue]))
    width = 0.8 / len(hues)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(groups) * len(hues) / 2), 3.8))
    for k, name in enumerate(hues):
        part = frame[frame[hue] == name].set_index(group).reindex(groups)
        errors = part.get(f"{value}_std")
        ax.bar(np.arange(len(groups)) + (k - (len(hues) - 1) / 2) * width, part[value], width,
               yerr=None if errors is None else errors.fillna(0), capsize=3, label=str(name))
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set(ylabel=ylabel or value, title=title)
    low, high = ylim or (frame[value].min(), frame[value].max())
    margin = 0.15 * (high - low) + 1e-3
    ax.set_ylim(low - margin, high + margin)  # bars of close accuracies start near the data, not at zero
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
