"""Chapter 4 models: exact parameter counts of the study, output shape, registration."""
import pytest
import torch

from fmnist_utils.models import build_model, count_parameters, model_names

EXPECTED_PARAMETERS = {
    "lenet5": 61_706,
    "resnet_mini": 11_402,
    "densenet_tiny": 11_666,
    "mobilenet_lite": 14_218,
    "vit_tiny": 105_546,
    "custom_cnn": 6_330,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_registered(name):
    assert name in model_names()


@pytest.mark.parametrize("name, expected", sorted(EXPECTED_PARAMETERS.items()))
def test_parameter_count(name, expected):
    assert count_parameters(build_model(name)) == expected


def test_resnet_mini_base16_parameter_count():
    # The study's text says 16 base channels; its code trained with 4.
    assert count_parameters(build_model("resnet_mini", base=16)) == 175_370


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_output_shape(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_num_classes_is_forwarded():
    model = build_model("vit_tiny", num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 28, 28)).shape == (2, 3)
