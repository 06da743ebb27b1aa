"""Tests for fmnist_utils.augment (batched per-sample augmentation)."""
import math

import pytest
import torch
import torch.nn.functional as F

from fmnist_utils.augment import AugmentSpec, _affine_theta, _apply_affine, augment_batch

torch.set_num_threads(1)

FULL = AugmentSpec(crop_padding=3, hflip=0.5, rotation=10.0, shift=0.1, zoom=0.1, fill=-0.4)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(n: int, seed: int = 123, c: int = 1) -> torch.Tensor:
    # continuous random values: no two windows / flips of an image coincide
    return torch.rand(n, c, 28, 28, generator=gen(seed))


def fixed_affine(x, angle=0.0, shift_x=0.0, shift_y=0.0, zoom_x=1.0, zoom_y=1.0, fill=0.0):
    n, _, h, w = x.shape
    full = lambda v: torch.full((n,), float(v), dtype=torch.float64)  # noqa: E731
    theta = _affine_theta(full(angle), full(shift_x), full(shift_y), full(zoom_x), full(zoom_y), h, w)
    return _apply_affine(x, theta, fill)


# ------------------------------------------------------------------ identity / bookkeeping


def test_identity_returns_input():
    x = batch(8)
    for spec in (AugmentSpec(), AugmentSpec(fill=-0.42), AugmentSpec.from_dict(None), AugmentSpec.from_dict({})):
        assert spec.is_identity()
        assert augment_batch(x, spec, gen()) is x
    assert not AugmentSpec(hflip=0.1).is_identity()
    assert not AugmentSpec(zoom=0.1).is_identity()


def test_shape_dtype_and_input_untouched():
    for dtype in (torch.float32, torch.float64):
        x = batch(16).to(dtype)
        x0 = x.clone()
        out = augment_batch(x, FULL, gen())
        assert out.shape == x.shape and out.dtype == dtype
        assert torch.equal(x, x0)


def test_only_the_given_generator_is_used():
    state = torch.get_rng_state()
    augment_batch(batch(8), FULL, gen())
    assert torch.equal(state, torch.get_rng_state())


