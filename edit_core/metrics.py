"""Evaluation metrics: final-state consistency, latent linearity, reconstruction and edit locality.

Per-image metrics return one value per image ([N] float64 arrays) so callers can aggregate as they
wish; summary metrics return a float. Arrays may be numpy arrays or (CPU or device) torch tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from skimage.metrics import structural_similarity

from edit_core.demo_catalog import render, render_edited


def _np(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Numpy view of an array or a tensor on any device."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _batch(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """[H, W, C] or [N, H, W, C] -> [N, H, W, C]."""
    arr = _np(images)
    return arr[None] if arr.ndim == 3 else arr


def final_state_mae(values: np.ndarray | torch.Tensor, target: float | np.ndarray) -> float:
    """Mean absolute error of the edited images' attribute vs the example's edited value.

    Edit One for All, Table 2: every edited image should reach the example's final state."""
    v = _np(values).astype(np.float64).ravel()
    return float(np.abs(v - np.asarray(target, dtype=np.float64)).mean())


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination; nan when y is constant (R² undefined)."""
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(((y - pred) ** 2).sum()) / ss_tot


def linearity_r2(distances: np.ndarray | torch.Tensor, attribute_values: np.ndarray | torch.Tensor) -> float:
    """R² of the least-squares line attribute ~ distance-to-hyperplane (Edit One for All, Fig. 8a)."""
    d = _np(distances).astype(np.float64).ravel()
    y = _np(attribute_values).astype(np.float64).ravel()
    if len(d) != len(y) or len(d) < 3:
        raise ValueError(f"need >= 3 paired values, got {len(d)} distances and {len(y)} attribute values")
    a = np.stack([d, np.ones_like(d)], axis=1)
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    return _r2(y, a @ coef)


def linear_probe_r2(
    w_train: np.ndarray | torch.Tensor,
    y_train: np.ndarray | torch.Tensor,
    w_test: np.ndarray | torch.Tensor,
    y_test: np.ndarray | torch.Tensor,
    ridge: float = 1e-3,
) -> float:
    """Held-out R² of a ridge probe y ≈ w·b + c (how linearly readable an attribute is from w).

    Latents of any shape [N, ...] are flattened; features are standardised on the training set and
    `ridge` is relative to the mean feature variance (0 = least squares)."""
    xtr = _np(w_train).astype(np.float64).reshape(len(w_train), -1)
    xte = _np(w_test).astype(np.float64).reshape(len(w_test), -1)
    ytr = _np(y_train).astype(np.float64).ravel()
    yte = _np(y_test).astype(np.float64).ravel()
    mu, sd = xtr.mean(0), xtr.std(0)
    sd[sd == 0] = 1.0
    ztr, zte = (xtr - mu) / sd, (xte - mu) / sd
    gram = ztr.T @ ztr + ridge * len(ztr) * np.eye(ztr.shape[1])
    coef = np.linalg.lstsq(gram, ztr.T @ (ytr - ytr.mean()), rcond=None)[0]
    return _r2(yte, zte @ coef + ytr.mean())


def pixel_mse(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image mean squared pixel error in [-1, 1] units (uint8 inputs are mapped to [-1, 1];
    float inputs are taken as already in [-1, 1]), matching `Projection.err_pixel`."""
    x, y = _batch(a), _batch(b)
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch {x.shape} vs {y.shape}")
    x = x / 127.5 - 1.0 if x.dtype == np.uint8 else x.astype(np.float64)
    y = y / 127.5 - 1.0 if y.dtype == np.uint8 else y.astype(np.float64)
    return ((x - y) ** 2).reshape(len(x), -1).mean(1)


