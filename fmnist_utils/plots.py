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


def epoch_curves(groups: dict[str, list[dict]], panels: dict[str, str], ylabel: str = "", title: str = "",
                 marks: dict[str, int] | None = None, scale: float = 1.0):
    """One panel per history key (``panels``: key -> panel title), one line per run (``groups``: label ->
    that run's per-epoch rows), values times ``scale``; ``marks`` (label -> epoch) puts a dot at that epoch."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 3.9), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, panel_title) in zip(axes[0], panels.items()):
        for k, (label, history) in enumerate(groups.items()):
            rows = [row for row in history if key in row]
            if not rows:
                continue
            color = colors[k % len(colors)]
            ax.plot([row["epoch"] for row in rows], [scale * row[key] for row in rows], color=color, label=label)
            if marks and label in marks:
                at = [row for row in rows if row["epoch"] == marks[label]]
                if at:
                    ax.plot([marks[label]], [scale * at[0][key]], "o", color=color, markersize=5)
        ax.set(xlabel="epoch", ylabel=ylabel, title=panel_title)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def errorbar_scatter(frame, x: str, y: str, label: str, hue: str | None = None, yerr: str | None = None,
                     logx: bool = False, xlabel: str = "", ylabel: str = "", title: str = ""):
    """``y`` against ``x``, one marker per row annotated with its ``label`` column, one colour and marker
    per ``hue`` group, error bars from the ``yerr`` column where given."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    groups = list(dict.fromkeys(frame[hue])) if hue else [None]
    markers = "osD^v"
    for k, name in enumerate(groups):
        part = frame if name is None else frame[frame[hue] == name]
        errors = None if yerr is None else part[yerr].fillna(0).to_numpy()
        ax.errorbar(part[x], part[y], yerr=errors, fmt=markers[k % len(markers)], capsize=3,
                    label=None if name is None else str(name), alpha=0.85)
        for n, (_, row) in enumerate(part.sort_values(x).iterrows()):  # alternate sides: close points stay legible
            ax.annotate(str(row[label]), (row[x], row[y]), textcoords="offset points",
                        xytext=(5, 4 if n % 2 == 0 else -11), fontsize=7)
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel or x, ylabel=ylabel or y, title=title)
    if hue:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def series_panels(panels: list[dict], title: str = "", width: float = 5.8, height: float = 4.0):
    """Panels side by side, each with any number of line / marker series and horizontal reference lines.

    A panel is ``{"title", "xlabel", "ylabel", "logx": bool, "series": {label: series}, "hlines": {label: y}}``;
    a series is ``{"x": [...], "y": [...], "style": "-o" (matplotlib format), "color", "markersize",
    "annotate": [one text per point]}``. Series without points are skipped.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for label, series in panel.get("series", {}).items():
            if not len(series["x"]):
                continue
            extra = {"color": series["color"]} if "color" in series else {}
            ax.plot(series["x"], series["y"], series.get("style", "-o"), label=label,
                    markersize=series.get("markersize", 5), **extra)
            for x, y, text in zip(series["x"], series["y"], series.get("annotate", [])):
                ax.annotate(str(text), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        for label, y in panel.get("hlines", {}).items():
            ax.axhline(y, color="grey", linestyle=":", linewidth=1.2, label=label)
        if panel.get("logx"):
            ax.set_xscale("log")
        ax.set(title=panel.get("title", ""), xlabel=panel.get("xlabel", ""), ylabel=panel.get("ylabel", ""))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def interaction_plot(frame, x: str, trace: str, mean: str = "mean", low: str | None = "low",
                     high: str | None = "high", xlabel: str = "", ylabel: str = "", title: str = "", ax=None):
    """Factorial means: one line per ``trace`` level across the ``x`` levels, with interval bars
    (``low``/``high`` columns). Parallel lines mean the factors add up; lines that converge or
    diverge show an interaction."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6.2, 4.0))
    else:
        fig = ax.figure
    levels = list(dict.fromkeys(sorted(frame[x])))
    positions = {level: k for k, level in enumerate(levels)}
    traces = list(dict.fromkeys(frame[trace]))
    offset = 0.06 * (np.arange(len(traces)) - (len(traces) - 1) / 2)
    for k, name in enumerate(traces):
        part = frame[frame[trace] == name].sort_values(x)
        xs = np.array([positions[v] for v in part[x]]) + offset[k]
        errors = None
        if low is not None and high is not None:
            errors = np.vstack([part[mean] - part[low], part[high] - part[mean]])
            errors = np.where(np.isfinite(errors), errors, 0)
        ax.errorbar(xs, part[mean], yerr=errors, fmt="-o", capsize=4, label=str(name))
    ax.set_xticks(range(len(levels)), [f"{v:g}" if isinstance(v, float) else str(v) for v in levels])
    ax.set(xlabel=xlabel or x, ylabel=ylabel or mean, title=title)
    ax.legend(title=trace, fontsize=8)
    if own:
        fig.tight_layout()
    return fig


