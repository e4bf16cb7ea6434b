"""The page's brush strokes as the files `oneedit edit --constraints` takes: strokes.json and its masks,
white on black at the example photo's size (a sketch's area is its edges grown by 3 % of the canvas)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from common.errors import InputError
from oneedit.studio.images import decode_data_url
from oneedit.studio.models import Stroke

SKETCH_REACH = 0.03  # of the canvas's longest side: how far a sketch's constraint reaches around its edges


def mask_png(mask: np.ndarray, size: tuple[int, int], path: Path) -> None:
    """A bool mask brought to (height, width) and written white-on-black, as `--constraints` reads it."""
    h, w = size
    grey = cv2.resize(mask.astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), grey)


def write_strokes(color: Stroke | None, sketch: Stroke | None, size: tuple[int, int], folder: Path) -> Path:
    """strokes.json and its mask PNGs in `folder` for a colour and / or a sketch stroke, at the example's
    (height, width) `size`; an empty stroke is a one-line error. Returns strokes.json's path."""
    spec: dict = {}
    if color is not None:
        mask = decode_data_url(color.mask, "colour strokes")
        if not mask.any():
            raise InputError("--constraints: the colour strokes are empty; paint on the photo first")
        mask_png(mask, size, folder / "color_mask.png")
        spec["color"] = {"mask": "color_mask.png", "rgb": [max(0, min(255, int(v))) for v in color.rgb]}
    if sketch is not None:
        edges = decode_data_url(sketch.mask, "sketch strokes")
        if not edges.any():
            raise InputError("--constraints: the sketch strokes are empty; draw on the photo first")
        radius = max(1, round(SKETCH_REACH * max(edges.shape)))
        area = cv2.dilate(edges.astype(np.uint8), np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
        mask_png(edges, size, folder / "sketch_edges.png")
        mask_png(area, size, folder / "sketch_mask.png")
        spec["sketch"] = {"edges": "sketch_edges.png", "mask": "sketch_mask.png"}
    path = folder / "strokes.json"
    path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return path
