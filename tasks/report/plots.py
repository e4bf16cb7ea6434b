"""The report's plots, drawn with OpenCV (pure: arrays in, uint8 RGB image out): a histogram, a scatter with
its y = x line and an optional target, curves with a legend, and the brush strokes over the example."""

from __future__ import annotations

import cv2
import numpy as np

PLOT_W, PLOT_H, PAD = 480, 320, 44
INK, GRID, ACCENT, MARK = (40, 40, 40), (225, 225, 225), (200, 90, 30), (30, 110, 200)
SERIES = ((30, 110, 200), (200, 90, 30), (40, 150, 60), (150, 60, 170), (120, 120, 120), (200, 40, 60))


def _canvas() -> np.ndarray:
    img = np.full((PLOT_H, PLOT_W, 3), 255, np.uint8)
    cv2.rectangle(img, (PAD, 10), (PLOT_W - 10, PLOT_H - PAD), INK, 1)
    return img


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.4,
          color: tuple[int, int, int] = INK) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def _scale(v: np.ndarray, lo: float, hi: float, a: int, b: int) -> np.ndarray:
    span = hi - lo if hi > lo else 1.0
    return (a + (np.asarray(v, float) - lo) / span * (b - a)).round().astype(int)


def histogram_plot(values: np.ndarray, title: str, bins: int = 30) -> np.ndarray:
    """Histogram of `values` as an RGB image."""
    img = _canvas()
    values = values[np.isfinite(values)]
    _text(img, title, (PAD, PLOT_H - 12), 0.45)
    if values.size == 0:
        return img
    lo, hi = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    xs = _scale(edges, edges[0], edges[-1], PAD + 2, PLOT_W - 12)
    ys = _scale(counts, 0, counts.max(), PLOT_H - PAD - 1, 16)
    for i, y in enumerate(ys):
        cv2.rectangle(img, (int(xs[i]), int(y)), (int(xs[i + 1]) - 1, PLOT_H - PAD - 1), MARK, -1)
    _text(img, f"{lo:.3g}", (PAD, PLOT_H - PAD + 14))
    _text(img, f"{hi:.3g}", (PLOT_W - 60, PLOT_H - PAD + 14))
    _text(img, str(int(counts.max())), (4, 20))
    return img


def scatter_plot(x: np.ndarray, y: np.ndarray, title: str, target: float | None = None) -> np.ndarray:
    """Scatter of (x, y) with an optional horizontal target line, as an RGB image."""
    img = _canvas()
    _text(img, title, (PAD, PLOT_H - 12), 0.45)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        return img
    ys_all = np.concatenate([y, x, [target] if target is not None else []])
    lo, hi = float(ys_all.min()), float(ys_all.max())
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    lo, hi = lo - pad, hi + pad
    px = _scale(x, lo, hi, PAD + 4, PLOT_W - 14)
    py = _scale(y, lo, hi, PLOT_H - PAD - 4, 14)
    d0, d1 = _scale([lo, hi], lo, hi, PAD + 4, PLOT_W - 14), _scale([lo, hi], lo, hi, PLOT_H - PAD - 4, 14)
    cv2.line(img, (int(d0[0]), int(d1[0])), (int(d0[1]), int(d1[1])), GRID, 1, cv2.LINE_AA)  # y = x: no edit
    if target is not None:
        ty = int(_scale([target], lo, hi, PLOT_H - PAD - 4, 14)[0])
        cv2.line(img, (PAD + 1, ty), (PLOT_W - 11, ty), ACCENT, 1, cv2.LINE_AA)
    for a, b in zip(px, py, strict=True):
        cv2.circle(img, (int(a), int(b)), 2, MARK, -1, cv2.LINE_AA)
    _text(img, f"{lo:.3g}", (PAD, PLOT_H - PAD + 14))
    _text(img, f"{hi:.3g}", (PLOT_W - 60, PLOT_H - PAD + 14))
    _text(img, f"{hi:.3g}", (2, 20))
    _text(img, f"{lo:.3g}", (2, PLOT_H - PAD))
    return img


def line_plot(x: np.ndarray, series: dict[str, np.ndarray], title: str) -> np.ndarray:
    """Several curves y(x) on one axis (e.g. losses over training steps), with a colour legend."""
    img = _canvas()
    _text(img, title, (PAD, PLOT_H - 12), 0.45)
    x = np.asarray(x, float)
    values = np.concatenate([np.asarray(v, float) for v in series.values()]) if series else np.array([])
    values = values[np.isfinite(values)]
    if x.size == 0 or values.size == 0:
        return img
    lo, hi = float(values.min()), float(values.max())
    px = _scale(x, float(x.min()), float(x.max()), PAD + 4, PLOT_W - 14)
    for k, (label, y) in enumerate(series.items()):
        color = SERIES[k % len(SERIES)]
        y = np.asarray(y, float)
        ok = np.isfinite(y)
        pts = np.stack([px[ok], _scale(y[ok], lo, hi, PLOT_H - PAD - 4, 14)], axis=1).astype(np.int32)
        cv2.polylines(img, [pts], False, color, 1, cv2.LINE_AA)
        _text(img, label, (PLOT_W - 150, 26 + 14 * k), 0.4, color)
    _text(img, f"{x.min():.0f}", (PAD, PLOT_H - PAD + 14))
    _text(img, f"{x.max():.0f}", (PLOT_W - 60, PLOT_H - PAD + 14))
    _text(img, f"{hi:.3g}", (2, 20))
    _text(img, f"{lo:.3g}", (2, PLOT_H - PAD))
    return img


def stroke_overlay(photo: np.ndarray, color: tuple[np.ndarray, tuple[int, int, int]] | None,
                   sketch: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The brush strokes drawn over the example photo: colour mask tinted with its colour, sketch edges in black.

    Masks are greyscale images of any size (white = painted); they are resized to the photo.
    """
    out = photo.astype(np.float32)
    h, w = photo.shape[:2]

    def fit(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5

    if color is not None:
        mask, rgb = fit(color[0]), np.asarray(color[1], np.float32)
        out[mask] = 0.35 * out[mask] + 0.65 * rgb
    if sketch is not None:
        edges, mask = cv2.resize(sketch[0].astype(np.float32), (w, h), interpolation=cv2.INTER_AREA), fit(sketch[1])
        out[mask & (edges > 0.5)] = 0.0
    return out.round().clip(0, 255).astype(np.uint8)
