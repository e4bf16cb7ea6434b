from pathlib import Path

import numpy as np

from common.params import Params
from tasks.images import write_png
from tasks.transfer import edit_one, edit_photo


def test_edit_photo_keeps_size_and_leaves_outside_the_square_alone() -> None:
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(128, 20, (40, 64, 3)), 0, 255).astype(np.uint8)
    before = np.full((16, 16, 3), 100, np.uint8)
    frames = np.stack([before, before + 30, before + 60])
    edited = edit_photo(photo, frames, Params())
    assert edited.shape == photo.shape
    np.testing.assert_array_equal(edited[:, :12], photo[:, :12])  # the 40 px centre square is cols 12..52
    np.testing.assert_array_equal(edited[:, 52:], photo[:, 52:])
    assert edited[:, 12:52].astype(int).mean() > photo[:, 12:52].astype(int).mean() + 20


def test_edit_one_rejects_a_missing_original_and_keeps_its_edited_image(tmp_path: Path) -> None:
    out = tmp_path / "images" / "x.png"
    write_png(out, np.zeros((4, 4, 3), np.uint8))  # made by an earlier run, while the original was there
    kept = out.read_bytes()
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    status, reason, _, thumb = edit_one(out, tmp_path / "gone.png", frames, "edited", Params())
    assert status == "rejected" and "original unavailable" in reason and out.read_bytes() == kept and thumb is None
    write_png(tmp_path / "photo.png", np.full((20, 30, 3), 90, np.uint8))
    assert edit_one(out, tmp_path / "photo.png", frames, "flagged", Params())[0] == "flagged" and out.exists()
