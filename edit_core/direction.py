"""One-example editing direction Δ* (Edit One for All §3.1).

The user's latent edit Δw = w0' − w0 reproduces the example but need not be globally consistent.
Δ* is fitted to reproduce the same image edit (L_img) while making the edited example lie on the
hyperplane normal to Δ* through the origin (L_att), so that distance along Δ* measures the attribute:

    L = L_img + λ·L_att,  L_img = ||G(w0 + Δw) − G(w0 + Δ*)||₂ / √(3·R·R),  L_att = |(w0 − origin + Δ*)·Δ*|

L_img is the paper's 2-norm divided by √(number of pixel values), i.e. the per-pixel RMS error. The
raw norm grows with √(3·R·R), so one λ cannot balance it at every resolution; and because a norm
(not its square) has a gradient J^T·e/||e|| that does not vanish at its minimum, a raw norm at 64 px
already outweighs λ·∇L_att ≈ 150×: started at Δw, Adam is pulled straight back and Δ* = Δw
(cos 0.9998, issue 14). Per pixel, λ weighs the two terms alike at any resolution. The default
λ is 0: on the demo G (||w0 − mean w|| ≈ 12) the paper's 0.02 makes L_att outweigh L_img, which
shrinks Δ* so that the example's own edit under-reaches; λ = 0 measured the best final state
(BENCHMARKS.md, issue 14), and the zero start alone already makes Δ* more linear than Δw.

Origin convention: `origin=None` measures latents raw (the paper), `origin=mean_w` centres them on the
mean latent (the pipeline's choice). L_att, hence Δ*, depends on it; α (alphas.py) does not, because
the origin cancels in (w0' − w_i)·n.

Anchors (`anchors > 0`, the authors' code): `anchors` latents drawn from G (fixed per seed); each step
draws fresh strengths s ~ U(−1, 1) and adds the RMS error between G(w_a + s·Δw) and G(w_a + s·Δ*) for
every anchor, so Δ* must reproduce Δw's effect across the latent space and at partial strengths, not
only at w0. L_img is the mean over the example and the anchors, which keeps λ on the same scale.

Start (`init`): `zero` (the paper) or `delta` (the authors' code: Δ* = Δw). From zero, gradient steps
on L_img only add what changes the image, so Δ* leaves out the parts of Δw that the projection put in
directions G ignores (which tilt Δw's normal without changing any image). Optimizer: AdamW, as both
the paper and the authors' code (torch's default decoupled weight decay, 0.01).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from edit_core.configs import DirectionConfig
from edit_core.models.base import Generator


def attribute_loss(w0: Tensor, delta_star: Tensor, origin: Tensor | None = None) -> Tensor:
    """L_att = |(w0 − origin + Δ*)·Δ*|: distance (times ||Δ*||) of the edited example to the hyperplane."""
    base = w0 if origin is None else w0 - origin
    return ((base + delta_star).reshape(-1) @ delta_star.reshape(-1)).abs()


def rms_error(a: Tensor, b: Tensor) -> Tensor:
    """Per-row RMS difference ||a − b||₂ / √(values per row) of image batches [B, C, H, W]."""
    diff = (a - b).flatten(1)
    return diff.norm(dim=1) / math.sqrt(diff.shape[1])




def layer_mask(w0: Tensor, layers: tuple[int, ...]) -> Tensor | None:
    """[num_ws, 1] mask of the W+ layers an edit may move (None: every layer); a one-line error for W."""
    if not layers:
        return None
    if w0.ndim != 2:
        raise ValueError("edit.direction.layers needs W+ latents (project.w_plus: true)")
    bad = [k for k in layers if not 0 <= k < w0.shape[0]]
    if bad:
        raise ValueError(f"edit.direction.layers {bad} outside the generator's {w0.shape[0]} layers")
    mask = torch.zeros(w0.shape[0], 1, dtype=w0.dtype, device=w0.device)
    mask[list(layers)] = 1.0
    return mask


def fit_direction(
    G: Generator,
    w0: Tensor,
    delta_w: Tensor,
    lam: float = DirectionConfig.lam,
    steps: int = DirectionConfig.steps,
    lr: float = DirectionConfig.lr,
    init: str = DirectionConfig.init,
    origin: Tensor | None = None,
    anchors: int = DirectionConfig.anchors,
    seed: int = DirectionConfig.seed,
    layers: tuple[int, ...] = DirectionConfig.layers,
) -> Tensor:
    """Fit Δ* (same shape as w0: [w_dim] or [num_ws, w_dim]) to the example edit Δw with AdamW; with
    `layers` (W+), Δw and Δ* are confined to those synthesis layers."""
    if w0.shape != delta_w.shape:
        raise ValueError(f"w0 {tuple(w0.shape)} and delta_w {tuple(delta_w.shape)} must have the same shape")
    if origin is not None and origin.shape not in (w0.shape, w0.shape[-1:]):
        raise ValueError(f"origin of shape {tuple(origin.shape)} does not broadcast to w0 {tuple(w0.shape)}")
    if init not in ("zero", "delta"):
        raise ValueError(f"init must be 'zero' or 'delta', got {init!r}")
    if anchors < 0 or steps < 0:
        raise ValueError("anchors and steps must be >= 0")

    w0, delta_w = w0.detach(), delta_w.detach()
    mask = layer_mask(w0, tuple(layers))
    if mask is not None:
        delta_w = delta_w * mask
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
    opt = torch.optim.AdamW([delta_star], lr=lr)
    target = None

    def confined(d: Tensor) -> Tensor:
        return d if mask is None else d * mask

    for _ in range(steps):
        strengths = torch.ones(len(bases), dtype=w0.dtype)
        strengths[1:] = torch.rand(anchors, generator=gen, dtype=w0.dtype) * 2 - 1
        strengths = strengths.to(w0.device).view(view)
        if target is None or anchors:
            with torch.no_grad():
                target = G.synthesis(bases + strengths * delta_w)
        l_img = rms_error(G.synthesis(bases + strengths * confined(delta_star)), target).mean()
        loss = l_img + lam * attribute_loss(w0, confined(delta_star), origin)
        (delta_star.grad,) = torch.autograd.grad(loss, delta_star)
        opt.step()
    return confined(delta_star.detach())
