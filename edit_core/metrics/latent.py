"""Latent-space metrics: final-state consistency (Edit One for All Table 2), linearity of an attribute
along the edit's normal (Fig. 8a), and how linearly an attribute can be read from w (the probe).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from edit_core.imageops import to_uint8
from edit_core.metrics.arrays import as_numpy


def final_state_mae(values: np.ndarray | torch.Tensor, target: float | np.ndarray) -> float:
    """Mean absolute error of the edited images' attribute vs the example's edited value.

    Edit One for All, Table 2: every edited image should reach the example's final state."""
    v = as_numpy(values).astype(np.float64).ravel()
    return float(np.abs(v - np.asarray(target, dtype=np.float64)).mean())


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination; nan when y is constant (R² undefined)."""
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(((y - pred) ** 2).sum()) / ss_tot


def linearity_r2(distances: np.ndarray | torch.Tensor, attribute_values: np.ndarray | torch.Tensor) -> float:
    """R² of the least-squares line attribute ~ distance-to-hyperplane (Edit One for All, Fig. 8a)."""
    d = as_numpy(distances).astype(np.float64).ravel()
    y = as_numpy(attribute_values).astype(np.float64).ravel()
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
    xtr = as_numpy(w_train).astype(np.float64).reshape(len(w_train), -1)
    xte = as_numpy(w_test).astype(np.float64).reshape(len(w_test), -1)
    ytr = as_numpy(y_train).astype(np.float64).ravel()
    yte = as_numpy(y_test).astype(np.float64).ravel()
    mu, sd = xtr.mean(0), xtr.std(0)
    sd[sd == 0] = 1.0
    ztr, zte = (xtr - mu) / sd, (xte - mu) / sd
    gram = ztr.T @ ztr + ridge * len(ztr) * np.eye(ztr.shape[1])
    coef = np.linalg.lstsq(gram, ztr.T @ (ytr - ytr.mean()), rcond=None)[0]
    return _r2(yte, zte @ coef + ytr.mean())


@torch.no_grad()
def attribute_probe(G: nn.Module, estimate: Callable[[np.ndarray], dict[str, np.ndarray]], n_train: int = 2000,
                    n_test: int = 1000, seed: int = 0, batch_size: int = 250) -> dict[str, float]:
    """How linearly readable each attribute is from w: held-out R² of a linear probe w -> attribute.

    Samples n_train + n_test latents w, renders G(w), reads the attributes back with `estimate`
    (e.g. `edit_core.estimators.estimate_attributes`), fits the probe on the first n_train and scores
    it on the rest. This is the measurement behind the choice of backbone and defaults.
    """
    w = G.sample_w(n_train + n_test, seed)
    images = np.concatenate([to_uint8(G.synthesis(w[i: i + batch_size])) for i in range(0, len(w), batch_size)])
    attrs = estimate(images)
    w_np = w.flatten(1).cpu().numpy()
    return {name: linear_probe_r2(w_np[:n_train], y[:n_train], w_np[n_train:], y[n_train:])
            for name, y in attrs.items()}
