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


# ----- readings of what the study leaves open: initialisation and dropout rates --------------------------------------

def built(seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("cnn3_128", **kwargs)


def test_cnn3_128_default_is_pytorch_init_and_unchanged_by_the_new_options():
    # the stored runs were trained with the default: the same seed must still give the same weights
    default, torch_init = built().state_dict(), built(init="torch").state_dict()
    assert all(torch.equal(default[k], torch_init[k]) for k in default)
    assert [m.p for m in built().modules() if isinstance(m, torch.nn.Dropout)] == [0.25, 0.25, 0.25, 0.5]
    assert repr(built()) == repr(built(init="keras"))  # the store key tells them apart by model_args


def test_cnn3_128_keras_init_is_glorot_uniform_with_zero_biases():
    model = built(init="keras")
    assert count_parameters(model) == 2_067_850
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 5
    for layer in layers:
        fan_in = layer.weight[0].numel()
        fan_out = layer.weight.shape[0] * layer.weight[0, 0].numel()
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert torch.count_nonzero(layer.bias) == 0
        assert layer.weight.abs().max() <= bound
        assert layer.weight.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.15)  # uniform(-b, b): sd b/sqrt(3)
    # PyTorch's default draws biases and scales the first convolution's weights by its fan-in only
    default = built()
    assert torch.count_nonzero(default.features[0].bias) > 0
    assert default.features[0].weight.abs().max() > layers[0].weight.abs().max()


def test_cnn3_128_dropout_rates_are_configurable():
    model = built(conv_dropout=0.2, dense_dropout=0.2)
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.2, 0.2, 0.2, 0.2]


def test_cnn3_128_rejects_an_unknown_init():
    with pytest.raises(ValueError, match="init must be one of 'torch', 'keras'"):
        build_model("cnn3_128", init="glorot")
