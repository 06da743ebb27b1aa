"""Figures of the book: one size rule for every figure, one function per kind of figure.

**The size rule.** A chapter's outputs are ``COLUMN_PX`` CSS pixels wide in a 1280-pixel window (the
text column of sphinx-book-theme; the browser test checks that the built book still has it). Figures
are drawn at ``DPI`` dots per inch and are at most ``MAX_WIDTH_IN = COLUMN_PX / DPI`` inches wide, so
the browser shows them pixel for pixel, and no text is smaller than ``MIN_FONT_PT`` points (the font
sizes set below), which is ``MIN_FONT_PT * DPI / 72`` = 11 pixels on the page: above the
``MIN_TEXT_PX`` a reader needs, with room to spare when a label sticks out and the browser shrinks the
figure a little. At most ``MAX_COLUMNS`` plots stand side by side; more go onto further rows.
:func:`figure` (plots) and :func:`tiles` (grids of small images, which have no axes to read) are the
only places that size a figure.
"""
from __future__ import annotations

import math
import re
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.path import Path
from matplotlib.transforms import Bbox
from matplotlib.ticker import EngFormatter

from .data import CLASSES

COLUMN_PX = 688  # the output column of a chapter page in a 1280-pixel window, CSS pixels
DPI = 100
MAX_WIDTH_IN = COLUMN_PX / DPI
MIN_TEXT_PX = 9  # the smallest text a reader should have to read, CSS pixels
MIN_FONT_PT = 8  # the smallest font of any figure, points
MAX_COLUMNS = 2  # plots side by side

plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "figure.figsize": (MAX_WIDTH_IN, 3.2),
                     "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "figure.titlesize": 10,
                     "xtick.labelsize": MIN_FONT_PT, "ytick.labelsize": MIN_FONT_PT,
                     "legend.fontsize": MIN_FONT_PT, "legend.title_fontsize": MIN_FONT_PT,
                     "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})


def text_px(font_pt: float, figure_px: float, shown_px: float = COLUMN_PX) -> float:
    """CSS pixels of ``font_pt`` text in a figure ``figure_px`` pixels wide (at ``DPI``) once the browser
    has fitted it into ``shown_px`` (it shrinks wider images to the column, never enlarges them)."""
    return font_pt * DPI / 72 * min(1.0, shown_px / figure_px)


def _check_width(width: float) -> None:
    if not 0 < width <= MAX_WIDTH_IN:
        raise ValueError(f"a figure {width:.2f} in wide does not fit the book's text column: at most "
                         f"{MAX_WIDTH_IN:.2f} in (plots.MAX_WIDTH_IN), or its text shrinks below {MIN_TEXT_PX} px")


def figure(panels: int = 1, *, columns: int = MAX_COLUMNS, row_height: float | list[float] = 3.0,
           width: float = MAX_WIDTH_IN, sharex: bool = False, sharey: bool = False):
    """A figure of ``panels`` plots for the text column: ``columns`` (at most ``MAX_COLUMNS``) side by
    side, the rest on further rows, an odd last plot across its whole row. ``row_height`` is in inches,
    one value or one per row. Returns the figure and the list of its axes."""
    if not 1 <= columns <= MAX_COLUMNS:
        raise ValueError(f"columns={columns}: at most {MAX_COLUMNS} plots fit side by side in the text column")
    if panels < 1:
        raise ValueError(f"panels={panels}: a figure needs at least one plot")
    _check_width(width)
    columns = min(columns, panels)
    rows = math.ceil(panels / columns)
    heights = list(row_height) if isinstance(row_height, (list, tuple)) else [row_height] * rows
    if len(heights) != rows:
        raise ValueError(f"{len(heights)} row heights for {rows} rows of plots")
    fig = plt.figure(figsize=(width, sum(heights)))
    grid = fig.add_gridspec(rows, columns, height_ratios=heights)
    axes = []
    for k in range(panels):
        row, column = divmod(k, columns)
        alone = k == panels - 1 and column == 0 and columns > 1
        shared = {"sharex": axes[0] if sharex and axes else None, "sharey": axes[0] if sharey and axes else None}
        axes.append(fig.add_subplot(grid[row, :] if alone else grid[row, column], **shared))
    return fig, axes


