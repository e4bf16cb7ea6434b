from pathlib import Path

import numpy as np
import torch

from common.params import Params
from edit_core.imageops import to_uint8
from edit_core.models import ModelConfig, build_generator
from tasks.images import write_png
from tasks.transfer import edit_one, edit_photo, render_frames

G = build_generator(ModelConfig(backbone="dcgan", resolution=16, z_dim=16, w_dim=16, width=8)).eval()


def test_render_frames_walks_from_w_to_w_plus_alpha_n() -> None:
    w = G.sample_w(3, seed=0)
    n = torch.nn.functional.normalize(torch.randn(16), dim=0)
    alpha = torch.tensor([0.0, 1.0, -2.0])
    frames = render_frames(G, w, alpha, n, frames=4)
    assert frames.shape == (3, 5, 16, 16, 3) and frames.dtype == np.uint8
    with torch.no_grad():
        np.testing.assert_array_equal(frames[:, 0], to_uint8(G.synthesis(w)))
        np.testing.assert_array_equal(frames[2, -1], to_uint8(G.synthesis(w[2:] - 2.0 * n))[0])
    assert (frames[0] == frames[0, :1]).all()  # α = 0: no change


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
    status, reason, _ = edit_one(out, tmp_path / "gone.png", frames, "edited", Params())
    assert status == "rejected" and "original unavailable" in reason and out.read_bytes() == kept
    write_png(tmp_path / "photo.png", np.full((20, 30, 3), 90, np.uint8))
    assert edit_one(out, tmp_path / "photo.png", frames, "flagged", Params())[0] == "flagged" and out.exists()
