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
# The rule's own helpers and the label helpers draw no figure by themselves.
RULE = {"figure", "tiles", "text_px", "wrapped", "shared_legend", "shortened", "value_label", "epoch_axis"}


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
# chapter 4's figure: every model twice, the study's number and ours, two of them nearly on one spot
PAIRED = pd.DataFrame({"parameters": [6330, 11402, 14218, 61706, 11274, 105674] * 2,
                       "acc": [89.9, 90.8, 90.5, 88.5, 86.4, 86.8, 90.0, 91.1, 91.5, 89.1, 89.7, 88.1],
                       "std": [0.1, 0.2, 0.3, 0.2, 2.2, 0.6] + [0] * 6,
                       "model": ["Custom CNN", "ResNet-Mini", "MobileNet-Lite", "LeNet-5", "DenseNet-Tiny",
                                 "ViT-Tiny"] * 2, "source": ["this book"] * 6 + ["study"] * 6})
SERIES = {"title": "Test accuracy by stage", "xlabel": "epoch", "ylabel": "accuracy", "logx": False,
          "series": {"this book": {"x": [2, 6, 14], "y": [0.90, 0.92, 0.93], "annotate": ["a", "b", "c"]},
                     "study": {"x": [2, 6], "y": [0.91, 0.925], "style": "*", "markersize": 12}},
          "hlines": {"benchmark": 0.92}}
