"""Read the demo catalog's editable attributes back from any image (render, GAN output, edited photo).

Analytic measurement plus a small calibrated linear read-out, so the same code scores catalog
photos, GAN samples and transferred edits:

1. Every image is resized to a working resolution (INTER_AREA when shrinking).
2. Soft segmentation in HSV: the paint is saturated and not dark; tyres and glass are dark; the
   backdrop is pale and low-saturation (see `demo_catalog.NUISANCE`).
3. Hue = saturation-weighted circular mean of the paint's hue; rotation = principal axis of the
   car mask (the silhouette is mirror-symmetric, so that axis is the car's length axis).
4. The masks are resampled into the car's own frame (centroid, axis, scale); size, roof height and
   wheel size are a ridge read-out of those canonical masks plus moment features.

The read-out is fitted once per process on fresh renders (deterministic seed, a few seconds) and
cached; there are no downloads and no files.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from edit_core.demo_catalog import ATTRIBUTES, render, sample_attributes

WORK_RES = 64
_CANON_W, _CANON_H = 32, 20  # canonical car-frame grid (along, across the car)
_CANON_SPAN_U, _CANON_SPAN_V = 0.75, 0.5  # half-extents of that grid, in units of the estimated length
_CAL_N, _CAL_SEED, _RIDGE = 3000, 20261122, 1e-3
_MOMENT_SCALE = 10.0
_CLEAN_FRACTION, _MAX_BLUR = 0.3, 1.2
_GEOMETRY = ("size", "roof_height", "wheel_size")


def estimate_attributes(images: np.ndarray) -> dict[str, np.ndarray]:
    """uint8 [N, H, W, 3] RGB images (any square size) -> attribute name -> float64 [N] estimates.

    The first call per input resolution class fits the read-out (a few seconds), later calls reuse it."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[1] != arr.shape[2]:
        raise ValueError(f"expected square uint8 images [N, R, R, 3], got {arr.dtype} {arr.shape}")
    if len(arr) == 0:
        return {k: np.zeros(0) for k in ATTRIBUTES}
    feats = _measure(arr)
    cal = _calibration(min(arr.shape[1], WORK_RES))
    out = {
        "hue": cal["hue"][0] * feats["hue"] + cal["hue"][1],
        "rotation": cal["rotation"][0] * feats["rotation"] + cal["rotation"][1],
    }
    design = _design(feats)
    for name in _GEOMETRY:
        out[name] = design @ cal[name]
    return {k: out[k] for k in ATTRIBUTES}


def _to_work_res(images: np.ndarray) -> np.ndarray:
    """uint8 [N, R, R, 3] -> float32 NHWC in [0, 1] at WORK_RES."""
    arr = images
    if arr.shape[1:3] != (WORK_RES, WORK_RES):
        interp = cv2.INTER_AREA if arr.shape[1] > WORK_RES else cv2.INTER_LINEAR
        arr = np.stack([cv2.resize(im, (WORK_RES, WORK_RES), interpolation=interp) for im in arr])
    return arr.astype(np.float32) * np.float32(1 / 255)


