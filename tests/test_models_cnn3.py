"""Chapter 2 models: CNN-3-128, its depthwise-separable variant, the CNN-x-y family."""
import pytest
import torch

from fmnist_utils.models import build_model, count_parameters, model_names

torch.set_num_threads(1)


def keras_total(model: torch.nn.Module) -> int:
    """Parameters as Keras's ``summary()`` totals them: BN moving mean and variance included."""
    stats = sum(
        buffer.numel() for name, buffer in model.named_buffers() if name.endswith(("running_mean", "running_var"))
    )
    return count_parameters(model) + stats


def test_registered():
    assert {"cnn3_128", "cnn3_128_ds", "cnn_xy"} <= set(model_names())


def test_cnn3_128_count():
    assert count_parameters(build_model("cnn3_128")) == 2_067_850


def test_cnn_xy_3_128_is_cnn3_128():
    reference = build_model("cnn3_128")
    family = build_model("cnn_xy", layers=3, filters=128)
    assert count_parameters(family) == 2_067_850
    assert [p.shape for p in family.parameters()] == [p.shape for p in reference.parameters()]
    assert [type(m) for m in family.modules()][1:] == [type(m) for m in reference.modules()][1:]


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, 174_858),
        ({"first_block": "standard"}, 174_858),
        ({"first_block": "separable"}, 173_844),
        ({"first_block": "separable", "batch_norm": True}, 176_406),
    ],
)
def test_cnn3_128_ds_counts(kwargs, expected):
    assert count_parameters(build_model("cnn3_128_ds", **kwargs)) == expected


def test_cnn3_128_ds_study_count_is_keras_total_of_separable_bn():
    # The study's 178,968: all blocks separable, BN after every conv, BN moving stats counted.
    assert keras_total(build_model("cnn3_128_ds", first_block="separable", batch_norm=True)) == 178_968


def test_cnn3_128_ds_rejects_unknown_first_block():
    with pytest.raises(ValueError, match="first_block"):
        build_model("cnn3_128_ds", first_block="depthwise")


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("cnn3_128", {}),
        ("cnn3_128_ds", {}),
        ("cnn3_128_ds", {"first_block": "separable", "batch_norm": True}),
        ("cnn_xy", {"layers": 1, "filters": 8}),
        ("cnn_xy", {"layers": 2, "filters": 8}),
        ("cnn_xy", {"layers": 4, "filters": 8}),
    ],
)
def test_output_shape(name, kwargs):
    model = build_model(name, **kwargs).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 28, 28))
    assert out.shape == (2, 10)


def test_cnn_xy_family_spans_two_orders_of_magnitude():
    smallest = count_parameters(build_model("cnn_xy", layers=4, filters=8))
    largest = count_parameters(build_model("cnn_xy", layers=4, filters=128))
    assert (smallest, largest) == (33_994, 6_328_714)
    assert largest >= 100 * smallest


@pytest.mark.parametrize("kwargs", [{"layers": 0, "filters": 8}, {"layers": 5, "filters": 8}, {"layers": 2, "filters": 0}])
def test_cnn_xy_rejects_bad_args(kwargs):
    with pytest.raises(ValueError):
        build_model("cnn_xy", **kwargs)
