"""Every figure of the book follows the size rule of ``fmnist_utils.plots``: no text under
``MIN_FONT_PT``, at most ``MAX_COLUMNS`` plots side by side, and a width at which the browser, fitting
the figure into the ``COLUMN_PX`` text column, still shows that text at ``MIN_TEXT_PX`` or more."""
import inspect
import io
import json
import re
import struct

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fmnist_utils import explore, plots  # noqa: E402
from fmnist_utils.data import CLASSES  # noqa: E402
from fmnist_utils.experiments import regularization_synergy  # noqa: E402
from fmnist_utils.store import REPO_ROOT  # noqa: E402

RNG = np.random.default_rng(0)
# The rule's own helpers draw nothing by themselves.
RULE = {"figure", "tiles", "text_px", "wrapped", "shared_legend"}


def history(epochs=6, **extra):
    return [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_acc": 1 - 0.5 / e, "val_acc": 1 - 0.6 / e,
             "test_acc": 1 - 0.6 / e, "test_loss": 1.2 / e, "train_seconds": 10.0 + e, "eval_seconds": 1.0, **extra}
            for e in range(1, epochs + 1)]


def confusion():
    matrix = RNG.random((10, 10)) + 8 * np.eye(10)
    return matrix / matrix.sum(1, keepdims=True)


LONG = ["no augmentation, study recipe", "no augmentation, our recipe", "augmented, study recipe",
        "augmented, our recipe"]
BARS = pd.DataFrame({"setting": LONG * 2, "architecture": ["Model-1"] * 4 + ["Model-2"] * 4,
                     "test accuracy": RNG.uniform(0.9, 0.93, 8), "test accuracy_std": RNG.uniform(0, 0.003, 8)})
SCATTER = pd.DataFrame({"parameters": [6e3, 11e3, 60e3, 106e3, 300e3, 1.2e6],
                        "acc": RNG.uniform(88, 93, 6), "std": RNG.uniform(0, 0.5, 6),
                        "model": ["Custom CNN", "ResNet-Mini", "LeNet-5", "ViT-Tiny", "DenseNet-Tiny", "MobileNet-Lite"],
                        "source": ["study", "this book"] * 3})
SERIES = {"title": "Test accuracy by stage", "xlabel": "epoch", "ylabel": "accuracy", "logx": False,
          "series": {"this book": {"x": [2, 6, 14], "y": [0.90, 0.92, 0.93], "annotate": ["a", "b", "c"]},
                     "study": {"x": [2, 6], "y": [0.91, 0.925], "style": "*", "markersize": 12}},
          "hlines": {"benchmark": 0.92}}
FACTORIAL = pd.DataFrame([{"norm": n, "dropout": p, "seed": s, "validation loss": RNG.uniform(0.3, 0.5),
                           "test error (%)": RNG.uniform(8, 12)}
                          for n in ("none", "batch", "instance") for p in (0.0, 0.1, 0.3) for s in range(3)])
VERDICTS = [{"title": f"Chapter {k}", "claims": [{"claim": f"A claim of chapter {k} that takes many words, number {i}",
                                                   "difference": RNG.normal(0, 3), "tolerance": 1.0,
                                                   "verdict": "reproduced" if i % 2 else "not reproduced"}
                                                  for i in range(6)]} for k in range(1, 6)]

# chapter 6's networks: (parameters, spread, test accuracy, spread), long names at both ends of the axes
POINTS = {"FlexibleCNN 6L/64F, IN, dropout 0.1": (20.9e6, 0.0, 92.0, 0.2), "MLP 2 x 4192": (588e3, 0.0, 89.3, 0.1),
          "lightweight (standard first conv)": (175e3, 0.0, 95.0, 0.3), "Custom CNN": (6.3e3, 0.0, 90.0, 0.1),
          "CNN-3-128": (2.07e6, 0.0, 93.5, 0.2), "study 5 baseline": (361e3, 0.0, 90.1, 0.4)}
PARETO = [{"xlabel": f"{what} (log scale)", "ylabel": "test accuracy (%)", "logx": True, "points": POINTS, "front": front}
          for what, front in (("parameters", ["Custom CNN", "lightweight (standard first conv)", "CNN-3-128"]),
                              ("training seconds to the best epoch", None))]


def on_one_plot(draw):
    fig, (ax,) = plots.figure(1)
    draw(ax)
    fig.tight_layout()
    return fig


def named_points(ax):
    xy = {name: (x, y) for name, (x, _, y, _) in POINTS.items()}
    ax.plot(*zip(*xy.values()), "o")
    ax.set_xscale("log")
    plots.name_points(ax, xy)


