import json
from pathlib import Path

import numpy as np
import pytest
import torch

from common.errors import InputError
from tasks.example import read_brush
from tasks.images import write_png


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
