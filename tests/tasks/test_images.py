from pathlib import Path

import numpy as np
import pytest

from tasks.images import Rejected, edit_capped, paste_back, read_mask, read_photo, write_png


def test_paste_back_fades_the_change_out_beyond_the_square() -> None:
    photo = np.full((40, 64, 3), 100, np.uint8)
    square = np.full((40, 40, 3), 160, np.uint8)
    out = paste_back(photo, square, feather=0.25)  # square = columns 12..51, 10 px fade on each side
    assert (out[:, 12:52] == 160).all()
    row = out[0, :, 0].astype(int)
    assert (np.diff(row[:13]) >= 0).all() and (np.diff(row[51:]) <= 0).all()  # monotone ramps
    assert np.abs(np.diff(row)).max() <= 6  # no seam: 60 levels spread over 11 steps
    assert row[0] == row[-1] == 100
    tall = paste_back(photo.transpose(1, 0, 2).copy(), square, feather=0.25)
    np.testing.assert_array_equal(tall[:, 0, 0], row)
    np.testing.assert_array_equal(paste_back(photo, square, feather=0.0)[:, :12], photo[:, :12])


def test_edit_capped_edits_a_small_copy_and_upsamples_only_the_change() -> None:
    rng = np.random.default_rng(0)
    square = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    seen = []

    def brighten(x: np.ndarray) -> np.ndarray:
        seen.append(x.shape)
        return np.clip(x.astype(int) + 20, 0, 255).astype(np.uint8)

    out = edit_capped(square, brighten, max_side=100)
    assert seen == [(100, 100, 3)] and out.shape == square.shape
    change = out.astype(int) - square
    assert np.abs(change[(square > 30) & (square < 220)] - 20).max() <= 8  # detail kept, the change added
    assert edit_capped(square, brighten, max_side=300).tolist() == brighten(square).tolist()


def test_read_mask_keeps_a_one_pixel_stroke(tmp_path: Path) -> None:
    mask = np.zeros((512, 512, 3), np.uint8)
    mask[100:400, 256] = 255
    write_png(tmp_path / "m.png", mask)
    got = read_mask(tmp_path / "m.png", 16)
    assert got.dtype == bool and got[4:12, 8].all() and got.sum() == 10


def test_read_photo_refuses_other_bytes_than_ingested(tmp_path: Path) -> None:
    write_png(tmp_path / "p.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(Rejected, match="changed since ingest"):
        read_photo(tmp_path / "p.png", sha256="0" * 64)
    with pytest.raises(Rejected, match="too large: 8x8 pixels"):
        read_photo(tmp_path / "p.png", max_pixels=63)
    with pytest.raises(Rejected, match="unavailable"):
        read_photo(tmp_path / "gone.png")