FACTORIAL = pd.DataFrame([{"norm": n, "dropout": p, "seed": s, "test loss": RNG.uniform(0.3, 0.5),
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
# chapter 6 as stored: ResNet-Mini (wide error bar) and MobileNet-Lite close together in every panel
CHAPTER_6 = [{"xlabel": f"{what} (log scale)", "ylabel": "test accuracy (%)", "logx": True, "front": None, "points": {
    "LeNet-5": (lenet, lenet_s, 89.52, 0.06), "ResNet-Mini": (resnet, resnet_s, 89.58, 1.19),
    "MobileNet-Lite": (mobile, mobile_s, 89.32, 0.02), "Custom CNN": (custom, custom_s, 89.68, 0.05),
    "study 5 baseline": (study, study_s, 92.08, 0.04)}}
    for what, (lenet, lenet_s), (resnet, resnet_s), (mobile, mobile_s), (custom, custom_s), (study, study_s) in (
        ("parameters", (61706, 0), (11402, 0), (14218, 0), (6330, 0), (361258, 0)),
        ("forward MFLOPs per image", (0.833, 0), (2.515, 0), (3.032, 0), (1.017, 0), (18.55, 0)),
        ("training seconds to the best epoch", (72.9, 12.0), (542.1, 243.9), (655.0, 132.8), (186.2, 62.8), (300.9, 58.2)))]
CHAPTER_6_GROUPS = {name: "chapter 5" if name == "study 5 baseline" else "chapter 4" for name in CHAPTER_6[0]["points"]}


def on_one_plot(draw):
    fig, (ax,) = plots.figure(1)
    draw(ax)
    fig.tight_layout()
    return fig


def named_points(ax):
    xy = {name: (x, y) for name, (x, _, y, _) in POINTS.items()}
    ax.plot(*zip(*xy.values()), "o")
    ax.set_xscale("log")
    ax.figure.tight_layout()
    plots.name_points(ax, xy)


# One or more calls per plotting function, with data shaped as the chapters pass it (long labels, many panels).
CASES = {
    "sample_grid": lambda: [plots.sample_grid(RNG.random((100, 28, 28)), np.repeat(np.arange(10), 10))],
    "learning_curves": lambda: [plots.learning_curves({"Model-1": [history(), history()], "Model-2": [history(18)]},
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
    "errorbar_scatter": lambda: [plots.errorbar_scatter(frame, "parameters", "acc", "model", hue="source", yerr="std",
                                                        logx=True, title="Accuracy against parameters")
                                 for frame in (SCATTER, PAIRED)],
    "series_panels": lambda: [plots.series_panels([SERIES] * n, title="Panels") for n in (1, 2, 3)]
    + [plots.series_panels([{"series": {f"lightweight (all separable + BN), seed {k}": {"x": [1, 2], "y": [0.8, 0.9]}
                                        for k in range(4)}}] * 2)],
    "interaction_plot": lambda: [plots.interaction_plot(regularization_synergy.factorial_means(FACTORIAL, "test loss"),
                                                        x="dropout", trace="norm", title="Interaction")],
    "strip_box": lambda: [plots.strip_box(FACTORIAL.assign(cell=FACTORIAL["norm"] + " normalisation"), "cell",
                                          "test loss", hue="dropout", reference={"none normalisation": 0.4}),
                          plots.strip_box(FACTORIAL.assign(cell=FACTORIAL["norm"] + " normalisation"), "cell",
                                          "test loss", reference={"none normalisation": 0.4,
                                                                  "batch normalisation": 0.35},
                                          unlike={"batch normalisation"})],
    "run_curves": lambda: [plots.run_curves({f"panel {k}": {"a": [history(), history(4)], "b": [history(5)]}
                                             for k in range(n)}, title="Runs") for n in (1, 2, 3)],
    "step_and_epoch_loss": lambda: [plots.step_and_epoch_loss(np.arange(1, 72001, 10), RNG.random(7200),
                                                              [24000, 48000, 72000],
                                                              {"batch 16": [0.9, 0.6, 0.5], "batch 512": [1.2, 0.9, 0.7]},
                                                              title="Loss per step")],
    "verdict_overview": lambda: [plots.verdict_overview(VERDICTS)],
    "name_points": lambda: [on_one_plot(named_points)],
    "error_points": lambda: [on_one_plot(lambda ax: (plots.error_points(ax, POINTS), ax.set_xscale("log")))],
    "pareto_panels": lambda: [plots.pareto_panels(PARETO, groups={k: f"chapter {len(k) % 5 + 1}" for k in POINTS},
                                                  title="Accuracy against cost (bars: seed std; ringed: undominated)"),
                              plots.pareto_panels(CHAPTER_6, groups=CHAPTER_6_GROUPS, title="Accuracy against cost")],
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


def assert_none_breaks(figures: list, check, name: str) -> None:
    """``check(fig)`` lists nothing for any of ``figures``, which are closed either way."""
    try:
        for fig in figures:
            assert not check(fig), f"{name}: {check(fig)}"
    finally:
        for fig in figures:
            plt.close(fig)


@pytest.mark.parametrize("name", sorted(CASES))
def test_plotting_function_follows_the_size_rule(name):
    assert_none_breaks(CASES[name](), rule_breaks, name)


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


def explorer_picture(monkeypatch, x="parameters", y="test accuracy (%)"):
    """The figure chapter 6's explorer shows first, drawn from chapter 6's stored numbers."""
    drawn = []
    monkeypatch.setattr(explore, "figure_png", lambda fig: drawn.append(fig) or b"")
    points = {name: {"parameters": (p[0], 0.0), "test accuracy (%)": p[2:], "training seconds": t[:2]}
              for (name, p), t in zip(CHAPTER_6[0]["points"].items(), CHAPTER_6[2]["points"].values())}
    explore.scatter_explorer(points, log_axes=["parameters"], x=x, y=y)
    return drawn[-1]


def text_box(text):
    """The window extent of a text alone (an annotation's extent includes its leader line)."""
    text.get_window_extent()  # places an annotation's text where it is drawn
    return matplotlib.text.Text.get_window_extent(text)


def named_point_problems(ax) -> list[str]:
    """Names that cover a marker, an error bar or another name, or that sit nearer another point than their own
    without a leader line to it."""
    from matplotlib.transforms import Bbox

    markers = [xy for line in ax.lines if line.get_marker() in ("o", "s")
               for xy in line.get_transform().transform(line.get_xydata())]
    radius = 5 * ax.figure.dpi / 72 / 2
    marker_boxes = [Bbox.from_extents(x - radius, y - radius, x + radius, y + radius) for x, y in markers]
    bars = [c.get_transform().transform_path(p) for c in ax.collections
            if isinstance(c, matplotlib.collections.LineCollection) for p in c.get_paths()]
    names = [(t, text_box(t), ax.transData.transform(t.xy)) for t in ax.texts]
    problems = []
    for k, (text, box, own) in enumerate(names):
        name = text.get_text()
        problems += [f"{name} covers another name" for _, other, _ in names[k + 1:] if box.overlaps(other)]
        problems += [f"{name} covers a marker" for marker in marker_boxes if box.overlaps(marker)]
        problems += [f"{name} covers an error bar" for bar in bars if bar.intersects_bbox(box, filled=False)]

        def gap(xy):
            return np.hypot(max(box.x0 - xy[0], 0, xy[0] - box.x1), max(box.y0 - xy[1], 0, xy[1] - box.y1))
        if text.arrow_patch is None and min(gap(xy) for xy in markers) < gap(own) - 0.5:
            problems.append(f"{name} is nearer another point than its own")
    return problems


def test_point_names_sit_by_their_own_point_and_cover_nothing(monkeypatch):
    """Chapter 6's figure printed ResNet-Mini's name over MobileNet-Lite's marker, and in its third panel each
    of the two names nearer the other network; its explorer did the same."""
    figures = (CASES["name_points"]() + CASES["pareto_panels"]() + CASES["errorbar_scatter"]()
               + [explorer_picture(monkeypatch)])
    try:
        for fig in figures:
            fig.canvas.draw()
            for ax in fig.axes:
                assert ax.texts and not named_point_problems(ax), named_point_problems(ax)
    finally:
        for fig in figures:
            plt.close(fig)


def test_a_value_axis_that_does_not_start_at_0_says_so(monkeypatch):
    fig = plots.pareto_panels(CHAPTER_6, groups=CHAPTER_6_GROUPS)
    assert [ax.get_ylabel() for ax in fig.axes] == ["test accuracy (%, axis not from 0)"] * 3
    assert [ax.get_xlabel() for ax in fig.axes] == [p["xlabel"] for p in CHAPTER_6]  # log axes: no zero to show
    picture = explorer_picture(monkeypatch, x="training seconds")
    assert (picture.axes[0].get_xlabel(), picture.axes[0].get_ylabel()) == (
        "training seconds (axis not from 0)", "test accuracy (%, axis not from 0)")
    fig, (ax,) = plots.figure(1)
    ax.plot([0, 1], [0.0, 92.0])
    plots.value_label(ax, "test accuracy (%)")
    assert ax.get_ylabel() == "test accuracy (%)"  # from 0: nothing to say
    with pytest.raises(ValueError, match="'x' or 'y'"):
        plots.value_label(ax, "accuracy", axis="z")
    for f in (fig, picture, *plt.get_fignums()):
        plt.close(f)


def unlabelled_cut_axes(fig) -> list[str]:
    """The y labels of linear value axes whose range leaves 0 out without saying so."""
    return [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel() and ax.get_yscale() == "linear"
            and (min(ax.get_ylim()) > 0 or max(ax.get_ylim()) < 0) and plots.NOT_FROM_ZERO not in ax.get_ylabel()]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_value_axis_not_from_0_says_so(name, monkeypatch):
    figures = CASES[name]() + (chapter_and_explorer_figures(monkeypatch) if name == "pareto_panels" else [])
    assert_none_breaks(figures, unlabelled_cut_axes, name)


def test_pareto_groups_have_one_legend_that_covers_no_plot():
    fig = plots.pareto_panels(CHAPTER_6, groups=CHAPTER_6_GROUPS)
    fig.canvas.draw()
    assert [ax.get_legend() for ax in fig.axes] == [None] * 3 and len(fig.legends) == 1
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["chapter 4", "chapter 5"]
    assert not any(legend.get_window_extent().overlaps(ax.get_window_extent()) for ax in fig.axes)
    plt.close(fig)


CLAIMS = ["unseeded Model-2 runs differ only slightly in test accuracy",
          "DenseNet-Tiny (3 dense blocks of 3 layers, growth 8, 8 initial channels, compression 4): 12K parameters",
          "Table 1's test accuracies are held-out estimates: choosing epochs on the test set does not raise them "
          "(a rise of +0.00 points)", "LeNet-5: chapter 4's number holds under the common protocol", "short"]


def test_verdict_row_labels_end_at_a_word_and_no_text_leaves_the_figure():
    """The verdict figure cut its row labels mid-word ("...differ only slightly i")."""
    chapters = [{"title": "Regularisation synergy, tested as a factorial experiment (a long title)",
                 "claims": [{"claim": c, "difference": 0.5, "tolerance": 1.0, "verdict": "reproduced"} for c in CLAIMS]}]
    fig = plots.verdict_overview(chapters)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    for claim, label in zip(CLAIMS, labels):
        if label == claim:
            continue
        assert "…" in label, (claim, label)  # a shortened label says so

        def words(text):
            return [w.strip("(),:;…") for w in text.replace("(", " ").replace(")", " ").split() if w.strip("(),:;…")]
        assert set(words(label)) <= set(words(claim)), (claim, label)  # whole words of the claim only, none cut
    assert labels[1] == "DenseNet-Tiny (…): 12K parameters" and labels[-1] == "short"
    drawn = fig.get_tightbbox()  # the figure is saved as it is, not cropped to its content: nothing may run off it
    assert 0 <= drawn.x0 and drawn.x1 <= fig.get_figwidth() + 0.01, (drawn, fig.get_figwidth())
    plt.close(fig)


def test_the_verdict_figure_draws_this_books_estimates_only():
    """A row checking a study against itself (its text against its own table: "ours" is the study's number) is no
    estimate of this book's: it has no point, and a chapter with only such rows, or none with a tolerance, has no
    panel."""
    def row(claim, difference, **mark):
        return {"claim": claim, "difference": difference, "tolerance": 1.0, "verdict": "not reproduced", **mark}

    chapters = [{"title": "Chapter A", "claims": [row("ours against the study", 0.5),
                                                  row("the study's units against its own table", 656_976.0,
                                                      against_itself=True)]},
                {"title": "Chapter B", "claims": [row("text against code", -24.0, against_itself=True)]},
                {"title": "Chapter C", "claims": [{"claim": "an ordering", "difference": None, "tolerance": None,
                                                   "verdict": "inconclusive"}]}]
    fig = plots.verdict_overview(chapters)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["Chapter A"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["ours against the study"]
    assert not [t for t in fig.axes[0].texts if t.get_text().startswith("+")]  # no arrow for the study's own row
    plt.close(fig)


@pytest.mark.parametrize("label, width, short", [
    ("unseeded Model-2 runs differ only slightly in test accuracy", 44, "unseeded Model-2 runs differ only slightly…"),
    ("LeNet-5 lite (convolutions of 6 and 16 channels, FC 120-84-10): 62K parameters", 40, "LeNet-5 lite (…): 62K parameters"),
    ("a claim that fits", 44, "a claim that fits"),
    ("Supercalifragilisticexpialidocious", 10, "Supercali…"),
])
def test_a_shortened_label_keeps_whole_words(label, width, short):
    assert plots.shortened(label, width) == short and len(short) <= width


def test_a_name_goes_where_it_is_nearer_its_own_point_than_any_other():
    """Beside its point, on the right, this name would end 6 px short of another (small) marker: nearer that one."""
    fig, (ax,) = plots.figure(1)
    ax.set(xlim=(0, 100), ylim=(0, 10))
    fig.tight_layout()
    probe = ax.text(0, 0, "first", fontsize=plots.MIN_FONT_PT)
    width = probe.get_window_extent().width
    probe.remove()
    first = ax.transData.transform((50, 5))
    second = ax.transData.inverted().transform((first[0] + 6 * fig.dpi / 72 + width + 6, first[1]))
    ax.plot([50, second[0]], [5, 5], "o", markersize=2)
    plots.name_points(ax, {"first": (50, 5), "second": tuple(second)})
    fig.canvas.draw()
    assert not named_point_problems(ax), named_point_problems(ax)
    plt.close(fig)


# chapter 6's parameters panel as stored with DenseNet-Tiny and ViT-Tiny: ResNet-Mini (11,402 parameters, a wide error
# bar) between Custom CNN (6,330) and DenseNet-Tiny (11,666), which close its right side
CHAPTER_6_SEVEN = [{"xlabel": "parameters (log scale)", "ylabel": "test accuracy (%)", "logx": True, "front": None,
                    "points": {"LeNet-5": (61706, 0, 89.52, 0.06), "ResNet-Mini": (11402, 0, 89.58, 1.19),
                               "DenseNet-Tiny": (11666, 0, 88.65, 1.04), "MobileNet-Lite": (14218, 0, 89.32, 0.02),
                               "ViT-Tiny": (105546, 0, 88.00, 0.65), "Custom CNN": (6330, 0, 89.68, 0.05),
                               "study 5 baseline": (361258, 0, 92.08, 0.04)}}] * 3


def test_a_name_beside_its_point_is_clearly_nearer_it_than_any_other_point():
    """Chapter 6's ResNet-Mini sat left of and below its point, under Custom CNN's: its own point 12 px from the name,
    Custom CNN's 15 px, so the name read as Custom CNN's. A name beside its point (no leader line) is at least 1.5
    times nearer it than any other point."""
    fig = plots.pareto_panels(CHAPTER_6_SEVEN, groups=CHAPTER_6_GROUPS | {"DenseNet-Tiny": "chapter 4",
                                                                          "ViT-Tiny": "chapter 4"})
    fig.canvas.draw()
    try:
        for ax in fig.axes:
            markers = [ax.transData.transform((x, y)) for x, _, y, _ in CHAPTER_6_SEVEN[0]["points"].values()]
            for text in ax.texts:
                if text.arrow_patch is not None:
                    continue
                box, own = text_box(text), ax.transData.transform(text.xy)

                def gap(xy):
                    return np.hypot(max(box.x0 - xy[0], 0, xy[0] - box.x1), max(box.y0 - xy[1], 0, xy[1] - box.y1))
                others = [gap(xy) for xy in markers if np.hypot(*(xy - own)) > 0.5]
                assert min(others) > 1.5 * gap(own) - 0.5, text.get_text()
            assert not named_point_problems(ax), named_point_problems(ax)
    finally:
        plt.close(fig)


def test_a_name_with_no_free_place_beside_its_point_gets_a_leader_line():
    fig, (ax,) = plots.figure(1)
    ax.set(xlim=(0, 100), ylim=(0, 10))
    fig.tight_layout()
    centre = ax.transData.transform((50, 5))
    ring = [centre + 14 * np.array([np.cos(a), np.sin(a)]) for a in np.radians(22.5 + 45 * np.arange(8))]
    ax.plot(*ax.transData.inverted().transform(ring).T, "o", markersize=3)  # every place beside the point is taken
    ax.plot([50], [5], "o", markersize=3)
    plots.name_points(ax, {"crowded": (50, 5)})
    fig.canvas.draw()
    assert ax.texts[0].arrow_patch is not None and not named_point_problems(ax), named_point_problems(ax)
    plt.close(fig)


def test_series_panels_draw_accuracies_in_percent_and_place_point_names_clear_of_each_other():
    """Chapter 2's scaling figure drew accuracies as fractions beside tables in percent, and printed CNN-2-128's
    name over CNN-3-128's: a panel marked ``percent`` draws percent, and its point names are placed."""
    panel = {"title": "grid", "xlabel": "parameters", "ylabel": "test accuracy", "percent": True, "logx": True,
             "series": {"grid": {"x": [1e5, 1.1e5, 1.2e5], "y": [0.90, 0.901, 0.9005], "style": "o",
                                 "annotate": ["CNN-1-8", "CNN-2-128", "CNN-3-128"]}},
             "hlines": {"reference": 0.95}}
    fig = plots.series_panels([panel])
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        assert ax.get_ylabel().startswith("test accuracy (%")
        assert list(ax.lines[0].get_ydata()) == pytest.approx([90.0, 90.1, 90.05])
        assert ax.lines[1].get_ydata()[0] == pytest.approx(95.0)
        assert sorted(t.get_text() for t in ax.texts) == ["CNN-1-8", "CNN-2-128", "CNN-3-128"]
        assert not named_point_problems(ax), named_point_problems(ax)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_epoch_axis_ticks_whole_epochs(name):
    """Every axis labelled "epoch" (of any plotting function) shows whole epochs: no tick at 2.5."""
    for fig in CASES[name]():
        fig.canvas.draw()
        for ax in fig.axes:
            if ax.get_xlabel() == "epoch":
                lo, hi = ax.get_xlim()
                ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
                assert ticks and all(float(t).is_integer() for t in ticks), (name, ax.get_title(), ticks)
        plt.close(fig)


def test_a_label_in_two_groups_is_named_once_and_its_markers_are_joined():
    fig = plots.errorbar_scatter(PAIRED, "parameters", "acc", "model", hue="source", yerr="std", logx=True)
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == sorted(set(PAIRED["model"]))
    joins = [line for line in ax.lines if line.get_linestyle() == "-" and line.get_color() == "0.75"]
    assert len(joins) == PAIRED["model"].nunique()
    plt.close(fig)


def test_grouped_bars_keep_their_legend_off_the_bars():
    """Chapter 4's legend sat over MobileNet-Lite's error bar: the legend goes under the plot."""
    for fig in CASES["grouped_bars"]():
        (ax,) = fig.axes
        assert ax.get_legend() is None and len(fig.legends) == 1
        fig.canvas.draw()
        assert fig.legends[0].get_window_extent().y1 <= ax.get_window_extent().y0
        plt.close(fig)


def overlapping_ticks(fig) -> list[str]:
    """Tick labels of one axis that touch each other ("10000200003000040000")."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels()
                     if t.get_visible() and t.get_text() and t.get_rotation() == 0]  # rotated ones slant apart
            found += [f"{ax.get_title() or ax.get_xlabel()}: {axis.axis_name} tick labels overlap"
                      for a, b in zip(boxes, boxes[1:]) if a.overlaps(b)]
    return found


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_tick_labels_overlap(name):
    assert_none_breaks(CASES[name](), overlapping_ticks, name)


def test_a_bar_without_a_spread_gets_no_error_bar_not_a_flat_one():
    frame = pd.DataFrame({"model": ["a", "b"], "source": ["ours", "ours"], "acc": [90.0, 91.0],
                          "acc_std": [float("nan"), 0.5]})
    fig = plots.grouped_bars(frame, "acc", "model", "source")
    (ax,) = fig.axes
    caps = [xy for line in ax.lines for xy in line.get_xydata() if np.isfinite(xy).all()]
    assert len(caps) == 2 and all(abs(x - 1) < 1e-9 for x, _ in caps)  # b's two caps only
    plt.close(fig)


def test_a_study_value_measured_on_another_network_is_drawn_apart_from_the_like_for_like_ones():
    """A hollow circle, labelled as another network, where the study's value is not of our configuration."""
    frame = FACTORIAL.assign(cell=FACTORIAL["norm"] + " normalisation")
    fig = plots.strip_box(frame, "cell", "test loss", reference={"none normalisation": 0.4,
                                                                  "batch normalisation": 0.35},
                          unlike={"batch normalisation"})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["study", "study, another network"]
    plt.close(fig)
