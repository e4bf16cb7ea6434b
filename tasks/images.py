"""Photo files on the edges: decode untrusted bytes into model-resolution thumbnails (ingest and the
example edit's inputs), read originals (EXIF-oriented RGB), write PNGs atomically."""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable
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


def square_thumbnail(rgb: np.ndarray, resolution: int) -> np.ndarray:
    """Centre-crop the largest square and resize it to resolution² (INTER_AREA down, INTER_LINEAR up): what
    ingest makes of a photo, and what the verdict makes of an edited one."""
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
    return _guarded(lambda: _decode(data, resolution, max_pixels, min_side))


def _guarded(decoder):
    """Run `decoder()`; any failure of it becomes Rejected with a one-line reason."""
    try:
        return decoder()
    except Rejected:
        raise
    except UnidentifiedImageError as exc:
        raise Rejected("not a recognised image") from exc
    except Image.DecompressionBombError as exc:
        raise Rejected(f"decompression bomb: {_one_line(exc)}") from exc
    except Exception as exc:
        raise Rejected(f"cannot decode: {_one_line(exc)}") from exc


def _open(data: bytes, max_pixels: int, min_side: int, too_large: str = "decompression bomb") -> Image.Image:
    """Pillow image of untrusted bytes, header checked: known format, pixel limit, minimum side."""
    with warnings.catch_warnings():  # our own pixel limit below replaces Pillow's warning
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(io.BytesIO(data))
    if im.format not in FORMATS:
        im.close()
        raise Rejected(f"unsupported format {im.format}")
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise Rejected(f"{too_large}: {w}x{h} pixels exceeds the limit of {max_pixels}")
    if min(w, h) < min_side:
        im.close()
        raise Rejected(f"too small: {w}x{h} (minimum side {min_side} px)")
    return im


def open_original(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A Pillow image of an original's bytes, its header checked as `read_photo` checks it (Rejected
    otherwise); nothing is decoded yet (the export reads its format, mode and metadata)."""
    return _guarded(lambda: _open(data, max_pixels, min_side=1, too_large="too large"))


def _oriented(im: Image.Image) -> tuple[Image.Image, bool, str]:
    """EXIF orientation applied: (image, quarter turn?, note); malformed EXIF keeps the pixels as they are."""
    try:
        quarter_turn = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        return ImageOps.exif_transpose(im), quarter_turn, ""
    except Exception:
        return im, False, "unreadable EXIF orientation ignored"


def _decode(data: bytes, resolution: int, max_pixels: int, min_side: int) -> tuple[np.ndarray, int, int, str]:
    with _open(data, max_pixels, min_side) as im:
        w, h = im.size
        note = "multi-frame: first frame used" if getattr(im, "is_animated", False) else ""
        im.draft(None, (2 * resolution, 2 * resolution))  # JPEG only: DCT-domain downscale, never below 2R
        im.load()
        oriented, quarter_turn, exif_note = _oriented(im)
        if quarter_turn:
            w, h = h, w
        note = "; ".join(n for n in (note, exif_note) if n)
        rgb = _to_rgb(oriented)
    return square_thumbnail(rgb, resolution), w, h, note


def read_thumbnail(path: Path, resolution: int) -> np.ndarray:
    """An image file at model resolution, preprocessed exactly as ingest does; a one-line error otherwise."""
    try:
        return decode(Path(path).read_bytes(), resolution, max_pixels=MAX_PIXELS, min_side=8)[0]
    except (Rejected, OSError) as exc:
        raise InputError(f"{path}: {_reason(exc)}") from None


def read_mask(path: Path, resolution: int) -> np.ndarray:
    """A white-on-black mask as bool [R, R], cropped as ingest crops the photos: a model pixel is set
    when ANY photo pixel under it is (area fraction > 0), so a 1 px stroke on a 512 px photo survives."""
    try:
        grey = read_photo(path).mean(axis=-1) > 127.5
    except Rejected as exc:
        raise InputError(f"{path}: {exc}") from None
    rows, cols = centre_square(grey.shape)
    square = np.ascontiguousarray(grey[rows, cols], dtype=np.float32)
    return cv2.resize(square, (resolution, resolution), interpolation=cv2.INTER_AREA) > 1e-6


def read_photo(path: Path | str, max_pixels: int = MAX_PIXELS, sha256: str | None = None) -> np.ndarray:
    """A photo at full resolution: uint8 HxWx3 RGB, EXIF orientation applied, alpha on white.

    Decoded as ingest decodes (known formats only, the pixel limit checked from the header, any
    decoder failure caught); with `sha256`, the bytes read must be the ones ingest hashed, so a
    replaced original is never edited as if it were the ingested photo. Raises Rejected (the reason).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Rejected(f"unavailable: {_reason(exc)}") from exc
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise Rejected("changed since ingest (other bytes than the ingested photo): run `oneedit update` "
                       "(or ingest again) to take the new version in")

    def full() -> np.ndarray:
        with _open(data, max_pixels, min_side=1, too_large="too large") as im:
            im.load()
            return _to_rgb(_oriented(im)[0])

    return _guarded(full)


def _reason(exc: BaseException) -> str:
    """One line for a Rejected or an OSError."""
    if isinstance(exc, OSError):
        return exc.strerror or _one_line(exc)
    return _one_line(exc)


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



def edit_capped(square: np.ndarray, edit: Callable[[np.ndarray], np.ndarray], max_side: int) -> np.ndarray:
    """`edit(square)` with bounded memory: a square larger than max_side is edited at max_side and only
    the change (edited − input) is upsampled and added to the full-resolution square."""
    s = square.shape[0]
    if s <= max_side:
        return edit(square)
    small = cv2.resize(square, (max_side, max_side), interpolation=cv2.INTER_AREA)
    change = edit(small).astype(np.int16)
    change -= small
    out = cv2.resize(change, (s, s), interpolation=cv2.INTER_LINEAR)
    out += square
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def paste_back(photo: np.ndarray, edited_square: np.ndarray, feather: float) -> np.ndarray:
    """`photo` with its centre square replaced by `edited_square`, without a seam: past the square's
    open sides the change (edited − original) of its border row / column continues and fades out
    linearly to nothing over feather·side pixels."""
    rows, cols = centre_square(photo.shape)
    out = photo.copy()
    out[rows, cols] = edited_square
    s = rows.stop - rows.start
    width = int(round(feather * s))
    if width == 0 or photo.shape[0] == photo.shape[1]:
        return out
    wide = photo.shape[1] > photo.shape[0]
    view, original = (out, photo) if wide else (out.transpose(1, 0, 2), photo.transpose(1, 0, 2))
    start, stop = (cols if wide else rows).start, (cols if wide else rows).stop
    change = edited_square.astype(np.int16) - original[:, start:stop]
    fade = 1.0 - np.arange(1, width + 1, dtype=np.float32) / (width + 1)  # weights just outside the square
    for edge, step in ((start, -1), (stop - 1, 1)):
        band = np.arange(edge + step, edge + step * (width + 1), step)
        keep = (band >= 0) & (band < view.shape[1])
        band = band[keep]
        border = change[:, edge - start].astype(np.float32)  # [side, 3]
        delta = border[:, None, :] * fade[keep][None, :, None]
        view[:, band] = np.clip(original[:, band] + np.rint(delta), 0, 255).astype(np.uint8)
    return out