def strip_box(frame, group: str, value: str, hue: str | None = None, reference: dict | None = None,
              ylabel: str = "", title: str = "", ax=None, seed: int = 0):
    """Every run as a dot over a box per ``group`` (and ``hue``), so the seed-to-seed spread is visible;
    ``reference`` (group -> value) draws another source's number, e.g. the study's, as a red cross."""
    own = ax is None
    groups = list(dict.fromkeys(frame[group]))
    hues = list(dict.fromkeys(frame[hue])) if hue else [None]
    if own:
        fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(groups) * len(hues)), 3.9))
    else:
        fig = ax.figure
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rng = np.random.default_rng(seed)
    width = 0.8 / len(hues)
    for k, name in enumerate(hues):
        color = colors[k % len(colors)]
        for g, label in enumerate(groups):
            part = frame[frame[group] == label] if name is None else frame[(frame[group] == label) & (frame[hue] == name)]
            ys = part[value].to_numpy(dtype=float)
            if not len(ys):
                continue
            center = g + (k - (len(hues) - 1) / 2) * width
            if len(ys) > 2:
                ax.boxplot([ys], positions=[center], widths=0.7 * width, showfliers=False, manage_ticks=False,
                           medianprops={"color": color}, boxprops={"color": color}, whiskerprops={"color": color},
                           capprops={"color": color})
            ax.scatter(center + rng.uniform(-0.15, 0.15, len(ys)) * width, ys, s=18, color=color, alpha=0.8,
                       zorder=3, label=None if name is None or g else str(name))
    if reference:
        xs = [groups.index(g) for g in reference if g in groups]
        ys = [reference[g] for g in reference if g in groups]
        ax.scatter(xs, ys, marker="x", s=60, color="red", zorder=4, label="study")
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    ax.set(ylabel=ylabel or value, title=title)
    if hue or reference:
        ax.legend(fontsize=8)
    if own:
        fig.tight_layout()
    return fig