def tiles(rows: int, columns: int, *, width: float = MAX_WIDTH_IN, aspect: float = 1.0, caption_in: float = 0.0):
    """A grid of small images without axes (so any number per row) across ``width`` inches; each tile is
    ``aspect`` times as high as wide, plus ``caption_in`` inches for a caption. Returns the figure and a
    2-D array of axes."""
    _check_width(width)
    tile = width / columns
    fig, axes = plt.subplots(rows, columns, figsize=(width, rows * (tile * aspect + caption_in)), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
    return fig, axes


def shared_legend(fig, axes, inside: int = 4, chars: int = 24, **inside_options):
    """One legend for the plots ``axes`` (one entry per label): inside the last plot while it is small (at
    most ``inside`` entries of at most ``chars`` characters), else under the figure in as many columns
    as fit its width. Call it after ``tight_layout``: the figure is saved cropped to what is drawn."""
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if not entries:
        return None
    if len(entries) <= inside and max(map(len, entries)) <= chars:
        return axes[-1].legend(entries.values(), entries.keys(), **inside_options)
    renderer = fig.canvas.get_renderer()
    for columns in range(min(len(entries), 4), 0, -1):
        legend = fig.legend(entries.values(), entries.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                            ncol=columns, frameon=False)
        if columns == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            return legend
        legend.remove()


def wrapped(labels, width: int = 14) -> list[str]:
    """Category labels broken onto lines of about ``width`` characters, so neighbours do not overlap."""
    return [textwrap.fill(str(label), width) for label in labels]


def shortened(label: str, width: int) -> str:
    """``label`` in at most ``width`` characters, for a row label that must stay on one line: whole if it fits,
    else with its parenthesised asides replaced by "(…)", else cut after its last whole word that fits, with "…"."""
    label = " ".join(str(label).split())
    if len(label) <= width:
        return label
    label = re.sub(r"\([^()]*\)", "(…)", label)
    if len(label) <= width:
        return label
    head = label[:width]  # the last character is the ellipsis's: a word that ends there does not fit
    cut = head.rsplit(" ", 1)[0] if " " in head else head[:-1]
    return cut.rstrip(" ,;:-(") + "…"


NOT_FROM_ZERO = "axis not from 0"


def value_label(ax, label: str, axis: str = "y") -> None:
    """Label an axis of ``ax``; on a linear axis whose range leaves 0 out the label says so plainly
    (``NOT_FROM_ZERO``, inside the label's closing parenthesis if it has one), so that no reader takes a
    point's distance from the edge for its size. Call it once the data is drawn: it reads the axis's range."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis={axis!r}: name the axis to label, 'x' or 'y'")
    scale, (low, high) = (ax.get_xscale(), ax.get_xlim()) if axis == "x" else (ax.get_yscale(), ax.get_ylim())
    if scale == "linear" and (min(low, high) > 0 or max(low, high) < 0):
        label = f"{label[:-1]}, {NOT_FROM_ZERO})" if label.endswith(")") else f"{label} ({NOT_FROM_ZERO})"
    (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label)


def sample_grid(images, labels, per_class: int = 6, classes=CLASSES, seed: int = 0):
    """``per_class`` random images of every class, one row per class."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    fig, axes = tiles(len(classes), per_class, width=min(MAX_WIDTH_IN, 0.75 * per_class + 1.2))
    for row, name in enumerate(classes):
        picks = rng.choice(np.flatnonzero(labels == row), per_class, replace=False)
        for col, index in enumerate(picks):
            axes[row, col].imshow(np.asarray(images[index]), cmap="gray_r")
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def _stack(histories: list[list[dict]], key: str) -> np.ndarray:
    length = min(len(h) for h in histories)
    return np.array([[row[key] for row in h[:length]] for h in histories])


def epoch_axis(ax, title: str = "") -> None:
    """An x axis of epochs: labelled, whole epochs on the ticks (never 2.5), and the panel's title."""
    ax.set(xlabel="epoch", title=title)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))


