import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edit_core.alphas import unit_normal
from oneedit.params import load_params
from tasks.demo import example_pair, write_catalog
from tasks.edit import alpha_table, read_brush
from tasks.errors import InputError
from tasks.images import write_png


def test_alpha_table_moves_every_latent_onto_the_hyperplane() -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(50, 8, generator=gen)
    delta = torch.randn(8, generator=gen)
    state = {"w0": w[3], "delta_star": delta, "n": unit_normal(delta)}
    t = alpha_table(w.numpy(), state, strength=2.0, margin=0.1)
    expected = ((w[3] + 2.0 * delta) - w) @ unit_normal(delta)
    np.testing.assert_allclose(t["alpha"], expected.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t["distance_before"], -t["alpha"], atol=1e-6)
    assert np.abs(t["distance_after"]).max() < 1e-5
    assert t["flagged"].dtype == bool and len(t["flagged"]) == 50


def test_read_brush(tmp_path: Path) -> None:
    mask = np.zeros((64, 64, 3), np.uint8)
    mask[20:40, 20:40] = 255
    write_png(tmp_path / "mask.png", mask)
    (tmp_path / "strokes.json").write_text(json.dumps(
        {"color": {"mask": "mask.png", "rgb": [255, 0, 0]}, "sketch": {"edges": "mask.png", "mask": "mask.png"}}))
    c = read_brush(tmp_path / "strokes.json", 16, torch.device("cpu"))
    assert c.color_mask.shape == (16, 16) and c.color_mask.dtype == torch.bool and 16 < c.color_mask.sum() < 256
    assert torch.allclose(c.color_rgb, torch.tensor([1.0, -1.0, -1.0]))
    assert c.sketch.shape == (16, 16) and c.sketch.max() <= 1.0
    (tmp_path / "bad.json").write_text(json.dumps({"color": {"mask": "missing.png", "rgb": [1, 2, 3]}}))
    for bad in ("bad.json", "nothing.json"):
        with pytest.raises(InputError, match="--constraints") as err:
            read_brush(tmp_path / bad, 16, torch.device("cpu"))
        assert "\n" not in str(err.value)


def test_demo_example_pair_is_a_real_edit(tmp_path: Path) -> None:
    p = load_params(None, ["catalog.size=3", "catalog.resolution=32", "demo.example=1", "demo.value=0.6"])
    photos = write_catalog.fn(tmp_path, p)
    pair = example_pair.fn(tmp_path, p)
    assert pair["before"].read_bytes() == (photos / "00001.png").read_bytes()
    assert pair["truth"]["attribute"] == "hue" and pair["truth"]["value"] == 0.6
    assert pair["after"].read_bytes() != pair["before"].read_bytes()
    with pytest.raises(InputError, match="demo.example"):
        example_pair.fn(tmp_path, load_params(None, ["catalog.size=3", "demo.example=7"]))
