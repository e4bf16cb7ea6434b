"""Images to and from the page, beyond what tasks/images.py offers: a PNG response (`encode_png`), a photo
brought to the size the page asks (`fit_within`), and a canvas export read back as a mask."""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np
from fastapi.responses import Response
from PIL import Image, UnidentifiedImageError

from common.errors import InputError, first_line
from tasks.images import encode_png, fit_within

DISPLAY = 512  # px, longest side of the example as the page shows it
MIN_VIEW, MAX_VIEW = 16, 2048  # px, the sizes a request may ask of a photo


def png_response(rgb: np.ndarray) -> Response:
    """uint8 HxWx3 RGB as an image/png response the browser does not cache."""
    return Response(encode_png(rgb), media_type="image/png", headers={"Cache-Control": "no-store"})


def fit_view(rgb: np.ndarray, size: int) -> np.ndarray:
    """A photo with its longest side brought to `size`, clipped to MIN_VIEW..MAX_VIEW (never enlarged)."""
    return fit_within(rgb, max(MIN_VIEW, min(size, MAX_VIEW)))


def decode_data_url(url: str, what: str) -> np.ndarray:
    """A `data:image/png;base64,...` canvas export -> the painted pixels as a bool mask (alpha > 0)."""
    head, _, data = url.partition(",")
    if not head.startswith("data:image/") or ";base64" not in head:
        raise InputError(f"{what}: expected a data:image/...;base64 URL")
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as im:
            rgba = np.asarray(im.convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{what}: not a readable image ({first_line(exc, type(exc).__name__)})") from None
    return rgba[..., 3] > 0