def learning_curves(groups: dict[str, list[list[dict]]], title: str = ""):
    """Loss and accuracy per epoch, train (dashed) and validation (solid), mean over seeds with min-max band."""
    fig, (ax_loss, ax_acc) = figure(2, row_height=3.2)
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
    for ax, panel in ((ax_loss, "Loss"), (ax_acc, "Accuracy")):
        epoch_axis(ax, panel)
    value_label(ax_loss, "cross-entropy loss")
    value_label(ax_acc, "accuracy")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    shared_legend(fig, [ax_acc], loc="lower right")
    return fig


def confusion_matrices(matrices: dict[str, np.ndarray], classes=CLASSES):
    """Row-normalised confusion matrices, two side by side, with the share of each true class in every
    cell in percent (rounded half up; blank where that is 0)."""
    fig, axes = figure(len(matrices), row_height=3.6, width=MAX_WIDTH_IN if len(matrices) > 1 else 0.6 * MAX_WIDTH_IN)
    ticks = np.arange(len(classes))
    for ax, (title, matrix) in zip(axes, matrices.items()):
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
        ax.grid(False)
        ax.set_xticks(ticks, classes, rotation=60, ha="right", rotation_mode="anchor")
        ax.set_yticks(ticks, classes)
        ax.set(xlabel="predicted", ylabel="true", title=title)
        for (i, j), share in np.ndenumerate(matrix):
            if percent := int(100 * share + 0.5):
                ax.text(j, i, str(percent), ha="center", va="center", fontsize=MIN_FONT_PT,
                        color="white" if share > 0.5 else "black")
    fig.tight_layout()
    return fig


def activation_maps(maps: dict[str, np.ndarray], image: np.ndarray, channels: int = 8, title: str = ""):
    """The input image, then the first ``channels`` feature maps of each captured layer, one row per layer."""
    fig, axes = tiles(len(maps), channels + 1, caption_in=0.2)
    for row, (label, activation) in enumerate(maps.items()):
        axes[row, 0].imshow(image, cmap="gray_r")
        axes[row, 0].set_title("input" if row == 0 else "", fontsize=MIN_FONT_PT)
        axes[row, 0].set_ylabel(f"{label}\n{activation.shape[0]}x{activation.shape[1]}x{activation.shape[2]}",
                                fontsize=MIN_FONT_PT, rotation=0, ha="right", va="center")
        for col in range(channels):
            axes[row, col + 1].imshow(activation[col], cmap="viridis")
            axes[row, col + 1].set_title(f"ch {col}", fontsize=MIN_FONT_PT)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images, captions: list[str], columns: int = 6, title: str = ""):
    """Small images with a caption each (misclassified examples, for instance), ``columns`` a row;
    captions are broken onto lines that fit their image's width."""
    rows = max(1, int(np.ceil(len(captions) / columns)))
    chars = int(MAX_WIDTH_IN / columns * 72 / (0.6 * MIN_FONT_PT))  # a character is about 0.6 em wide
    captions = ["\n".join(textwrap.fill(line, chars) for line in str(c).split("\n")) for c in captions]
    lines = max((c.count("\n") + 1 for c in captions), default=1)
    fig, axes = tiles(rows, columns, caption_in=0.1 + lines * 1.6 * MIN_FONT_PT / 72)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.imshow(np.asarray(image), cmap="gray_r")
        ax.set_title(caption, fontsize=MIN_FONT_PT)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def grouped_bars(frame, value: str, group: str, hue: str, ylabel: str = "", title: str = "", ylim=None):
    """Bars of ``value`` for each ``group`` with one bar per ``hue``; error bars from a ``<value>_std`` column."""
    groups, hues = list(dict.fromkeys(frame[group])), list(dict.fromkeys(frame[hue]))
    width = 0.8 / len(hues)
    fig, (ax,) = figure(1, row_height=3.4)
    for k, name in enumerate(hues):
        part = frame[frame[hue] == name].set_index(group).reindex(groups)
        errors = part.get(f"{value}_std")
        ax.bar(np.arange(len(groups)) + (k - (len(hues) - 1) / 2) * width, part[value], width,
               yerr=errors, capsize=3, label=str(name))  # a single run (no std): no error bar, not a flat one
    ax.set_xticks(np.arange(len(groups)), wrapped(groups))
    ax.set(title=title)
    low, high = ylim or (frame[value].min(), frame[value].max())
    margin = 0.15 * (high - low) + 1e-3
    ax.set_ylim(low - margin, high + margin)  # bars of close accuracies start near the data, not at zero
    value_label(ax, ylabel or value)  # and the axis says so
    fig.tight_layout()
    shared_legend(fig, [ax], inside=0)  # under the plot: inside, it covered the tallest bars' error bars
    return fig


