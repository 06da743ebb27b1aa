"""Interactive explorers built from ipywidgets.

Each explorer draws with matplotlib into an ``ipywidgets.Image``. When papermill executes a chapter,
the widget state (the controls and the picture on show) is saved in the notebook, so the published
book shows the explorer as it was left; in a live Jupyter session the controls redraw it.
"""
from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from . import plots
from .data import CLASSES
from .evaluate import misclassified

ANY = "any class"


def figure_png(fig) -> bytes:
    """The figure as PNG bytes; the figure is closed so it is not also shown as a static output."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=plots.DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def misclassified_explorer(images, targets, predictions: dict[str, np.ndarray], classes=CLASSES,
                           true_class: str = "Shirt", predicted_class: str = ANY, limit: int = 24) -> widgets.VBox:
    """Browse wrongly classified test images by model, true class and predicted class.

    ``images`` are the test images (n, 28, 28) and ``targets`` their classes; ``predictions`` maps a
    model label to its predicted classes of the same images, as a stored run keeps them.
    """
    images, targets = np.asarray(images), np.asarray(targets)
    predictions = {label: np.asarray(p) for label, p in predictions.items()}
    if not predictions:
        raise ValueError("no predictions to explore: pass at least one {model label: predictions}")
    for label, predicted in predictions.items():
        if not len(images) == len(targets) == len(predicted):
            raise ValueError(f"images, targets and the predictions of {label!r} differ in length: "
                             f"{len(images)}, {len(targets)}, {len(predicted)}")
    model_menu = widgets.Dropdown(options=list(predictions), description="model")
    true_menu = widgets.Dropdown(options=list(classes), value=true_class, description="true")
    predicted_menu = widgets.Dropdown(options=[ANY, *classes], value=predicted_class, description="predicted")
    caption = widgets.HTML()
    picture = widgets.Image(format="png")

    def redraw(_change=None):
        true = classes.index(true_menu.value)
        predicted = None if predicted_menu.value == ANY else classes.index(predicted_menu.value)
        guesses = predictions[model_menu.value]
        wrong = misclassified(targets, guesses, true, predicted)
        shown = wrong[:limit]
        caption.value = (f"{model_menu.value}: <b>{len(wrong)}</b> of {int((targets == true).sum())} test images of "
                         f"<b>{true_menu.value}</b> predicted as <b>{predicted_menu.value}</b>"
                         + (f" (first {len(shown)} shown)" if len(wrong) > len(shown) else ""))
        if len(shown):
            fig = plots.image_grid(images[shown], [f"#{i}: {classes[guesses[i]]}" for i in shown])
        else:
            fig, (ax,) = plots.figure(1, row_height=0.6, width=4)
            ax.axis("off")
            ax.text(0.5, 0.5, "no such mistakes", ha="center", va="center")
        picture.value = figure_png(fig)

    for menu in (model_menu, true_menu, predicted_menu):
        menu.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([model_menu, true_menu, predicted_menu]), caption, picture])


def activation_explorer(maps: dict[str, np.ndarray], image, layer: str | None = None,
                        channel: int = 0) -> widgets.VBox:
    """Browse the feature maps of one input image by layer and channel.

    ``maps`` maps a layer label to its activations (channels, height, width), as
    :func:`fmnist_utils.activations.capture_activations` returns them for one image.
    """
    if not maps:
        raise ValueError("no activation maps to explore")
    layer_menu = widgets.Dropdown(options=list(maps), value=layer or next(iter(maps)), description="layer")
    channel_slider = widgets.IntSlider(value=channel, min=0, max=maps[layer_menu.value].shape[0] - 1,
                                       description="channel", continuous_update=False)
    picture = widgets.Image(format="png")
    image = np.asarray(image)

    def redraw(_change=None):
        activation = maps[layer_menu.value]
        channel_slider.max = activation.shape[0] - 1
        fig, (left, right) = plots.figure(2, row_height=3.0)
        left.imshow(image, cmap="gray_r")
        left.set_title("input")
        shown = right.imshow(activation[channel_slider.value], cmap="viridis")
        right.set_title(f"{layer_menu.value}, channel {channel_slider.value} "
                        f"({activation.shape[1]}x{activation.shape[2]})")
        fig.colorbar(shown, ax=right, fraction=0.046)
        for ax in (left, right):
            ax.set_xticks([]), ax.set_yticks([])
        picture.value = figure_png(fig)

    layer_menu.observe(redraw, names="value")
    channel_slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([layer_menu, channel_slider]), picture])


def scatter_explorer(points: dict[str, dict], log_axes=(), x: str | None = None,
                     y: str | None = None) -> widgets.VBox:
    """Plot any two quantities of a set of configurations against each other, and pick the configurations.

    ``points`` maps a configuration's label to its quantities: axis name -> (value, spread), or None where it
    has no value yet (its runs are not stored); every configuration has the same axes. Spreads are drawn as
    error bars; an axis in ``log_axes`` is drawn on a log scale, and its label says so, as does the label of a
    linear axis that does not start at 0.
    """
    if not points:
        raise ValueError("no configurations to explore: pass at least one {label: {axis: (value, spread)}}")
    axes = list(next(iter(points.values())))
    for label, quantities in points.items():
        if list(quantities) != axes:
            raise ValueError(f"{label!r} has the axes {list(quantities)}, the first configuration {axes}: give "
                             "every configuration the same axes, None where it has no value")
    unknown = [a for a in (*log_axes, x, y) if a is not None and a not in axes]
    if len(axes) < 2 or unknown:
        raise ValueError(f"axes {unknown} are not among the quantities {axes}" if unknown else
                         f"two quantities at least are needed to plot one against the other; got {axes}")
    x_menu = widgets.Dropdown(options=axes, value=x or axes[0], description="x")
    y_menu = widgets.Dropdown(options=axes, value=y or axes[1], description="y")
    labels = list(points)
    picker = widgets.SelectMultiple(options=labels, value=tuple(labels), rows=min(len(labels), 8),
                                    description="show")
    caption = widgets.HTML()
    picture = widgets.Image(format="png")

    def redraw(_change=None):
        chosen = list(picker.value)
        shown = [l for l in chosen if points[l][x_menu.value] is not None and points[l][y_menu.value] is not None]
        lacking = [l for l in chosen if l not in shown]
        caption.value = (f"<b>{len(shown)}</b> of {len(chosen)} chosen shown"
                         + (f"; no value yet for {', '.join(lacking)}" if lacking else ""))
        fig, (ax,) = plots.figure(1, row_height=3.6)
        shown_points = {l: (*points[l][x_menu.value], *points[l][y_menu.value]) for l in shown}
        if shown:
            plots.error_points(ax, shown_points, color="C0")
            for axis, scale in ((x_menu.value, ax.set_xscale), (y_menu.value, ax.set_yscale)):
                if axis in log_axes:
                    scale("log")
        else:
            ax.text(0.5, 0.5, "nothing to show for these axes yet", ha="center", va="center", transform=ax.transAxes)
        for which, axis in (("x", x_menu.value), ("y", y_menu.value)):
            plots.value_label(ax, axis + (" (log scale)" if axis in log_axes else ""), which)
        fig.tight_layout()
        plots.name_points(ax, {l: (x, y) for l, (x, _, y, _) in shown_points.items()})
        picture.value = figure_png(fig)

    for control in (x_menu, y_menu, picker):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([x_menu, y_menu]), picker, caption, picture])
