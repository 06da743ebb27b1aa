"""Batched, per-sample-random image augmentation on tensors.

``augment_batch(x, spec, generator)`` takes a float batch ``(N, C, H, W)`` (for
Fashion-MNIST ``(N, 1, 28, 28)``, normalised or in ``[0, 1]``) and returns a
tensor of the same shape, dtype, device and memory format in which every image
got its *own* random crop / flip / rotation / shift / zoom.  All randomness is
drawn from the ``torch.Generator`` passed in, so a fixed seed reproduces the
output bit for bit (on the same device / build).  There is no Python loop over
images: the whole batch is handled by a few tensor operations.

Why hand-written instead of ``torchvision.transforms.v2``?  A v2 transform
(``RandomCrop``, ``RandomHorizontalFlip``, ``RandomAffine`` ...) draws ONE set
of random parameters per call and applies it to everything it is given, so
calling it on a batch gives every image the same crop / flip / angle.  Getting
per-sample randomness out of torchvision means one call per image in a Python
loop (what a ``Dataset.__getitem__`` with PIL transforms does), and that
per-image interpreter and dispatch overhead is exactly what this module
removes.  (v2 transforms also use the global RNG rather than an explicit
generator.)  ``benchmark_augment`` measures the difference.

Operations, applied in this order, each only when enabled in the spec:

1. ``crop_padding = p > 0`` -- ``RandomCrop(H, padding=p)``: pad once with
   ``fill`` (``F.pad``), then pick one ``H x W`` window per image at a random
   offset ``(dy, dx)`` in ``[0, 2p]^2`` (advanced indexing into the ``unfold``
   view of all windows).
2. ``hflip = q > 0`` -- each image is flipped left-right with probability ``q``
   (``torch.where`` with a per-sample mask).
3. ``rotation`` / ``shift`` / ``zoom`` > 0 -- one affine matrix per image,
   ``F.affine_grid`` + ``F.grid_sample`` (bilinear).  Parameters follow Keras'
   ``ImageDataGenerator``: angle uniform in ``[-rotation, rotation]`` degrees,
   shifts uniform in ``[-shift, shift]`` times width (x) and height (y)
   independently, zoom factors uniform in ``[1 - zoom, 1 + zoom]``
   independently for x and y, where (as in Keras) the zoom factor scales the
   *sampling* coordinates, i.e. a factor > 1 shrinks the content.  The
   composition is Keras' ``rotation @ shift @ zoom`` acting on output pixel
   coordinates centred on the image centre.  Pixels that sample outside the
   image get ``fill`` (Keras' ``fill_mode="constant", cval=fill``, not its
   default ``"nearest"``); since ``grid_sample`` pads with zeros, the batch is
   shifted by ``-fill`` before sampling and by ``+fill`` afterwards.

Random draws, in this order and only for enabled operations: crop offsets
``dy`` then ``dx`` (``randint``, shape ``(N,)`` each); flip mask (``rand``,
``(N,)``); affine ``rand`` of shape ``(N, 5)`` = angle, shift x, shift y,
zoom x, zoom y.  Draws are made on ``generator.device`` and moved to
``x.device``.

An identity spec returns ``x`` itself (no copy).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

__all__ = ["AugmentSpec", "augment_batch", "benchmark_augment"]


@dataclass(frozen=True)
class AugmentSpec:
    """What to randomise; all-default (zero) means no augmentation."""

    crop_padding: int = 0  # RandomCrop(H, padding=p): pad with `fill`, random HxW window per image
    hflip: float = 0.0  # probability of a horizontal flip per image
    rotation: float = 0.0  # max degrees, uniform in [-r, r] (Keras rotation_range)
    shift: float = 0.0  # max fraction of width/height, uniform in [-s, s] for x, y (Keras width/height_shift_range)
    zoom: float = 0.0  # Keras zoom_range z: factors uniform in [1-z, 1+z], independently for x and y
    fill: float = 0.0  # value of pixels outside the image (normalised value of black for normalised data)

    def __post_init__(self) -> None:
        # Validate and normalise types (int for crop_padding, float otherwise) so
        # that equal specs compare, hash and serialise equally.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"AugmentSpec.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"AugmentSpec.{f.name} must be finite, got {value!r}")
            if f.name == "crop_padding":
                if value != int(value):
                    raise ValueError(f"AugmentSpec.crop_padding must be an integer, got {value!r}")
                value = int(value)
            else:
                value = float(value)
            if f.name != "fill" and value < 0:
                raise ValueError(f"AugmentSpec.{f.name} must be >= 0, got {value!r}")
            object.__setattr__(self, f.name, value)
        if self.hflip > 1.0:
            raise ValueError(f"AugmentSpec.hflip is a probability and must be in [0, 1], got {self.hflip!r}")
        if self.shift > 1.0:
            raise ValueError(f"AugmentSpec.shift is a fraction of the image size and must be in [0, 1], got {self.shift!r}")
        if self.zoom >= 1.0:
            raise ValueError(f"AugmentSpec.zoom must be in [0, 1) (scale factors 1 +- zoom must stay > 0), got {self.zoom!r}")

    def is_identity(self) -> bool:
        """True when ``augment_batch`` would return its input unchanged."""
        return self.crop_padding == 0 and self.hflip == 0.0 and not self._has_affine()

    def _has_affine(self) -> bool:
        return self.rotation > 0.0 or self.shift > 0.0 or self.zoom > 0.0

    @classmethod
    def from_dict(cls, d: dict | None) -> "AugmentSpec":
        """Build from a (config) dict; ``None`` or ``{}`` gives the identity spec.

        Unknown keys raise ``ValueError`` listing the allowed keys; invalid values
        (negative, probability outside [0, 1], ...) raise ``ValueError`` naming the field.
        """
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ValueError(f"augmentation spec must be a dict or None, got {type(d).__name__}")
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(str(k) for k in d if k not in allowed)
        if unknown:
            raise ValueError(f"unknown augmentation key(s) {unknown}; allowed keys: {allowed}")
        return cls(**d)

    def to_dict(self) -> dict:
        """Only the non-default fields, in field order (stable for config hashing)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}


