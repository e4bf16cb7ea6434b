"""Photo files on the edges: decode untrusted bytes into model-resolution thumbnails (ingest and the
example edit's inputs), read originals (EXIF-oriented RGB), write PNGs atomically."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import InputError
from common.storage import atomic_path

FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF"})
MAX_PIXELS = 120_000_000  # the ingest default: larger photos are rejected from their header


class Rejected(Exception):
    """One input file cannot be used; the message is the manifest's reason."""


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any Pillow mode -> uint8 HxWx3 RGB: alpha composited on white, 16-bit and float scaled (not clipped)."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.clip(np.asarray(im), 0, 65535).astype(np.uint32)  # "I" is how Pillow may hold 16-bit data
        grey = ((a * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if a.max(initial=0.0) <= 1.0 else 1.0  # float data in [0, 1], else taken as [0, 255]
        grey = np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def _square(rgb: np.ndarray, resolution: int) -> np.ndarray:
    """Centre-crop the largest square and resize it to resolution² (INTER_AREA down, INTER_LINEAR up)."""
    rows, cols = centre_square(rgb.shape)
    s = rows.stop - rows.start
    crop = np.ascontiguousarray(rgb[rows, cols])
    interp = cv2.INTER_AREA if s >= resolution else cv2.INTER_LINEAR
    return cv2.resize(crop, (resolution, resolution), interpolation=interp)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def decode(data: bytes, resolution: int, max_pixels: int, min_side: int) -> tuple[np.ndarray, int, int, str]:
    """Bytes -> (uint8 [R, R, 3] thumbnail, width, height, note); width/height after EXIF orientation.

    Raises Rejected with the reason, whatever the decoder raised: the bytes are untrusted, and one
    bad file must never stop a run. The pixel limit is checked from the header before any pixel is
    decoded (decompression bombs cost no memory); large JPEGs decode at a reduced DCT scale.
    """
    try:
        return _decode(data, resolution, max_pixels, min_side)
    except Rejected:
        raise
    except UnidentifiedImageError as exc:
        raise Rejected("not a recognised image") from exc
    except Image.DecompressionBombError as exc:
        raise Rejected(f"decompression bomb: {_one_line(exc)}") from exc
    except Exception as exc:
        raise Rejected(f"cannot decode: {_one_line(exc)}") from exc


def _decode(data: bytes, resolution: int, max_pixels: int, min_side: int) -> tuple[np.ndarray, int, int, str]:
    with warnings.catch_warnings():  # our own pixel limit below replaces Pillow's warning
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(io.BytesIO(data))
    with im:
        if im.format not in FORMATS:
            raise Rejected(f"unsupported format {im.format}")
        w, h = im.size
        if w * h > max_pixels:
            raise Rejected(f"decompression bomb: {w}x{h} pixels exceeds the limit of {max_pixels}")
        if min(w, h) < min_side:
            raise Rejected(f"too small: {w}x{h} (minimum side {min_side} px)")
        note = "multi-frame: first frame used" if getattr(im, "is_animated", False) else ""
        im.draft(None, (2 * resolution, 2 * resolution))  # JPEG only: DCT-domain downscale, never below 2R
        im.load()
        try:
            quarter_turn = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
            oriented = ImageOps.exif_transpose(im)
        except Exception:  # malformed EXIF: keep the pixels, skip the rotation
            quarter_turn, oriented = False, im
            note = (note + "; " if note else "") + "unreadable EXIF orientation ignored"
        if quarter_turn:
            w, h = h, w
        rgb = _to_rgb(oriented)
    return _square(rgb, resolution), w, h, note



def read_thumbnail(path: Path, resolution: int) -> np.ndarray:
    """An image file at model resolution, preprocessed exactly as ingest does; a one-line error otherwise."""
    try:
        return decode(Path(path).read_bytes(), resolution, max_pixels=MAX_PIXELS, min_side=8)[0]
    except (Rejected, OSError) as exc:
        raise InputError(f"{path}: {exc}") from None



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

