"""Array inputs of the metrics: numpy arrays or torch tensors on any device, one image or a batch."""

from __future__ import annotations

import numpy as np
import torch


def as_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Numpy view of an array or a tensor on any device."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def as_batch(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """[H, W, C] or [N, H, W, C] -> [N, H, W, C]."""
    arr = as_numpy(images)
    return arr[None] if arr.ndim == 3 else arr
