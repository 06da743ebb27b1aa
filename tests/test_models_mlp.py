"""Chapter 3 model: the flexible MLP."""
import pytest
import torch

from fmnist_utils.models import build_model, count_parameters, model_names

torch.set_num_threads(1)


def test_registered():
    assert "mlp" in model_names()


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"hidden_layers": 0}, 7_850),  # 784 * 10 + 10: a linear model
        ({}, 101_770),  # defaults: one hidden layer of 128
        ({"hidden_layers": 1, "width": 128}, 101_770),  # 784*128+128 + 128*10+10
        ({"hidden_layers": 1, "width": 128, "batch_norm": True}, 102_026),  # + 2 * 128 BN
        ({"hidden_layers": 1, "width": 128, "dropout": 0.5}, 101_770),  # dropout adds nothing
        # 784*4192+4192 + 4192*4192+4192 + 4192*10+10
        ({"hidden_layers": 2, "width": 4192}, 20_909_706),
    ],
)
def test_counts(kwargs, expected):
    assert count_parameters(build_model("mlp", **kwargs)) == expected


@pytest.mark.parametrize("kwargs", [{"hidden_layers": 0}, {"hidden_layers": 3, "width": 16, "dropout": 0.2, "batch_norm": True}])
def test_output_shape(kwargs):
    model = build_model("mlp", **kwargs).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 28, 28))
    assert out.shape == (2, 10)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"hidden_layers": -1}, "hidden_layers"),
        ({"hidden_layers": 9}, "hidden_layers"),
        ({"width": 0}, "width"),
        ({"width": -5}, "width"),
        ({"hidden_layers": 0, "width": 0}, "width"),
    ],
)
def test_bad_args_raise(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        build_model("mlp", **kwargs)


def test_range_in_message():
    with pytest.raises(ValueError, match=r"0\.\.8"):
        build_model("mlp", hidden_layers=9)
    with pytest.raises(ValueError, match=">= 1"):
        build_model("mlp", width=0)
