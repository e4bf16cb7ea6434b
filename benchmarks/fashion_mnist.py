"""Fashion-MNIST from Debian's dataset-fashion-mnist package: the real photos of the fashion and projection
benchmarks (and of the tests that need real photos).

The package installs gzip'd IDX files under /usr/share/datasets/fashion-mnist; they are parsed
here with numpy (no download, no extra dependency). `export_pngs` writes images as ordinary PNG
files so the normal ingest picks them up.
"""

from __future__ import annotations

import gzip
from collections.abc import Collection
from pathlib import Path

import cv2
import numpy as np

from common.errors import InputError
from tasks.images import write_png

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
SPLITS = ("train", "t10k")
LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: Path | str) -> np.ndarray:
    """Parse one IDX file (gzip'd when the name ends in .gz) into an array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    count = int(np.prod(shape)) if shape else 1
    if len(data) != header + count * dtype.itemsize:
        raise ValueError(f"{path}: size does not match the IDX header {shape}")
    return np.frombuffer(data, dtype=dtype, offset=header, count=count).reshape(shape).astype(dtype.newbyteorder("="))


def _files(split: str, root: Path) -> tuple[Path, Path]:
    if split not in SPLITS:
        raise InputError(f"unknown Fashion-MNIST split {split!r}; use one of {SPLITS}")
    images = root / f"{split}-images-idx3-ubyte.gz"
    labels = root / f"{split}-labels-idx1-ubyte.gz"
    if not images.is_file() or not labels.is_file():
        raise InputError(
            f"Fashion-MNIST not found in {root}: install the Debian package "
            "(sudo apt-get install dataset-fashion-mnist) or pass the folder holding the IDX files"
        )
    return images, labels


def load_fashion_mnist(split: str = "train", root: Path | str = FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 28, 28] (grey) and labels uint8 [N] of one split ("train" or "t10k")."""
    images_path, labels_path = _files(split, Path(root))
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"Fashion-MNIST {split}: unexpected shapes {images.shape} / {labels.shape}")
    return images.astype(np.uint8), labels.astype(np.uint8)


def export_pngs(
    out: Path | str,
    n: int,
    split: str = "train",
    labels: Collection[int] | None = None,
    size: int | None = None,
    root: Path | str = FASHION_MNIST_DIR,
) -> list[Path]:
    """Write the first `n` images of a split (optionally of some classes, see LABELS) as RGB PNGs named
    `<split>-<index>.png` (index into the split), resized to `size` px (bicubic) when given."""
    if labels is not None and any(not 0 <= label < len(LABELS) for label in labels):
        raise InputError(f"labels must be in 0..{len(LABELS) - 1}, got {sorted(labels)}")
    images, classes = load_fashion_mnist(split, root)
    idx = np.arange(len(images)) if labels is None else np.flatnonzero(np.isin(classes, list(labels)))
    if n < 1 or n > len(idx):
        raise InputError(f"asked for {n} images, the selection holds {len(idx)}")
    out = Path(out)
    paths = []
    for i in idx[:n]:
        grey = images[i] if size is None else cv2.resize(images[i], (size, size), interpolation=cv2.INTER_CUBIC)
        path = out / f"{split}-{i:05d}.png"
        write_png(path, np.repeat(grey[..., None], 3, axis=-1))
        paths.append(path)
    return paths


def fashion_mnist_images(split: str, n: int, resolution: int) -> np.ndarray:
    """First n Fashion-MNIST images of a split: grey -> RGB uint8 [n, R, R, 3] at `resolution`."""
    grey = load_fashion_mnist(split)[0][:n]
    interp = cv2.INTER_AREA if resolution < grey.shape[1] else cv2.INTER_LINEAR
    resized = np.stack([cv2.resize(g, (resolution, resolution), interpolation=interp) for g in grey])
    return np.repeat(resized[..., None], 3, axis=-1)
