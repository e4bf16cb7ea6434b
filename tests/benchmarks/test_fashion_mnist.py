"""Fashion-MNIST loader (Debian dataset-fashion-mnist); skipped when the package is absent."""

import gzip

import numpy as np
import pytest

from benchmarks.fashion_mnist import FASHION_MNIST_DIR, export_pngs, load_fashion_mnist, read_idx
from common.errors import InputError
from tasks.images import read_photo

have_dataset = (FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file()


def _write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_read_idx_roundtrip_and_bad_files(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "x.gz", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.gz"), arr)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError):
        read_idx(tmp_path / "bad")


def test_fake_dataset_and_export(tmp_path):
    root = tmp_path / "fm"
    root.mkdir()
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    _write_idx(root / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(root / "t10k-labels-idx1-ubyte.gz", np.array([7, 1, 7, 2, 7, 0]))
    paths = export_pngs(tmp_path / "out", 2, split="t10k", labels=[7], root=root)
    assert [p.name for p in paths] == ["t10k-00000.png", "t10k-00002.png"]
    got = read_photo(paths[1])
    assert got.shape == (28, 28, 3)
    np.testing.assert_array_equal(got[..., 0], images[2])
    with pytest.raises(InputError):
        export_pngs(tmp_path / "out", 4, split="t10k", labels=[7], root=root)
    both = export_pngs(tmp_path / "up", 2, split="t10k", labels=[0, 2], size=56, root=root)
    assert [p.name for p in both] == ["t10k-00003.png", "t10k-00005.png"]
    up = read_photo(both[0])
    assert up.shape == (56, 56, 3) and (up[..., 0] == up[..., 2]).all()  # still grey, upscaled
    assert abs(float(up.mean()) - float(images[3].mean())) < 3


def test_missing_package_gives_clear_error(tmp_path):
    with pytest.raises(InputError, match="dataset-fashion-mnist"):
        load_fashion_mnist("t10k", root=tmp_path)


@pytest.mark.skipif(not have_dataset, reason="Debian package dataset-fashion-mnist not installed")
def test_real_dataset():
    images, labels = load_fashion_mnist("t10k")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
