"""Find, verify and load Fashion-MNIST; deterministic splits; normalisation.

The whole dataset is held as uint8 tensors in memory (55 MB); training code turns it into one float
tensor once and takes batches as index slices, so there is no per-image Python in the data path.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
TRAIN_MEAN, TRAIN_STD = 0.2860, 0.3530  # of the 60k training pixels in [0, 1]
TRAIN_IMAGES = 60_000

# SHA-256 of the *decompressed* IDX files: compressed files differ between distributions
# (the Debian package recompresses them), the arrays inside do not.
FILES = {
    "train_images": ("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train_labels": ("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "test_images": ("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "test_labels": ("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
REPO_DIR = Path(__file__).resolve().parent.parent / "data"
DOWNLOAD_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fmnist_utils"


class DataError(RuntimeError):
    """Fashion-MNIST could not be found or failed verification."""


HOW_TO_PROVIDE = (
    "Provide the four Fashion-MNIST IDX files (.gz or uncompressed) in one of these ways:\n"
    "  1. set FMNIST_DATA_DIR to a folder that holds them;\n"
    f"  2. put them in the repository's data/ folder ({REPO_DIR});\n"
    f"  3. on Debian/Ubuntu: apt-get install dataset-fashion-mnist (installs them in {SYSTEM_DIR}).\n"
    "Where a network is available, they are otherwise downloaded with torchvision."
)


@dataclass(frozen=True)
class FashionMNIST:
    train_images: torch.Tensor  # (60000, 28, 28) uint8
    train_labels: torch.Tensor  # (60000,) int64
    test_images: torch.Tensor  # (10000, 28, 28) uint8
    test_labels: torch.Tensor  # (10000,) int64
    source: str  # the folder the files came from


def candidate_dirs() -> list[tuple[str, Path]]:
    """Where to look, in order, when neither ``data_dir`` nor $FMNIST_DATA_DIR names a folder: the
    repository's data/, the Debian package, torchvision's download cache."""
    return [("repository data/", REPO_DIR), ("dataset-fashion-mnist package", SYSTEM_DIR),
            ("torchvision download cache", DOWNLOAD_DIR / "FashionMNIST" / "raw")]


def _named_dir(data_dir: str | None) -> tuple[Path, str] | None:
    """The folder the caller (``data_dir``) or the user ($FMNIST_DATA_DIR) named, and what an error
    about it starts with. Such a folder is used or refused, never passed over for the other places."""
    if data_dir is not None:
        return Path(data_dir), ""
    if os.environ.get("FMNIST_DATA_DIR"):
        return Path(os.environ["FMNIST_DATA_DIR"]), (f"FMNIST_DATA_DIR points to {os.environ['FMNIST_DATA_DIR']} "
                                                   "(while it is set, the only place looked in): ")
    return None


def _file_in(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_idx(path: Path, expected_sha256: str) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"cannot read {path}: {error}.\n{HOW_TO_PROVIDE}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise DataError(
            f"{path} is corrupt or not Fashion-MNIST (SHA-256 of its contents is {digest[:12]}..., "
            f"expected {expected_sha256[:12]}...). Replace the file.\n{HOW_TO_PROVIDE}"
        )
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _read_all(folder: Path) -> dict[str, np.ndarray]:
    """The four verified arrays of a folder known to hold all four files."""
    return {key: _read_idx(_file_in(folder, stem), sha) for key, (stem, sha) in FILES.items()}


def _complete_dir() -> tuple[str, Path] | None:
    for label, folder in candidate_dirs():
        if all(_file_in(folder, stem) for stem, _ in FILES.values()):
            return label, folder
    return None


def _download() -> None:
    try:
        from torchvision.datasets import FashionMNIST as TorchvisionFashionMNIST

        TorchvisionFashionMNIST(str(DOWNLOAD_DIR), train=True, download=True)
        TorchvisionFashionMNIST(str(DOWNLOAD_DIR), train=False, download=True)
    except Exception as error:  # no network, proxy refused, ...: all end in the same advice
        raise DataError(f"Fashion-MNIST was not found and could not be downloaded ({error}).\n{HOW_TO_PROVIDE}") from None


@lru_cache(maxsize=4)
def load_fashion_mnist(data_dir: str | None = None) -> FashionMNIST:
    """Load and verify the four IDX files from ``data_dir``, else from $FMNIST_DATA_DIR, else from the
    first complete folder of ``candidate_dirs`` (downloading them there as a last resort). A folder
    named by ``data_dir`` or $FMNIST_DATA_DIR that lacks a file or holds a corrupt one is an error."""
    named = _named_dir(data_dir)
    if named is not None:
        folder, why = named
        missing = [stem for stem, _ in FILES.values() if not _file_in(folder, stem)]
        if missing:
            raise DataError(f"{why}{folder} lacks {', '.join(missing)} (.gz or uncompressed).\n{HOW_TO_PROVIDE}")
        try:
            arrays = _read_all(folder)
        except DataError as error:
            raise DataError(f"{why}{error}") from None
    else:
        located = _complete_dir()
        if located is None:
            partial = [str(folder) for _, folder in candidate_dirs()
                       if any(_file_in(folder, stem) for stem, _ in FILES.values())]
            if partial:
                raise DataError(f"incomplete Fashion-MNIST files in {', '.join(partial)}.\n{HOW_TO_PROVIDE}")
            _download()
            located = _complete_dir()
            assert located is not None
        folder = located[1]
        arrays = _read_all(folder)
    return FashionMNIST(
        train_images=torch.from_numpy(arrays["train_images"].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["test_images"].copy()),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        source=str(folder),
    )


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Train/validation indices exactly as ``torch.utils.data.random_split`` draws them.

    ``random_split(range(n), [n - k, k], generator=torch.Generator().manual_seed(seed))`` takes a
    permutation and cuts it; reproducing it keeps the study's 54k/6k split (seed 42) bit-identical.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(n * val_fraction))
    permutation = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return permutation[: n - n_val], permutation[n - n_val:]


def to_float(images: torch.Tensor, normalize: tuple[float, float] | None) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1], then (x - mean) / std if asked."""
    x = images.unsqueeze(1).to(torch.float32).div_(255.0)
    if normalize is not None:
        mean, std = normalize
        x.sub_(mean).div_(std)
    return x


def find_duplicates(images, others=None) -> np.ndarray:
    """Pairs of byte-identical images, found by hashing every image's raw bytes.

    With ``others`` (for instance the test images): every pair ``(i, j)`` with ``images[i]`` equal
    to ``others[j]``, so a test image that also sits in the training set shows up once per copy.
    Without: every pair ``(i, j)``, ``i < j``, of equal images within ``images``. Returns an int64
    array of shape ``(pairs, 2)``, sorted. Only exact copies count; a shifted or re-encoded image is
    a different image here.
    """
    def rows(array) -> np.ndarray:
        array = np.ascontiguousarray(np.asarray(array))
        return array.reshape(len(array), -1)

    first = rows(images)
    seen: dict[bytes, list[int]] = {}
    for index, row in enumerate(first):
        seen.setdefault(row.tobytes(), []).append(index)
    if others is None:
        pairs = [(a, b) for group in seen.values() for k, a in enumerate(group) for b in group[k + 1:]]
    else:
        second = rows(others)
        if second.shape[1] != first.shape[1]:
            raise ValueError(f"images of different sizes: {first.shape[1:]} and {second.shape[1:]} values per image")
        pairs = [(a, j) for j, row in enumerate(second) for a in seen.get(row.tobytes(), ())]
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
