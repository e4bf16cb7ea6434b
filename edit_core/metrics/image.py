"""Image metrics: PSNR / SSIM against a reference, and edit locality.

Per-image metrics return one value per image ([N] float64 arrays) so callers can aggregate as they
wish. Arrays may be numpy arrays or (CPU or device) torch tensors.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from skimage.metrics import structural_similarity

from edit_core.metrics.arrays import as_batch


def _data_range(x: np.ndarray) -> float:
    return 255.0 if x.dtype == np.uint8 else 2.0  # floats: the engine's [-1, 1]


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image PSNR in dB of HWC/NHWC images (uint8: range 255; float: range 2); inf if identical."""
    x, y = as_batch(a), as_batch(b)
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch {x.shape} vs {y.shape}")
    mse = ((x.astype(np.float64) - y.astype(np.float64)) ** 2).reshape(len(x), -1).mean(1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(_data_range(x) ** 2 / mse)


def ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image SSIM (scikit-image, Gaussian-free 7x7 windows, colour channels averaged)."""
    x, y = as_batch(a), as_batch(b)
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
    x, y = as_batch(ideal_before).astype(np.int16), as_batch(ideal_after).astype(np.int16)
    mask = np.abs(x - y).max(axis=-1) > threshold
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = np.stack([cv2.dilate(m.astype(np.uint8), kernel) > 0 for m in mask])
    return mask


def outside_change(
    before: np.ndarray | torch.Tensor, after: np.ndarray | torch.Tensor, mask: np.ndarray
) -> np.ndarray:
    """Per-image mean absolute change (grey levels for uint8) over pixels OUTSIDE the edit mask:
    how much the edit disturbed what it should not touch. nan where the mask covers everything."""
    x, y = as_batch(before).astype(np.float64), as_batch(after).astype(np.float64)
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