# --------------------------------------------------------------------------- helpers


def _same_layout(out: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Return ``out`` with exactly ``like``'s strides (memory format), copying only if needed."""
    if out.stride() == like.stride():
        return out
    return torch.empty_like(like).copy_(out)  # empty_like preserves the strides of a dense `like`


def _random_crop(x: torch.Tensor, padding: int, fill: float, generator: torch.Generator) -> torch.Tensor:
    n, c, h, w = x.shape
    gdev = generator.device
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gdev).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gdev).to(x.device)
    return _crop_at(x, dy, dx, padding, fill)


def _crop_at(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, padding: int, fill: float) -> torch.Tensor:
    """Window ``[dy:dy+H, dx:dx+W]`` of each image of ``x`` padded by ``padding`` with ``fill``."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding), mode="constant", value=fill)
    # View of all (2p+1)^2 windows, (N, C, 2p+1, 2p+1, H, W), no copy; pick one per image.
    # (Measured ~4x faster than indexing the padded batch with per-pixel row/col indices.)
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)
    return windows[torch.arange(n, device=x.device), :, dy, dx]  # -> (N, C, H, W)


def _random_hflip(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    mask = torch.rand(n, generator=generator, device=generator.device).to(x.device) < p
    return torch.where(mask.view(n, 1, 1, 1), x.flip(-1), x)


def _affine_theta(
    angle: torch.Tensor,
    shift_x: torch.Tensor,
    shift_y: torch.Tensor,
    zoom_x: torch.Tensor,
    zoom_y: torch.Tensor,
    height: int,
    width: int,
) -> torch.Tensor:
    """Per-image ``(N, 2, 3)`` matrices for ``F.affine_grid`` (``align_corners=False``).

    ``angle``: degrees, positive rotates the content counter-clockwise as displayed
    (row 0 on top; same sense as ``torch.rot90(k=1, dims=(-2, -1))``).
    ``shift_x`` / ``shift_y``: fractions of width / height by which the content
    moves right / down.  ``zoom_x`` / ``zoom_y``: Keras zoom factors, i.e. scale
    factors of the *sampling* coordinates (> 1 shrinks the content).

    As in Keras, the sampling position of an output pixel ``p`` (pixel units,
    origin at the image centre, y pointing down) is ``R @ (Z @ p + t)`` with
    ``R`` the inverse rotation, ``t = -shift * size`` and ``Z = diag(zoom)``;
    it is then converted to the normalised ``[-1, 1]`` coordinates of
    ``affine_grid`` (which handles non-square images correctly).
    """
    a = torch.deg2rad(angle.to(torch.float64))
    cos, sin = torch.cos(a), torch.sin(a)
    zx, zy = zoom_x.to(torch.float64), zoom_y.to(torch.float64)
    tx = -shift_x.to(torch.float64) * width  # sampling offset in pixels
    ty = -shift_y.to(torch.float64) * height
    # A = R @ Z, b = R @ t  with  R = [[cos, -sin], [sin, cos]]  (pixel coords, y down)
    a00, a01 = cos * zx, -sin * zy
    a10, a11 = sin * zx, cos * zy
    b0 = cos * tx - sin * ty
    b1 = sin * tx + cos * ty
    # normalised coords: u = 2 x / W, v = 2 y / H  ->  theta = S A S^-1, S b
    sx, sy = 2.0 / width, 2.0 / height
    theta = torch.stack(
        [
            torch.stack([a00, a01 * sx / sy, b0 * sx], dim=-1),
            torch.stack([a10 * sy / sx, a11, b1 * sy], dim=-1),
        ],
        dim=-2,
    )
    return theta


def _apply_affine(x: torch.Tensor, theta: torch.Tensor, fill: float) -> torch.Tensor:
    """Bilinear resampling of each image with its own ``theta``; outside pixels get ``fill``."""
    theta = theta.to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    src = x - fill if fill != 0.0 else x
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if fill != 0.0:
        out = out.add_(fill)
    return out


def _random_affine(x: torch.Tensor, spec: AugmentSpec, generator: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    u = torch.rand(n, 5, generator=generator, device=generator.device, dtype=torch.float64)
    u = (2.0 * u - 1.0).to(x.device)  # uniform in [-1, 1)
    theta = _affine_theta(
        angle=u[:, 0] * spec.rotation,
        shift_x=u[:, 1] * spec.shift,
        shift_y=u[:, 2] * spec.shift,
        zoom_x=1.0 + u[:, 3] * spec.zoom,
        zoom_y=1.0 + u[:, 4] * spec.zoom,
        height=h,
        width=w,
    )
    return _apply_affine(x, theta, spec.fill)


# --------------------------------------------------------------------------- public API


def augment_batch(x: torch.Tensor, spec: AugmentSpec, generator: torch.Generator) -> torch.Tensor:
    """Augment every image of the float batch ``x`` (N, C, H, W) independently.

    Output has the shape, dtype, device and strides (memory format, e.g.
    channels_last) of ``x``.  All random numbers come from ``generator``.
    An identity spec returns ``x`` itself.  Does not modify ``x``.
    """
    if not isinstance(spec, AugmentSpec):
        raise TypeError(f"spec must be an AugmentSpec, got {type(spec).__name__}")
    if x.dim() != 4:
        raise ValueError(f"expected a batch of shape (N, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"expected a floating-point tensor, got {x.dtype}")
    if spec.is_identity() or x.shape[0] == 0:
        return x
    out = x
    if spec.crop_padding > 0:
        out = _random_crop(out, spec.crop_padding, spec.fill, generator)
    if spec.hflip > 0.0:
        out = _random_hflip(out, spec.hflip, generator)
    if spec._has_affine():
        out = _random_affine(out, spec, generator)
    return _same_layout(out, x)


# --------------------------------------------------------------------------- benchmark


def benchmark_augment(n: int = 4096, repeats: int = 5) -> dict:
    """Images/s of ``augment_batch`` vs torchvision transforms applied per image.

    Specs: chapter 1 (``crop_padding=4, hflip=0.5``) against
    ``RandomCrop(28, padding=4)`` + ``RandomHorizontalFlip()``; chapter 2
    (``rotation=0.75, shift=0.075, zoom=0.085``) against
    ``RandomAffine(degrees=0.75, translate=(0.075, 0.075), scale=(0.915, 1.085))``.
    Both sides see the same ``(n, 1, 28, 28)`` float tensor; the torchvision
    side loops over the images in Python (what per-sample randomness with
    torchvision needs).  Reports the median over ``repeats`` timings and uses
    the current ``torch.get_num_threads()``.  Needs torchvision.
    """
    from torchvision import transforms as T

    torch.manual_seed(0)
    x = torch.rand(n, 1, 28, 28)
    cases = {
        "chapter1": (
            AugmentSpec(crop_padding=4, hflip=0.5),
            T.Compose([T.RandomCrop(28, padding=4), T.RandomHorizontalFlip()]),
        ),
        "chapter2": (
            AugmentSpec(rotation=0.75, shift=0.075, zoom=0.085),
            T.RandomAffine(degrees=0.75, translate=(0.075, 0.075), scale=(0.915, 1.085)),
        ),
    }

    def median_seconds(fn) -> float:
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        times.sort()
        return times[len(times) // 2]

    result: dict = {"n": n, "repeats": repeats, "num_threads": torch.get_num_threads(), "torch": torch.__version__}
    for name, (spec, tv) in cases.items():
        gen = torch.Generator().manual_seed(0)
        t_batched = median_seconds(lambda: augment_batch(x, spec, gen))
        t_loop = median_seconds(lambda: torch.stack([tv(img) for img in x]))
        result[name] = {
            "spec": spec.to_dict(),
            "batched_images_per_s": n / t_batched,
            "torchvision_loop_images_per_s": n / t_loop,
            "speedup": t_loop / t_batched,
        }
    return result