def epoch_curves(groups: dict[str, list[dict]], panels: dict[str, str], ylabel: str = "", title: str = "",
                 marks: dict[str, int] | None = None, scale: float = 1.0):
    """One panel per history key (``panels``: key -> panel title), one line per run (``groups``: label ->
    that run's per-epoch rows), values times ``scale``; ``marks`` (label -> epoch) puts a dot at that epoch."""
    fig, axes = figure(len(panels), row_height=3.2)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, panel_title) in zip(axes, panels.items()):
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
        epoch_axis(ax, panel_title)
        value_label(ax, ylabel)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    shared_legend(fig, axes)
    return fig


def errorbar_scatter(frame, x: str, y: str, label: str, hue: str | None = None, yerr: str | None = None,
                     logx: bool = False, xlabel: str = "", ylabel: str = "", title: str = ""):
    """``y`` against ``x``, one colour and marker per ``hue`` group, error bars from the ``yerr`` column where
    given. Each ``label`` is named once, by its marker of the first group it appears in (``name_points``: clear
    of every marker and of the other names); a label in several groups (a study's number and ours) has its
    markers joined by a thin grey line, so that the unnamed one is found by its pair."""
    fig, (ax,) = figure(1, row_height=4.0)
    groups = list(dict.fromkeys(frame[hue])) if hue else [None]
    markers = "osD^v"
    for k, name in enumerate(groups):
        part = frame if name is None else frame[frame[hue] == name]
        errors = None if yerr is None else part[yerr].fillna(0).to_numpy()
        ax.errorbar(part[x], part[y], yerr=errors, fmt=markers[k % len(markers)], capsize=3,
                    label=None if name is None else str(name), alpha=0.85)
    for _, rows in frame.groupby(label, sort=False):
        if len(rows) > 1:
            ax.plot(rows[x], rows[y], "-", color="0.75", linewidth=0.8, zorder=0)
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel or x, title=title)
    value_label(ax, ylabel or y)
    if hue:
        ax.legend()
    fig.tight_layout()
    first = frame.drop_duplicates(label)
    name_points(ax, {str(row[label]): (row[x], row[y]) for _, row in first.iterrows()})
    return fig


def series_panels(panels: list[dict], title: str = "", height: float = 3.2):
    """Panels two side by side (``height`` inches a row), each with any number of line / marker series
    and horizontal reference lines, and one legend for them all (a label means the same in every panel).

    A panel is ``{"title", "xlabel", "ylabel", "logx": bool, "percent": bool, "series": {label: series},
    "hlines": {label: y}}``; a series is ``{"x": [...], "y": [...], "style": "-o" (matplotlib format), "color",
    "markersize", "annotate": [one text per point]}``. Series without points are skipped. ``percent``: the values
    are fractions (accuracies), drawn in percent as the tables show them. Annotations are placed clear of the
    markers and of each other (``name_points``).
    """
    fig, axes = figure(len(panels), row_height=height)
    named = []
    for ax, panel in zip(axes, panels):
        scale = 100 if panel.get("percent") else 1
        names = {}
        for label, series in panel.get("series", {}).items():
            if not len(series["x"]):
                continue
            extra = {"color": series["color"]} if "color" in series else {}
            ys = [scale * y for y in series["y"]]
            ax.plot(series["x"], ys, series.get("style", "-o"), label=label,
                    markersize=series.get("markersize", 5), **extra)
            names |= {str(text): (x, y) for x, y, text in zip(series["x"], ys, series.get("annotate", []))}
        for label, y in panel.get("hlines", {}).items():
            ax.axhline(scale * y, color="grey", linestyle=":", linewidth=1.2, label=label)
        if panel.get("logx"):
            ax.set_xscale("log")
        ax.set(title=panel.get("title", ""), xlabel=panel.get("xlabel", ""))
        ylabel = panel.get("ylabel", "")
        value_label(ax, f"{ylabel} (%)" if scale == 100 and ylabel and "%" not in ylabel else ylabel)
        named.append((ax, names))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    shared_legend(fig, axes)
    for ax, names in named:
        if names:
            name_points(ax, names)
    return fig