def test_determinism():
    x = batch(64)
    a = augment_batch(x, FULL, gen(7))
    b = augment_batch(x, FULL, gen(7))
    c = augment_batch(x, FULL, gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


# ------------------------------------------------------------------ crop


@pytest.mark.parametrize("fill", [0.0, -0.8])
def test_crop_windows_of_padded_input(fill):
    p = 4
    x = batch(64)
    out = augment_batch(x, AugmentSpec(crop_padding=p, fill=fill), gen(1))
    padded = F.pad(x, (p, p, p, p), value=fill)
    offsets = []
    for i in range(12):
        hits = [
            (dy, dx)
            for dy in range(2 * p + 1)
            for dx in range(2 * p + 1)
            if torch.equal(out[i], padded[i, :, dy : dy + 28, dx : dx + 28])
        ]
        assert len(hits) == 1, f"image {i}: {hits}"
        offsets.append(hits[0])
    assert len(set(offsets)) >= 4  # offsets vary across the batch


# ------------------------------------------------------------------ flip


def test_hflip_extremes():
    x = batch(32)
    assert torch.equal(augment_batch(x, AugmentSpec(hflip=1.0), gen()), x.flip(-1))
    assert torch.equal(augment_batch(x, AugmentSpec(hflip=0.0), gen()), x)


def test_hflip_half():
    n = 2000
    x = batch(n)
    out = augment_batch(x, AugmentSpec(hflip=0.5), gen(3))
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    assert torch.all(flipped ^ same)  # every image is either flipped or untouched
    k = int(flipped.sum())
    sd = math.sqrt(n * 0.25)
    assert abs(k - n / 2) < 5 * sd, k


# ------------------------------------------------------------------ affine


@pytest.mark.parametrize("angle,k", [(90.0, 1), (-90.0, -1), (180.0, 2)])
def test_rotation_matches_rot90(angle, k):
    x = torch.zeros(4, 1, 28, 28)
    x[:, :, 6:22, 9:20] = torch.rand(4, 1, 16, 11, generator=gen(5))  # asymmetric, away from borders
    out = fixed_affine(x, angle=angle)
    ref = torch.rot90(x, k, dims=(-2, -1))
    torch.testing.assert_close(out[..., 3:25, 3:25], ref[..., 3:25, 3:25], atol=1e-5, rtol=0)


def test_shift_moves_content_and_fills():
    x = batch(4)
    fill = -0.7
    out = fixed_affine(x, shift_x=3 / 28, shift_y=-2 / 28, fill=fill)  # 3 px right, 2 px up
    assert out.shape == x.shape
    torch.testing.assert_close(out[..., :-2, 3:], x[..., 2:, :-3], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[..., :, :3], torch.full_like(out[..., :, :3], fill), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[..., -2:, :], torch.full_like(out[..., -2:, :], fill), atol=1e-5, rtol=0)


def test_zoom_out_fills_outside():
    x = torch.ones(2, 1, 28, 28)
    fill = -0.5
    out = fixed_affine(x, zoom_x=2.0, zoom_y=2.0, fill=fill)  # content shrinks to 14x14 in the centre
    assert out.shape == x.shape
    torch.testing.assert_close(out[..., 8:20, 8:20], torch.ones(2, 1, 12, 12), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[..., :6, :], torch.full((2, 1, 6, 28), fill), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[..., :, -6:], torch.full((2, 1, 28, 6), fill), atol=1e-5, rtol=0)


def test_random_shift_zoom_keep_shape_and_fill():
    n, fill = 256, -1.0
    x = torch.ones(n, 1, 28, 28)
    for spec in (AugmentSpec(shift=0.2, fill=fill), AugmentSpec(zoom=0.3, fill=fill)):
        out = augment_batch(x, spec, gen(11))
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= fill - 1e-6 and out.max() <= 1 + 1e-6  # bilinear mix of 1 and fill
        # many images show a border of fill pixels, the centre always keeps content
        border_filled = (out - fill).abs().flatten(1).min(1).values < 1e-6
        assert border_filled.sum() > n // 4
        torch.testing.assert_close(out[..., 12:16, 12:16], torch.ones(n, 1, 4, 4), atol=1e-5, rtol=0)


def test_small_affine_stays_close():
    # chapter-2 sized parameters move pixels by < 2 px: output stays near the input's smooth version
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    out = augment_batch(x, AugmentSpec(rotation=0.75, shift=0.0, zoom=0.085), gen(2))
    assert torch.all(out[..., 12:16, 12:16] > 0.99)
    assert torch.all(out[..., :6, :].abs() < 1e-6)


# ------------------------------------------------------------------ memory format


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize(
    "spec",
    [FULL, AugmentSpec(crop_padding=2), AugmentSpec(hflip=0.5), AugmentSpec(rotation=5.0), AugmentSpec(fill=0.3)],
)
def test_channels_last_preserved(spec, c):
    x = batch(8, c=c)
    xcl = x.contiguous(memory_format=torch.channels_last)
    out_cl = augment_batch(xcl, spec, gen(4))
    out = augment_batch(x, spec, gen(4))
    assert out_cl.stride() == xcl.stride()
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    assert out.stride() == x.stride()
    torch.testing.assert_close(out_cl, out, atol=1e-6, rtol=0)


def test_single_channel_channels_last_strides_preserved():
    # for C == 1, .contiguous(channels_last) may keep NCHW strides; build the NHWC strides explicitly
    x = batch(8)
    xcl = torch.empty_strided(x.shape, (28 * 28, 1, 28, 1)).copy_(x)
    for spec in (FULL, AugmentSpec(crop_padding=2), AugmentSpec(hflip=0.5), AugmentSpec(zoom=0.1)):
        out_cl = augment_batch(xcl, spec, gen(4))
        assert out_cl.stride() == xcl.stride()
        torch.testing.assert_close(out_cl, augment_batch(x, spec, gen(4)), atol=1e-6, rtol=0)


# ------------------------------------------------------------------ spec dict round trip / validation


def test_to_dict_from_dict_round_trip():
    assert AugmentSpec().to_dict() == {}
    spec = AugmentSpec.from_dict({"crop_padding": 4.0, "hflip": 0.5})
    assert spec.to_dict() == {"crop_padding": 4, "hflip": 0.5}
    assert isinstance(spec.to_dict()["crop_padding"], int)
    assert AugmentSpec.from_dict(FULL.to_dict()) == FULL
    assert AugmentSpec(rotation=1) == AugmentSpec(rotation=1.0)
    assert hash(AugmentSpec(rotation=1)) == hash(AugmentSpec(rotation=1.0))


def test_from_dict_unknown_key_lists_allowed():
    with pytest.raises(ValueError) as e:
        AugmentSpec.from_dict({"rotate": 5})
    msg = str(e.value)
    assert "rotate" in msg
    for name in ("crop_padding", "hflip", "rotation", "shift", "zoom", "fill"):
        assert name in msg


@pytest.mark.parametrize(
    "d,field",
    [
        ({"crop_padding": -1}, "crop_padding"),
        ({"crop_padding": 2.5}, "crop_padding"),
        ({"hflip": 1.5}, "hflip"),
        ({"hflip": -0.1}, "hflip"),
        ({"rotation": -3}, "rotation"),
        ({"shift": -0.1}, "shift"),
        ({"shift": 1.5}, "shift"),
        ({"zoom": -0.1}, "zoom"),
        ({"zoom": 1.0}, "zoom"),
        ({"fill": float("nan")}, "fill"),
        ({"rotation": "10"}, "rotation"),
        ({"hflip": True}, "hflip"),
    ],
)
def test_from_dict_invalid_value_names_field(d, field):
    with pytest.raises(ValueError, match=field):
        AugmentSpec.from_dict(d)


def test_bad_input():
    with pytest.raises(ValueError):
        augment_batch(torch.zeros(1, 28, 28), FULL, gen())
    with pytest.raises(TypeError):
        augment_batch(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), FULL, gen())
