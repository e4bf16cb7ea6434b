"""Photo files on the edges: read originals (EXIF-oriented RGB), write PNGs atomically."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from tasks.storage import atomic_path


def read_photo(path: Path | str) -> np.ndarray:
    """An original photo at full resolution: uint8 HxWx3 RGB, EXIF orientation applied, alpha on white."""
    with Image.open(path) as im:
        im.load()
        oriented = ImageOps.exif_transpose(im)
        if oriented.mode in ("RGBA", "LA", "PA") or (oriented.mode == "P" and "transparency" in oriented.info):
            rgba = oriented.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
        return np.asarray(oriented.convert("RGB"))


def write_png(path: Path | str, rgb: np.ndarray) -> None:
    """Write uint8 HxWx3 RGB as PNG (temp file, then os.replace)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot encode {path} as PNG")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())


def centre_square(shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The centre square crop that ingest resized to model resolution (rows, cols)."""
    h, w = shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return slice(y0, y0 + s), slice(x0, x0 + s)