# One or more calls per plotting function, with data shaped as the chapters pass it (long labels, many panels).
CASES = {
    "sample_grid": lambda: [plots.sample_grid(RNG.random((100, 28, 28)), np.repeat(np.arange(10), 10))],
    "learning_curves": lambda: [plots.learning_curves({"Model-1": [history(), history()], "Model-2": [history()]},
                                                      title="Model-1 and Model-2: 3 seeds"),
                                plots.learning_curves({f"batch {b}": [history()] for b in (1, 8, 16, 64, 256, 512, 1024)},
                                                      title="Seven settings: the legend goes under the plots")],
    "confusion_matrices": lambda: [plots.confusion_matrices({f"model {k}": confusion() for k in range(n)})
                                   for n in (1, 2, 3)],
    "activation_maps": lambda: [plots.activation_maps({"conv1": RNG.random((32, 28, 28)), "conv2": RNG.random((64, 14, 14))},
                                                      RNG.random((28, 28)), title="model2, seed 42")],
    "image_grid": lambda: [plots.image_grid(RNG.random((13, 28, 28)), [f"#{9000 + i}\nT-shirt/top -> Pullover"
                                                                       for i in range(13)], title="Misclassified")],
    "grouped_bars": lambda: [plots.grouped_bars(BARS, "test accuracy", "setting", "architecture", title="Ablation")],
    "epoch_curves": lambda: [plots.epoch_curves({"LeNet-5": history(), "ResNet-Mini": history(8)},
                                                {"train_acc": "Training accuracy", "test_acc": "Test accuracy"},
                                                ylabel="accuracy (%)", scale=100, marks={"LeNet-5": 3},
                                                title="Figure 1: accuracy over training")],
    "errorbar_scatter": lambda: [plots.errorbar_scatter(SCATTER, "parameters", "acc", "model", hue="source", yerr="std",
                                                        logx=True, title="Accuracy against parameters")],
    "series_panels": lambda: [plots.series_panels([SERIES] * n, title="Panels") for n in (1, 2, 3)]
    + [plots.series_panels([{"series": {f"lightweight (all separable + BN), seed {k}": {"x": [1, 2], "y": [0.8, 0.9]}
                                        for k in range(4)}}] * 2)],
    "interaction_plot": lambda: [plots.interaction_plot(regularization_synergy.factorial_means(FACTORIAL, "validation loss"),
                                                        x="dropout", trace="norm", title="Interaction")],
    "strip_box": lambda: [plots.strip_box(FACTORIAL.assign(cell=FACTORIAL["norm"] + " normalisation"), "cell",
                                          "validation loss", hue="dropout", reference={"none normalisation": 0.4})],
    "run_curves": lambda: [plots.run_curves({f"panel {k}": {"a": [history(), history(4)], "b": [history(5)]}
                                             for k in range(n)}, title="Runs") for n in (1, 2, 3)],
    "step_and_epoch_loss": lambda: [plots.step_and_epoch_loss(np.arange(1, 301), RNG.random(300), [100, 200, 300],
                                                              {"batch 16": [0.9, 0.6, 0.5], "batch 512": [1.2, 0.9, 0.7]},
                                                              title="Loss per step")],
    "verdict_overview": lambda: [plots.verdict_overview(VERDICTS)],
    "name_points": lambda: [on_one_plot(named_points)],
    "error_points": lambda: [on_one_plot(lambda ax: (plots.error_points(ax, POINTS), ax.set_xscale("log")))],
    "pareto_panels": lambda: [plots.pareto_panels(PARETO, groups={k: f"chapter {len(k) % 5 + 1}" for k in POINTS},
                                                  title="Accuracy against cost (bars: seed std; ringed: undominated)")],
}


def chapter_and_explorer_figures(monkeypatch) -> list:
    """Figures drawn outside plots.py: chapter 5's factorial figure and the explorers' pictures."""
    drawn = [regularization_synergy.factorial_figure(FACTORIAL, "Normalisation x dropout")]
    monkeypatch.setattr(explore, "figure_png", lambda fig: drawn.append(fig) or b"")
    images, targets = RNG.random((40, 28, 28)), np.arange(40) % 10
    explore.misclassified_explorer(images, targets, {"model": (targets + 1) % 10}, true_class="Shirt")
    explore.misclassified_explorer(images, targets, {"model": targets}, true_class="Shirt")  # no mistakes
    explore.activation_explorer({"conv1": RNG.random((4, 28, 28))}, RNG.random((28, 28)))
    explore.scatter_explorer({k: {"parameters": p[:2], "test accuracy (%)": p[2:]} for k, p in POINTS.items()},
                             log_axes=["parameters"])
    return drawn