def run_curves(panels: dict[str, dict[str, list[list[dict]]]], key: str = "val_loss", ylabel: str = "",
               title: str = "", sharey: bool = True, columns: int | None = None):
    """One panel per entry of ``panels`` (title -> {label -> histories}); every run a thin line of
    ``key`` per epoch, the mean over the runs still going at that epoch a thick one. Runs of unequal
    length (early stopping) are drawn in full."""
    columns = columns or len(panels)
    rows = int(np.ceil(len(panels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.5 * rows), squeeze=False, sharey=sharey)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (panel, groups) in zip(axes.flat, panels.items()):
        for k, (label, histories) in enumerate(groups.items()):
            color = colors[k % len(colors)]
            histories = [h for h in histories if h and key in h[0]]
            for history in histories:
                ax.plot([row["epoch"] for row in history], [row[key] for row in history], color=color,
                        linewidth=0.7, alpha=0.35)
            if histories:
                length = max(len(h) for h in histories)
                mean = [np.mean([h[e][key] for h in histories if len(h) > e]) for e in range(length)]
                ax.plot(np.arange(1, length + 1), mean, "-o", color=color, linewidth=2, markersize=3, label=str(label))
        ax.set(title=panel, xlabel="epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel or key)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def step_and_epoch_loss(steps, step_losses, epoch_end_steps, epoch_losses: dict[str, list[float]], title: str = ""):
    """Left: the training loss of single learning steps (thin) with the epoch means at the epochs' last
    steps; right: the same run's losses per epoch (``epoch_losses``: label -> one value per epoch)."""
    fig, (ax_step, ax_epoch) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax_step.plot(steps, step_losses, linewidth=0.6, alpha=0.8, label="single step")
    first = next(iter(epoch_losses.values()), [])
    ax_step.plot(epoch_end_steps[: len(first)], first, "-o", markersize=4, label=f"{next(iter(epoch_losses), '')} (epoch mean)")
    ax_step.set(xlabel="learning step", ylabel="loss", title="Loss per learning step")
    ax_step.legend(fontsize=8)
    for label, values in epoch_losses.items():
        ax_epoch.plot(np.arange(1, len(values) + 1), values, "-o", markersize=4, label=label)
    ax_epoch.set(xlabel="epoch", ylabel="loss", title="Loss per epoch")
    ax_epoch.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax_epoch.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


VERDICT_COLORS = {"reproduced": "#1b9e77", "not reproduced": "#d95f02", "inconclusive": "#7570b3",
                  "not comparable": "#999999", "missing run": "#cccccc", "not tested": "#cccccc"}


def verdict_overview(chapters: list[dict], clip: float = 6.0):
    """Every numeric claim of the book: (ours - study) in units of its tolerance, coloured by verdict.

    ``chapters`` are the saved claim tables (``claims.load_claims``). Inside the shaded band |x| <= 1 our
    estimate agrees with the study within the tolerance; points beyond ``clip`` tolerances are drawn at the
    edge as arrows, with their value written beside them. One panel per chapter, stacked."""
    panels = [(c, [r for r in c["claims"] if r.get("difference") is not None and r.get("tolerance")])
              for c in chapters]
    panels = [(c, rows) for c, rows in panels if rows]
    heights = [max(1.2, 0.22 * len(rows) + 0.6) for _, rows in panels] or [1.0]
    fig, axes = plt.subplots(len(heights), 1, figsize=(8, sum(heights) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (chapter, rows) in zip(axes[:, 0], panels):
        ratios = np.array([r["difference"] / r["tolerance"] for r in rows])
        y = np.arange(len(rows))[::-1]
        ax.axvspan(-1, 1, color="#1b9e77", alpha=0.12, linewidth=0)
        ax.axvline(0, color="black", linewidth=0.8)
        for yi, ratio, row in zip(y, ratios, rows):
            shown = float(np.clip(ratio, -clip, clip))
            marker = ">" if ratio > clip else "<" if ratio < -clip else "o"
            ax.plot(shown, yi, marker, color=VERDICT_COLORS.get(row["verdict"], "black"), markersize=6)
            if marker != "o":
                ax.annotate(f"{ratio:+.0f}", (shown, yi), xytext=(-6 if ratio > 0 else 6, 0),
                            textcoords="offset points", ha="right" if ratio > 0 else "left", va="center", fontsize=8)
        ax.set_yticks(y, [r["claim"][:48] for r in rows], fontsize=8)
        ax.set_xlim(-clip - 0.5, clip + 0.5)
        ax.set_title(chapter["title"], fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0)
    axes[-1, 0].set_xlabel("(this book - study) / tolerance   (shaded: within the tolerance)")
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=color, label=verdict)
               for verdict, color in VERDICT_COLORS.items() if verdict in ("reproduced", "not reproduced",
                                                                            "inconclusive", "not comparable")]
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (sum(heights) + 0.6)))
    return fig
