"""Closed-form editing strength (Edit One for All §3.2): the one place the α formula lives.

The example's edited latent w0' = w0 + s·Δ* defines a hyperplane with unit normal n = Δ*/||Δ*||.
Every latent w_i is moved along n onto that hyperplane: α_i = (w0' − w_i)·n, w_i' = w_i + α_i·n, so
all edited images share the example's final state along n whatever their starting state. Dot products
flatten every non-batch dimension, so W [N, w_dim] and W+ [N, num_ws, w_dim] latents work alike. A
shift of the origin cancels in (w0' − w_i)·n: α never depends on where the latent space is centred.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _flat(w: Tensor, n: Tensor) -> Tensor:
    """[N, *n.shape] (or one unbatched latent of n.shape) -> [N, n.numel()]."""
    if w.shape == n.shape:
        w = w.unsqueeze(0)
    if w.shape[1:] != n.shape:
        raise ValueError(f"latents of shape {tuple(w.shape)} do not match the direction's shape {tuple(n.shape)}")
    return w.reshape(w.shape[0], -1)


def unit_normal(delta_star: Tensor) -> Tensor:
    """n = Δ*/||Δ*|| over all elements, same shape as Δ*."""
    norm = delta_star.norm()
    if not torch.isfinite(norm) or norm == 0:
        raise ValueError("the direction Δ* is zero (or not finite): it defines no hyperplane")
    return delta_star / norm


def example_target(w0: Tensor, delta_star: Tensor, strength: float = 1.0) -> Tensor:
    """The example's edited latent w0' = w0 + s·Δ*; s scales the example's own edit (s = 1: as fitted)."""
    return w0 + strength * delta_star


def closed_form_alphas(w: Tensor, target: Tensor, n: Tensor) -> Tensor:
    """α_i = (w0' − w_i)·n for a batch of latents w [N, *n.shape] -> [N]."""
    return (target.reshape(-1) - _flat(w, n)) @ n.reshape(-1)


def alphas_at_strength(alpha: Tensor, delta_star: Tensor, strength: float, new_strength: float) -> Tensor:
    """α at a new example strength without the latents: (w0 + s·Δ* − w_i)·n = α_i(s) + (s' − s)·||Δ*||."""
    return alpha + (new_strength - strength) * delta_star.norm()


def apply_alphas(w: Tensor, alpha: Tensor, n: Tensor) -> Tensor:
    """w_i' = w_i + α_i·n, same shape as w [N, *n.shape]."""
    flat = _flat(w, n)
    return (flat + alpha.reshape(-1, 1) * n.reshape(1, -1)).reshape(w.shape)


def distances(w: Tensor, target: Tensor, n: Tensor) -> Tensor:
    """Signed distance of each latent to the hyperplane through w0' with normal n: (w_i − w0')·n = −α_i."""
    return -closed_form_alphas(w, target, n)


def range_guard(alpha: Tensor, catalog_distances: Tensor, margin: float = 0.1) -> Tensor:
    """Flag edits that leave the part of the latent space the catalog itself spans along n.

    `catalog_distances` are the catalog's signed distances to the same hyperplane (`distances`), and
    `alpha` the exact α of the images to check, so image i starts at −α_i and ends at 0 along n. The
    allowed span is [min, max] of the catalog's distances widened by margin·(max − min) on each side.
    An image is flagged (True) when its start or its end falls outside: its own projection is an
    outlier, or the example's final state is one the catalog never shows (then every image is
    flagged). Flagged images are reported rather than pushed off the manifold.
    """
    if catalog_distances.numel() == 0:
        raise ValueError("range_guard needs at least one catalog distance")
    lo, hi = catalog_distances.min(), catalog_distances.max()
    pad = margin * (hi - lo)
    lo, hi = lo - pad, hi + pad
    start = -alpha
    start_out = (start < lo) | (start > hi)
    end_out = bool(lo > 0) or bool(hi < 0)
    return start_out | end_out