_CAPS = ("|", "_")  # the markers that end error bars: no point of their own


def _drawn(ax) -> tuple[list[Bbox], list[Path], list]:
    """What is drawn on ``ax``, in display pixels: a box around every marker (of lines, error bar caps and
    scatter points), the paths of lines and error bars, and the points (the markers' centres, caps left out)."""
    pixels_per_point = ax.figure.dpi / 72
    boxes, paths, centres = [], [], []

    def around(xy, radius_points):
        radius = radius_points * pixels_per_point
        boxes.extend(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius) for x, y in xy)

    for line in ax.lines:
        path = line.get_transform().transform_path(line.get_path())
        if line.get_marker() not in (None, "None", "", " "):
            around(path.vertices, line.get_markersize() / 2 + line.get_markeredgewidth())
            centres.extend(path.vertices if line.get_marker() not in _CAPS else [])
        if line.get_linestyle() not in ("None", "", " ") and len(path.vertices) > 1:
            paths.append(path)
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            paths.extend(collection.get_transform().transform_path(p) for p in collection.get_paths())
        elif isinstance(collection, PathCollection):
            xy = collection.get_offset_transform().transform(collection.get_offsets())
            for centre, area in zip(xy, np.resize(collection.get_sizes(), len(xy))):
                around([centre], np.sqrt(area) / 2 + collection.get_linewidths()[0])
            centres.extend(xy)
    return boxes, paths, centres


# Where a name may go around its point, in the order tried: (sx, sy) the direction from the point (right,
# left, the four diagonals, then above and below, centred and slid sideways), (fx, fy) the fraction of the
# name's width and height left or below of the offset point (0: the name starts there, 1: it ends there);
# first beside the point, then further out with a leader line. Distances in points.
_SPOTS = [(1, 0, 0, .5), (-1, 0, 1, .5), (1, 1, 0, 0), (1, -1, 0, 1), (-1, 1, 1, 0), (-1, -1, 1, 1)] + [
    (0, sy, fx, (1 - sy) / 2) for fx in (.5, .25, .75, 0, 1) for sy in (1, -1)]
_BESIDE, _OUT = (6, 10), (18, 28, 42, 60)
_CLEARANCE = 1.5  # points of free space around a name: a name touching a line reads as crossed by it
_OUTSIDE = 1000  # what a name past the plot's edge costs, against 1 for each thing it covers
# beside its point, a name is at least this many times nearer it than any other point: a name about as near another
# point reads as that point's (chapter 6's ResNet-Mini, left of and below its point, sat under Custom CNN's)
_NEARER = 1.5


def _gap(box: Bbox, xy) -> float:
    """Pixels from the point ``xy`` to the nearest edge of ``box`` (0 inside it)."""
    return float(np.hypot(max(box.x0 - xy[0], 0, xy[0] - box.x1), max(box.y0 - xy[1], 0, xy[1] - box.y1)))


def _leader(anchor, box: Bbox) -> Path:
    """The line from a point towards the centre of its name's box, as ``annotate`` draws it (up to the box)."""
    return Path([anchor, ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)])