def _measure(images: np.ndarray) -> dict[str, np.ndarray]:
    """Raw measurements: hue, rotation (degrees), moment features and canonical-frame masks."""
    x = _to_work_res(images)
    n = len(x)
    hsv = cv2.cvtColor(x.reshape(n * WORK_RES, WORK_RES, 3), cv2.COLOR_RGB2HSV).reshape(x.shape)
    hue, sat, val = np.moveaxis(hsv, -1, 0).copy()  # contiguous planes
    hue /= 360.0
    paint = np.clip((sat - 0.3) / 0.25, 0.0, 1.0) * np.clip((val - 0.3) / 0.15, 0.0, 1.0)
    dark = np.clip((0.42 - val) / 0.2, 0.0, 1.0)
    car = np.maximum(paint, dark)

    # Hue: circular mean weighted towards confidently painted pixels; unwrap reds near 1 to < 0.
    wgt = paint * paint + np.float32(1e-9)
    ang = np.float32(2 * np.pi) * hue
    mean_ang = np.arctan2((wgt * np.sin(ang)).sum((1, 2)), (wgt * np.cos(ang)).sum((1, 2)))
    h = (mean_ang / (2 * np.pi)) % 1.0
    h = np.where(h > 0.85, h - 1.0, h)

    # Moments of the car mask (pixel centres, image coordinates, y down), from raw moments.
    c = np.arange(WORK_RES, dtype=np.float64) + 0.5
    car = car.astype(np.float64)  # float64 sums: per-image results independent of the batch
    col, row = car.sum(1), car.sum(2)  # mass per column (x) / per row (y)
    mass = col.sum(1).astype(np.float64) + 1e-9
    cx, cy = col @ c / mass, row @ c / mass
    mu20 = col @ (c * c) / mass - cx * cx
    mu02 = row @ (c * c) / mass - cy * cy
    mu11 = np.einsum("nij,i,j->n", car, c, c) / mass - cx * cy
    theta = -0.5 * np.arctan2(2 * mu11, mu20 - mu02)  # counter-clockwise, radians
    cs, sn = np.cos(theta), np.sin(theta)
    var_u = cs * cs * mu20 + sn * sn * mu02 - 2 * cs * sn * mu11
    var_v = sn * sn * mu20 + cs * cs * mu02 + 2 * cs * sn * mu11
    length = np.sqrt(12.0 * np.maximum(var_u, 1e-9))  # length of a uniform bar with this spread

    # Canonical frame: sample the paint and dark masks on a grid along/across the car axis, at
    # centre + L * (u * e_u + v * e_v) with e_u = (cos, -sin), e_v = (sin, cos) in image coordinates.
    gu = ((np.arange(_CANON_W) + 0.5) / _CANON_W * 2 - 1) * _CANON_SPAN_U
    gv = ((np.arange(_CANON_H) + 0.5) / _CANON_H * 2 - 1) * _CANON_SPAN_V
    uu, vv = np.meshgrid(gu, gv)
    ln, c_, s_ = length[:, None, None], cs[:, None, None], sn[:, None, None]
    px = cx[:, None, None] + ln * (c_ * uu + s_ * vv)
    py = cy[:, None, None] + ln * (-s_ * uu + c_ * vv)
    grid = torch.from_numpy(np.stack([px, py], axis=-1) * (2.0 / WORK_RES) - 1.0).float()
    masks = torch.from_numpy(np.stack([paint, dark], axis=1))
    canon = F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False).numpy()
    return {
        "hue": h,
        "rotation": np.rad2deg(theta),
        "moments": np.stack(
            [length / WORK_RES, np.sqrt(np.maximum(var_v, 0)) / WORK_RES, np.sqrt(mass) / WORK_RES,
             np.sqrt(dark.sum((1, 2))) / WORK_RES, np.sqrt(paint.sum((1, 2))) / WORK_RES], axis=1
        ),
        "canon": canon.reshape(n, -1),
    }


def _design(feats: dict[str, np.ndarray]) -> np.ndarray:
    """Design matrix of the geometry read-out: bias, moment features (and squares), canonical masks.

    Moment features are scaled up so the ridge penalty (uniform over columns) barely shrinks them."""
    mom = feats["moments"] * _MOMENT_SCALE
    return np.concatenate([np.ones((len(mom), 1)), mom, mom**2, feats["canon"]], axis=1)


def _degrade(images: np.ndarray, seed: int) -> np.ndarray:
    """Calibration augmentation: mild blur, gain/offset and noise on most images, so the read-out
    also holds on GAN samples and re-compressed photos rather than only on crisp renders."""
    rng = np.random.default_rng(seed)
    n = len(images)
    sigma = np.where(rng.random(n) < _CLEAN_FRACTION, 0.0, rng.uniform(0.0, _MAX_BLUR, n))
    gain, offset = rng.uniform(0.92, 1.08, n), rng.uniform(-12.0, 12.0, n)
    noise = rng.uniform(0.0, 6.0, n)
    out = np.empty_like(images)
    for i, im in enumerate(images):
        x = cv2.GaussianBlur(im, (0, 0), sigma[i]) if sigma[i] > 0.05 else im
        x = x.astype(np.float32) * gain[i] + offset[i] + rng.normal(0.0, noise[i], x.shape).astype(np.float32)
        out[i] = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return out


@lru_cache(maxsize=4)
def _calibration(resolution: int) -> dict[str, np.ndarray]:
    """Fit the read-out on fresh renders (deterministic; cached per process). Inputs smaller than
    WORK_RES get a read-out of their own, fitted on renders at their resolution, upsampled alike."""
    attrs = sample_attributes(_CAL_N, _CAL_SEED)
    feats = _measure(_degrade(render(attrs, resolution), _CAL_SEED))
    cal: dict[str, np.ndarray] = {}
    for name in ("hue", "rotation"):
        a = np.stack([feats[name], np.ones(_CAL_N)], axis=1)
        cal[name] = np.linalg.lstsq(a, attrs[name], rcond=None)[0]
    design = _design(feats)
    gram = design.T @ design
    reg = _RIDGE * np.trace(gram) / len(gram) * np.eye(len(gram))
    reg[0, 0] = 0.0
    for name in _GEOMETRY:
        cal[name] = np.linalg.solve(gram + reg, design.T @ attrs[name])
    return cal