def feature_distance(
    feats_a: Sequence[np.ndarray | torch.Tensor], feats_b: Sequence[np.ndarray | torch.Tensor]
) -> np.ndarray:
    """Per-image feature distance from precomputed per-layer features [N, ...]: mean squared
    difference over each layer, summed over layers (same convention as `features.feature_distance`)."""
    if len(feats_a) != len(feats_b) or not feats_a:
        raise ValueError("need the same, non-zero number of layers on both sides")
    total = 0.0
    for fa, fb in zip(feats_a, feats_b, strict=True):
        x, y = _np(fa).astype(np.float64), _np(fb).astype(np.float64)
        total = total + ((x - y) ** 2).reshape(len(x), -1).mean(1)
    return np.asarray(total)


def reconstruction_errors(
    images: np.ndarray | torch.Tensor,
    recon: np.ndarray | torch.Tensor,
    feats_images: Sequence[np.ndarray | torch.Tensor] | None = None,
    feats_recon: Sequence[np.ndarray | torch.Tensor] | None = None,
) -> dict[str, np.ndarray]:
    """Per-image reconstruction errors: `pixel_mse`, and `feature` when features are given."""
    out = {"pixel_mse": pixel_mse(images, recon)}
    if feats_images is not None and feats_recon is not None:
        out["feature"] = feature_distance(feats_images, feats_recon)
    return out


def _data_range(x: np.ndarray) -> float:
    return 255.0 if x.dtype == np.uint8 else 2.0  # floats: the engine's [-1, 1]


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image PSNR in dB of HWC/NHWC images (uint8: range 255; float: range 2); inf if identical."""
    x, y = _batch(a), _batch(b)
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch {x.shape} vs {y.shape}")
    mse = ((x.astype(np.float64) - y.astype(np.float64)) ** 2).reshape(len(x), -1).mean(1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(_data_range(x) ** 2 / mse)


def ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image SSIM (scikit-image, Gaussian-free 7x7 windows, colour channels averaged)."""
    x, y = _batch(a), _batch(b)
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch {x.shape} vs {y.shape}")
    rng = _data_range(x)
    return np.array(
        [structural_similarity(p, q, channel_axis=-1, data_range=rng) for p, q in zip(x, y, strict=True)]
    )


def edit_region_mask(
    ideal_before: np.ndarray, ideal_after: np.ndarray, threshold: float = 8.0, dilate: int = 0
) -> np.ndarray:
    """Bool [N, H, W]: pixels where the ideal before/after uint8 renders differ by more than
    `threshold` grey levels in some channel, grown by `dilate` pixels (tolerance for misalignment)."""
    x, y = _batch(ideal_before).astype(np.int16), _batch(ideal_after).astype(np.int16)
    mask = np.abs(x - y).max(axis=-1) > threshold
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = np.stack([cv2.dilate(m.astype(np.uint8), kernel) > 0 for m in mask])
    return mask


def ideal_edit_mask(
    attrs: dict[str, np.ndarray],
    name: str,
    value: float | np.ndarray,
    resolution: int,
    threshold: float = 8.0,
    dilate: int = 0,
) -> np.ndarray:
    """Edit region of demo-catalog rows: where `render` and `render_edited(name=value)` differ."""
    return edit_region_mask(
        render(attrs, resolution), render_edited(attrs, name, value, resolution), threshold, dilate
    )


def outside_change(
    before: np.ndarray | torch.Tensor, after: np.ndarray | torch.Tensor, mask: np.ndarray
) -> np.ndarray:
    """Per-image mean absolute change (grey levels for uint8) over pixels OUTSIDE the edit mask:
    how much the edit disturbed what it should not touch. nan where the mask covers everything."""
    x, y = _batch(before).astype(np.float64), _batch(after).astype(np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch {x.shape} vs {y.shape}")
    m = np.asarray(mask, dtype=bool)
    m = np.broadcast_to(m[None] if m.ndim == 2 else m, x.shape[:3])
    keep = ~m
    diff = np.abs(x - y).mean(axis=-1)
    count = keep.reshape(len(x), -1).sum(1)
    total = (diff * keep).reshape(len(x), -1).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