def _inside(box: Bbox, frame: Bbox) -> bool:
    return frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def _place(anchor, size, drawn: tuple[list[Bbox], list[Path], list], names: list[Bbox], frame: Bbox,
           pixels_per_point: float):
    """The first spot (its box, and whether it needs a leader line) around ``anchor`` where a name of
    ``size`` pixels covers nothing ``drawn`` (``_drawn``) and no other name, inside ``frame``, and, beside the
    point, is clearly nearer it than any other point drawn (``_NEARER``); where none is, the spot that covers
    least."""
    boxes, paths, centres = drawn
    others = [xy for xy in centres if np.hypot(*(np.asarray(xy) - anchor)) > 0.5]
    at_point = Bbox.from_bounds(*anchor, 0, 0).padded(1)
    foreign = [path for path in paths if not path.intersects_bbox(at_point, filled=False)]  # not its error bars
    best, fewest = None, math.inf
    for distance, leader in [(d, False) for d in _BESIDE] + [(d, True) for d in _OUT]:
        for sx, sy, fx, fy in _SPOTS:
            box = Bbox.from_bounds(anchor[0] + sx * distance * pixels_per_point - fx * size[0],
                                   anchor[1] + sy * distance * pixels_per_point - fy * size[1], *size)
            clear = box.padded(_CLEARANCE * pixels_per_point)
            cost = sum(clear.overlaps(other) for other in boxes + names)
            cost += sum(path.intersects_bbox(clear, filled=False) for path in paths)
            cost += 0 if _inside(box, frame) else _OUTSIDE
            if leader:  # its line to the point crosses no other name, marker or line
                line = _leader(anchor, box)
                cost += sum(line.intersects_bbox(other, filled=False) for other in names)
                cost += sum(line.intersects_bbox(other, filled=False) for other in boxes if _gap(other, anchor) > 0)
                cost += sum(line.intersects_path(path, filled=False) for path in foreign)
            else:
                cost += any(_gap(box, xy) <= _NEARER * _gap(box, anchor) for xy in others)
            if cost < fewest:
                best, fewest = (box, leader), cost
            if not cost:
                return best
    return best


def name_points(ax, points: dict[str, tuple[float, float]]):
    """Each point's name by its point (label -> (x, y)), in the plot's free space: clear of every marker, line
    and error bar drawn on ``ax``, of the other names and of the plot's edges. A name goes beside its point
    where it is clearly nearer that point than any other point drawn, named or not (``_NEARER`` times); where no
    such place is free, further out with a thin leader line to its point. Call it last, once the plot is drawn
    and laid out (after ``tight_layout``): it places the names by where everything is on the figure."""
    ax.get_xlim(), ax.get_ylim()  # settles the view limits before anything is measured
    boxes, paths, centres = _drawn(ax)
    frame = ax.get_window_extent().padded(-2)
    pixels_per_point = ax.figure.dpi / 72
    names: list[Bbox] = []
    for name in sorted(points, key=lambda n: tuple(points[n])):
        anchor = ax.transData.transform(points[name])
        text = ax.text(*points[name], name, fontsize=MIN_FONT_PT)  # measured, then drawn where it fits
        extent = text.get_window_extent()
        text.remove()
        box, leader = _place(anchor, (extent.width, extent.height), (boxes, paths, centres), names, frame,
                             pixels_per_point)
        ax.annotate(name, points[name], xytext=(box.p0 - anchor) / pixels_per_point, textcoords="offset points",
                    ha="left", va="bottom", fontsize=MIN_FONT_PT,
                    arrowprops={"arrowstyle": "-", "color": "0.35", "linewidth": 0.6, "shrinkA": 0, "shrinkB": 3}
                    if leader else None)
        names.append(box)
        if leader:
            paths.append(_leader(anchor, box))


def error_points(ax, points: dict[str, tuple], color=None, label: str | None = None):
    """One marker per entry of ``points`` (label -> (x, x spread, y, y spread)) with its spreads as error bars.
    Name them with ``name_points`` once the plot is laid out."""
    for x, xerr, y, yerr in points.values():
        ax.errorbar([x], [y], xerr=[xerr] if xerr else None, yerr=[yerr] if yerr else None, fmt="o", color=color,
                    capsize=3, markersize=5, label=label)