def png_width(fig) -> int:
    """Pixel width of the figure as the notebook shows it (the inline backend crops to the drawn content)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return struct.unpack(">I", buffer.getvalue()[16:20])[0]


def font_sizes(fig) -> list[tuple[float, str]]:
    fig.canvas.draw()
    return [(t.get_fontsize(), t.get_text()) for t in fig.findobj(matplotlib.text.Text)
            if t.get_visible() and t.get_text().strip()]


def plots_per_row(fig) -> int:
    """The most plots (axes with tick labels; not colour bars, not image tiles) that share a row."""
    boxes = [ax.get_position() for ax in fig.axes
             if ax.get_visible() and ax.axison and not hasattr(ax, "_colorbar")
             and any(label.get_text() for axis in (ax.xaxis, ax.yaxis) for label in axis.get_ticklabels())]
    return max((sum(other.y0 <= (box.y0 + box.y1) / 2 <= other.y1 for other in boxes) for box in boxes), default=0)


def rule_breaks(fig) -> list[str]:
    problems = [f"{size:g} pt text {text!r}" for size, text in font_sizes(fig) if size < plots.MIN_FONT_PT]
    if plots_per_row(fig) > plots.MAX_COLUMNS:
        problems.append(f"{plots_per_row(fig)} plots side by side")
    width = png_width(fig)
    if plots.text_px(plots.MIN_FONT_PT, width) < plots.MIN_TEXT_PX:
        problems.append(f"{width} px wide: {plots.MIN_FONT_PT} pt text shrinks to "
                        f"{plots.text_px(plots.MIN_FONT_PT, width):.1f} px in the {plots.COLUMN_PX} px column")
    return problems


def test_every_plotting_function_is_checked():
    functions = {name for name, f in inspect.getmembers(plots, inspect.isfunction)
                 if f.__module__ == plots.__name__ and not name.startswith("_")}
    assert functions - RULE == set(CASES), "add a case for each new plotting function to CASES"


@pytest.mark.parametrize("name", sorted(CASES))
def test_plotting_function_follows_the_size_rule(name):
    figures = CASES[name]()
    try:
        for fig in figures:
            assert not rule_breaks(fig), f"{name}: {rule_breaks(fig)}"
    finally:
        for fig in figures:
            plt.close(fig)


def test_chapter_and_explorer_figures_follow_the_size_rule(monkeypatch):
    figures = chapter_and_explorer_figures(monkeypatch)
    assert len(figures) == 5
    try:
        for fig in figures:
            assert not rule_breaks(fig), rule_breaks(fig)
    finally:
        for fig in figures:
            plt.close(fig)


def test_point_names_stay_inside_their_plot():
    """Names of the rightmost points go to their left, so a long name squeezes no plot and crosses no edge."""
    for fig in CASES["name_points"]() + CASES["pareto_panels"]():
        fig.canvas.draw()
        for ax in fig.axes:
            right = ax.get_window_extent().x1
            assert ax.texts and all(t.get_window_extent().x1 <= right + 1 for t in ax.texts), \
                [t.get_text() for t in ax.texts if t.get_window_extent().x1 > right + 1]
        plt.close(fig)


def test_text_shrinks_with_a_figure_wider_than_the_column():
    assert plots.text_px(plots.MIN_FONT_PT, plots.COLUMN_PX) == pytest.approx(plots.MIN_FONT_PT * plots.DPI / 72)
    assert plots.text_px(plots.MIN_FONT_PT, 2 * plots.COLUMN_PX) == pytest.approx(plots.MIN_FONT_PT * plots.DPI / 144)
    # the rule itself leaves room: its smallest text at full width is legible
    assert plots.text_px(plots.MIN_FONT_PT, plots.MAX_WIDTH_IN * plots.DPI) >= plots.MIN_TEXT_PX


def test_a_figure_wider_than_the_column_or_three_plots_abreast_is_refused():
    with pytest.raises(ValueError, match="does not fit the book's text column"):
        plots.figure(2, width=plots.MAX_WIDTH_IN + 1)
    with pytest.raises(ValueError, match="at most 2 plots fit side by side"):
        plots.figure(3, columns=3)
    fig, axes = plots.figure(3)
    assert len(axes) == 3 and plots_per_row(fig) == 2
    assert axes[2].get_position().width > 1.5 * axes[0].get_position().width  # the odd one spans its row
    plt.close(fig)


def test_figures_are_sized_only_by_the_rule():
    """Chapters, explorers and notebooks draw through plots.py: no figure sizes or font sizes of their own."""
    sizing = re.compile(r"plt\.(subplots|figure)\(|figsize|fontsize\s*=\s*\d|dpi\s*=\s*\d")
    sources = {path.relative_to(REPO_ROOT): path.read_text() for path in (REPO_ROOT / "fmnist_utils").rglob("*.py")
               if path.name != "plots.py"}
    for notebook in sorted((REPO_ROOT / "book").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        sources[notebook.relative_to(REPO_ROOT)] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    offenders = {str(path): [m.group(0) for m in sizing.finditer(text)] for path, text in sources.items()
                 if sizing.search(text)}
    assert not offenders, offenders
