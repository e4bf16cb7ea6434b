"""One-example editing direction Δ* (Edit One for All §3.1).

The user's latent edit Δw = w0' − w0 reproduces the example but need not be globally consistent.
Δ* is fitted to reproduce the same image edit (L_img) while making the edited example lie on the
hyperplane normal to Δ* through the origin (L_att), so that distance along Δ* measures the attribute:

    L = ||G(w0 + Δw) − G(w0 + Δ*)||₂ + λ·|(w0 − origin + Δ*)·Δ*|

Origin convention: `origin=None` measures latents raw (the paper), `origin=mean_w` centres them on the
mean latent (the pipeline's choice). L_att, hence Δ*, depends on it; α (alphas.py) does not, because
the origin cancels in (w0' − w_i)·n.

Authors' variant (`anchors > 0`): their code also samples strengths s ~ U(−1, 1) on random anchor
latents. Here the anchors are `anchors` latents drawn from G (fixed per seed), each step draws fresh
strengths and adds ||G(w_a + s·Δw) − G(w_a + s·Δ*)||₂ for every anchor, so Δ* must reproduce Δw's
effect across the latent space and at partial strengths, not only at w0; L_img is the mean over the
example and the anchors, which keeps λ on the same scale as without anchors.

Defaults follow the paper (Δ* starts at zero); with zero init Δ* has to travel the full ||Δw||, so
the defaults use more steps and a larger lr than the authors' (init='delta', 60 steps, lr 1e-3).
"""

from __future__ import annotations

import torch
from torch import Tensor

from edit_core.models.base import Generator


def attribute_loss(w0: Tensor, delta_star: Tensor, origin: Tensor | None = None) -> Tensor:
    """L_att = |(w0 − origin + Δ*)·Δ*|: distance (times ||Δ*||) of the edited example to the hyperplane."""
    base = w0 if origin is None else w0 - origin
    return ((base + delta_star).reshape(-1) @ delta_star.reshape(-1)).abs()


def image_loss(G: Generator, w0: Tensor, delta_w: Tensor, delta_star: Tensor) -> Tensor:
    """L_img = ||G(w0 + Δw) − G(w0 + Δ*)||₂ for the example alone."""
    pair = torch.stack([w0 + delta_w, w0 + delta_star])
    img = G.synthesis(pair)
    return (img[0] - img[1]).norm()


def fit_direction(
    G: Generator,
    w0: Tensor,
    delta_w: Tensor,
    lam: float = 0.02,
    steps: int = 200,
    lr: float = 0.01,
    init: str = "zero",
    origin: Tensor | None = None,
    anchors: int = 0,
    seed: int = 0,
) -> Tensor:
    """Fit Δ* (same shape as w0: [w_dim] or [num_ws, w_dim]) to the example edit Δw with Adam."""
    if w0.shape != delta_w.shape:
        raise ValueError(f"w0 {tuple(w0.shape)} and delta_w {tuple(delta_w.shape)} must have the same shape")
    if origin is not None and origin.shape not in (w0.shape, w0.shape[-1:]):
        raise ValueError(f"origin of shape {tuple(origin.shape)} does not broadcast to w0 {tuple(w0.shape)}")
    if init not in ("zero", "delta"):
        raise ValueError(f"init must be 'zero' or 'delta', got {init!r}")
    if anchors < 0 or steps < 0:
        raise ValueError("anchors and steps must be >= 0")

    w0, delta_w = w0.detach(), delta_w.detach()
    bases = w0.unsqueeze(0)
    if anchors:
        with torch.no_grad():  # G's own z draws, cast first so any dtype of G works
            anchor_w = G.mapping(G.sample_z(anchors, seed).to(w0))
        if w0.ndim == 2:  # W+: every layer gets the anchor's W code
            anchor_w = anchor_w.unsqueeze(1).expand(-1, w0.shape[0], -1)
        bases = torch.cat([bases, anchor_w])
    view = (-1,) + (1,) * w0.ndim
    gen = torch.Generator().manual_seed(seed)

    delta_star = (torch.zeros_like(w0) if init == "zero" else delta_w.clone()).requires_grad_(True)
    opt = torch.optim.Adam([delta_star], lr=lr)
    target = None
    for _ in range(steps):
        strengths = torch.ones(len(bases), dtype=w0.dtype)
        strengths[1:] = torch.rand(anchors, generator=gen, dtype=w0.dtype) * 2 - 1
        strengths = strengths.to(w0.device).view(view)
        if target is None or anchors:
            with torch.no_grad():
                target = G.synthesis(bases + strengths * delta_w)
        pred = G.synthesis(bases + strengths * delta_star)
        l_img = (pred - target).flatten(1).norm(dim=1).mean()
        loss = l_img + lam * attribute_loss(w0, delta_star, origin)
        (delta_star.grad,) = torch.autograd.grad(loss, delta_star)
        opt.step()
    return delta_star.detach()