def pareto_panels(panels: list[dict], groups: dict[str, str] | None = None, title: str = "", height: float = 3.0):
    """A higher-is-better value (accuracy) against one cost per panel, the panels stacked across the column.

    A panel is ``{"xlabel", "ylabel", "logx": bool, "points": {label: (x, x spread, y, y spread)}, "front":
    [labels] or None}``: a marker per configuration with its spreads as error bars, coloured by its entry in
    ``groups`` (label -> group name, one legend entry per group). The panel's ``front`` (its undominated
    configurations) is ringed, joined in cost order and named; without a front every point is named. A value
    axis that does not start at 0 says so in its label (``value_label``); the groups' legend is one, under the
    figure."""
    fig, axes = figure(len(panels), columns=1, row_height=height)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    groups = groups or {}
    names = list(dict.fromkeys(groups.values()))
    for ax, panel in zip(axes, panels):
        points, front = panel["points"], panel.get("front")
        for k, name in enumerate(names + [None]):
            members = {label: point for label, point in points.items() if groups.get(label) == name}
            if members:
                error_points(ax, members, color=colors[k % len(colors)], label=name)
        if front:
            ordered = sorted((points[label][0], points[label][2]) for label in front)
            ax.plot([x for x, _ in ordered], [y for _, y in ordered], "--", color="black", linewidth=1, zorder=1)
            ax.scatter([x for x, _ in ordered], [y for _, y in ordered], s=110, facecolors="none", edgecolors="black",
                       linewidths=1.2, zorder=3, label="undominated")
        if panel.get("logx"):
            ax.set_xscale("log")
        ax.set_xlabel(panel.get("xlabel", ""))
        value_label(ax, panel.get("ylabel", ""))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    for ax, panel in zip(axes, panels):
        name_points(ax, {label: (panel["points"][label][0], panel["points"][label][2])
                         for label in (panel.get("front") or panel["points"])})
    shared_legend(fig, axes, inside=0)  # under the figure, the same for every panel
    return fig


def interaction_plot(frame, x: str, trace: str, mean: str = "mean", low: str | None = "low",
                     high: str | None = "high", xlabel: str = "", ylabel: str = "", title: str = "", ax=None):
    """Factorial means: one line per ``trace`` level across the ``x`` levels, with interval bars
    (``low``/``high`` columns). Parallel lines mean the factors add up; lines that converge or
    diverge show an interaction."""
    own = ax is None
    if own:
        fig, (ax,) = figure(1, row_height=3.4)
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
    ax.set(xlabel=xlabel or x, title=title)
    value_label(ax, ylabel or mean)
    ax.legend(title=trace)
    if own:
        fig.tight_layout()
    return fig


def strip_box(frame, group: str, value: str, hue: str | None = None, reference: dict | None = None,
              ylabel: str = "", title: str = "", ax=None, seed: int = 0, unlike=()):
    """Every run as a dot over a box per ``group`` (and ``hue``), so the seed-to-seed spread is visible;
    ``reference`` (group -> value) draws another source's number, e.g. the study's, as a red cross, or as a hollow
    red circle for the groups in ``unlike`` (the source measured another configuration than ours)."""
    own = ax is None
    groups = list(dict.fromkeys(frame[group]))
    hues = list(dict.fromkeys(frame[hue])) if hue else [None]
    if own:
        fig, (ax,) = figure(1, row_height=3.4)
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
        for same, style in ((True, {"marker": "x", "color": "red", "label": "study"}),
                            (False, {"marker": "o", "facecolors": "none", "edgecolors": "red",
                                     "label": "study, another network"})):
            shown = [g for g in reference if g in groups and (g not in unlike) == same]
            if shown:
                ax.scatter([groups.index(g) for g in shown], [reference[g] for g in shown], s=60, zorder=4, **style)
    ax.set_xticks(range(len(groups)), wrapped(groups))
    ax.set(title=title)
    value_label(ax, ylabel or value)
    if hue or reference:
        ax.legend()
    if own:
        fig.tight_layout()
    return fig


