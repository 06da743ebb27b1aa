import numpy as np
import pytest

from fmnist_utils.data import CLASSES
from fmnist_utils.explore import ANY, activation_explorer, misclassified_explorer, scatter_explorer

PNG_SIGNATURE = b"\x89PNG"


@pytest.fixture
def labelled_images():
    rng = np.random.default_rng(0)
    images = rng.random((60, 28, 28), dtype=np.float32)
    targets = np.repeat(np.arange(10), 6)
    good = targets.copy()
    poor = targets.copy()
    poor[targets == CLASSES.index("Shirt")] = CLASSES.index("T-shirt/top")  # all six shirts wrong
    return images, targets, {"good": good, "poor": poor}


def controls(explorer):
    menus, caption, picture = explorer.children
    return menus.children, caption, picture


def test_misclassified_explorer_counts_and_redraws_the_selected_mistakes(labelled_images):
    images, targets, predictions = labelled_images
    (model, true, predicted), caption, picture = controls(misclassified_explorer(images, targets, predictions))
    assert bytes(picture.value).startswith(PNG_SIGNATURE)
    assert "good: <b>0</b> of 6" in caption.value
    model.value = "poor"
    assert "poor: <b>6</b> of 6 test images of <b>Shirt</b> predicted as <b>any class</b>" in caption.value
    before = bytes(picture.value)
    predicted.value = "T-shirt/top"
    assert "<b>6</b> of 6" in caption.value
    predicted.value = "Coat"
    assert "<b>0</b> of 6" in caption.value and bytes(picture.value) != before
    true.value, predicted.value = "Trouser", ANY
    assert "<b>0</b> of 6 test images of <b>Trouser</b>" in caption.value


def test_misclassified_explorer_limits_the_grid_and_says_so(labelled_images):
    images, targets, predictions = labelled_images
    (model, _, _), caption, _ = controls(misclassified_explorer(images, targets, predictions, limit=4))
    model.value = "poor"
    assert "(first 4 shown)" in caption.value


def test_misclassified_explorer_rejects_mismatched_lengths(labelled_images):
    images, targets, predictions = labelled_images
    with pytest.raises(ValueError, match="'short' differ in length: 60, 60, 5"):
        misclassified_explorer(images, targets, {"short": predictions["good"][:5]})
    with pytest.raises(ValueError, match="no predictions"):
        misclassified_explorer(images, targets, {})


def test_activation_explorer_follows_layer_and_channel():
    maps = {"conv1": np.random.default_rng(1).random((4, 26, 26)), "conv2": np.zeros((16, 24, 24))}
    explorer = activation_explorer(maps, np.zeros((28, 28)))
    (layer, channel), picture = explorer.children[0].children, explorer.children[1]
    assert channel.max == 3 and bytes(picture.value).startswith(PNG_SIGNATURE)
    first = bytes(picture.value)
    channel.value = 2
    assert bytes(picture.value) != first
    layer.value = "conv2"
    assert channel.max == 15
    channel.value = 15
    assert channel.value == 15
    with pytest.raises(ValueError, match="no activation maps"):
        activation_explorer({}, np.zeros((28, 28)))


NETWORKS = {"LeNet-5": {"parameters": (61_706, 0.0), "test accuracy (%)": (89.1, 0.2), "seconds": (300.0, 20.0)},
            "ResNet-Mini": {"parameters": (11_402, 0.0), "test accuracy (%)": (91.1, 0.1), "seconds": None},
            "ViT-Tiny": {"parameters": (105_546, 0.0), "test accuracy (%)": None, "seconds": None}}


def test_scatter_explorer_plots_the_chosen_axes_and_networks():
    explorer = scatter_explorer(NETWORKS, log_axes=["parameters"], x="parameters", y="test accuracy (%)")
    (x_menu, y_menu), picker, caption, picture = explorer.children[0].children, *explorer.children[1:]
    assert bytes(picture.value).startswith(PNG_SIGNATURE)
    assert caption.value == "<b>2</b> of 3 chosen shown; no value yet for ViT-Tiny"
    first = bytes(picture.value)
    y_menu.value = "seconds"
    assert caption.value == "<b>1</b> of 3 chosen shown; no value yet for ResNet-Mini, ViT-Tiny"
    assert bytes(picture.value) != first
    picker.value = ("ViT-Tiny",)
    assert caption.value == "<b>0</b> of 1 chosen shown; no value yet for ViT-Tiny"
    x_menu.value, picker.value = "test accuracy (%)", ("LeNet-5", "ResNet-Mini")
    assert caption.value == "<b>1</b> of 2 chosen shown; no value yet for ResNet-Mini"


def test_scatter_explorer_names_a_log_axis_and_refuses_bad_axes(monkeypatch):
    import fmnist_utils.explore as explore

    drawn = []
    monkeypatch.setattr(explore, "figure_png", lambda fig: drawn.append(fig) or b"")
    scatter_explorer(NETWORKS, log_axes=["parameters"], x="parameters", y="test accuracy (%)")
    (ax,) = drawn[-1].axes
    assert (ax.get_xscale(), ax.get_xlabel(), ax.get_yscale()) == ("log", "parameters (log scale)", "linear")
    assert {t.get_text() for t in ax.texts} == {"LeNet-5", "ResNet-Mini"}
    with pytest.raises(ValueError, match="axes \\['epochs'\\] are not among the quantities"):
        scatter_explorer(NETWORKS, log_axes=["epochs"])
    with pytest.raises(ValueError, match="'odd' has the axes \\['parameters'\\]"):
        scatter_explorer({**NETWORKS, "odd": {"parameters": (1.0, 0.0)}})
    with pytest.raises(ValueError, match="no configurations to explore"):
        scatter_explorer({})