def run_curves(panels: dict[str, dict[str, list[list[dict]]]], key: str = "val_loss", ylabel: str = "",
               title: str = "", sharey: bool = True):
    """One panel per entry of ``panels`` (title -> {label -> histories}), two side by side; every run a
    thin line of ``key`` per epoch, the mean over the runs still going at that epoch a thick one. Runs
    of unequal length (early stopping) are drawn in full."""
    fig, axes = figure(len(panels), row_height=3.0, sharey=sharey)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (panel, groups) in zip(axes, panels.items()):
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
        epoch_axis(ax, panel)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    for ax in axes:  # once every panel is drawn: a shared axis has its final range only then
        value_label(ax, ylabel or key)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def step_and_epoch_loss(steps, step_losses, epoch_end_steps, epoch_losses: dict[str, list[float]], title: str = ""):
    """Left: the training loss of single learning steps (thin) with the epoch means at the epochs' last
    steps; right: the same run's losses per epoch (``epoch_losses``: label -> one value per epoch)."""
    fig, (ax_step, ax_epoch) = figure(2, row_height=3.2)
    ax_step.plot(steps, step_losses, linewidth=0.6, alpha=0.8, label="single step")
    first = next(iter(epoch_losses.values()), [])
    ax_step.plot(epoch_end_steps[: len(first)], first, "-o", markersize=4, label=f"{next(iter(epoch_losses), '')} (epoch mean)")
    ax_step.set(xlabel="learning step", title="Loss per learning step")
    ax_step.xaxis.set_major_formatter(EngFormatter(sep=""))  # "20k": tens of thousands of steps
    value_label(ax_step, "loss")
    ax_step.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)  # steps fill the plot
    for label, values in epoch_losses.items():
        ax_epoch.plot(np.arange(1, len(values) + 1), values, "-o", markersize=4, label=label)
    epoch_axis(ax_epoch, "Loss per epoch")
    value_label(ax_epoch, "loss")
    ax_epoch.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


VERDICT_LABEL_CHARS = 56  # a claim's row label: one line, leaving the plot half the column
VERDICT_COLORS = {"reproduced": "#1b9e77", "not reproduced": "#d95f02", "inconclusive": "#7570b3",
                  "not comparable": "#999999", "missing run": "#cccccc", "not tested": "#cccccc"}


def verdict_overview(chapters: list[dict], clip: float = 6.0):
    """Every numeric claim of the book: (ours - study) in units of its tolerance, coloured by verdict.

    ``chapters`` are the saved claim tables (``claims.load_claims``). Inside the shaded band |x| <= 1 our
    estimate agrees with the study within the tolerance; points beyond ``clip`` tolerances are drawn at the
    edge as arrows, with their value written beside them. Only rows of this book's estimates are drawn: a row
    without a difference and a tolerance (an ordering, a description, a missing run) has no point, and a row
    that checks a study against itself (``against_itself``) is left out, its "ours" being the study's own
    number. One panel per chapter with a row drawn, stacked."""
    panels = [(c, [r for r in c["claims"] if r.get("difference") is not None and r.get("tolerance")
                   and not r.get("against_itself")]) for c in chapters]
    panels = [(c, rows) for c, rows in panels if rows]
    heights = [max(1.2, 0.2 * len(rows) + 0.6) for _, rows in panels] or [1.0]
    heights = [h + 0.6 / len(heights) for h in heights]  # and room for the legend above and the axis label below
    fig, axes = figure(len(heights), columns=1, row_height=heights)
    for ax, (chapter, rows) in zip(axes, panels):
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
                            textcoords="offset points", ha="right" if ratio > 0 else "left", va="center")
        ax.set_yticks(y, [shortened(r["claim"], VERDICT_LABEL_CHARS) for r in rows])
        ax.set_xlim(-clip - 0.5, clip + 0.5)
        ax.set_title(chapter["title"], fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0)
    axes[-1].set_xlabel("(this book - study) / tolerance\n(shaded: within the tolerance)")
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=color, label=verdict)
               for verdict, color in VERDICT_COLORS.items() if verdict in ("reproduced", "not reproduced",
                                                                            "inconclusive", "not comparable")]
    fig.legend(handles=handles, loc="upper center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / sum(heights)))
    for ax, (chapter, _) in zip(axes, panels):  # from the figure's left edge, over the labels: a title as wide
        box = ax.get_position()                  # as the plot would run off the figure
        ax.set_title(chapter["title"], fontsize=10, loc="left", x=(0.01 - box.x0) / box.width)
    return fig
