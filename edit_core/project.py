"""Projecting photos onto the GAN manifold (iGAN §4.1): encoder, optimization, hybrid.

Loss per image (iGAN): mean squared pixel error + feature_weight × deep-feature distance (mean squared
per layer, summed over layers, as `features.feature_distance`). iGAN solves it per image with L-BFGS;
here every image and every start of a batch is one row of a single Adam problem: the loss is summed
over rows and Adam updates each element from its own gradient history, so a row's trajectory does not
depend on the other rows (the batch result equals the one-at-a-time result) while one forward/backward
pass serves the whole batch.

Modes: `encoder` (w = E(x)), `optimize` (from the mean w, plus `starts − 1` random latents from G;
best kept per image), `hybrid` (E(x) as the first start, then the same optimization). Random starts are
the same for every image (drawn once from `seed`), so an image's result never depends on its batch.

W vs W+ (`w_plus`): W+ gives every synthesis layer its own code and reconstructs more faithfully, but
codes drift off the region G was trained on, so latent edits (Δ*, α) transfer less reliably; W keeps
projections on-manifold and editable at some cost in fidelity. The pipeline's default is W.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from edit_core.configs import ProjectConfig
from edit_core.features import FeatureExtractor
from edit_core.models.base import Generator

MODES = ("encoder", "optimize", "hybrid")


@dataclass
class Projection:
    """Per-image result of `project`."""

    w: Tensor  # [B, w_dim] or [B, num_ws, w_dim]
    recon: Tensor  # [B, 3, R, R] in [-1, 1]
    err_pixel: Tensor  # [B] mean squared pixel error in [-1, 1] units
    err_feature: Tensor  # [B] feature distance (NaN when no feature extractor was given)


def check_images(G: Generator, images: Tensor, name: str = "images") -> None:
    """Raise a one-line ValueError unless `images` is [B, 3, R, R] at the generator's resolution."""
    r = G.resolution
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[2:] != (r, r):
        raise ValueError(f"{name} must be [B, 3, {r}, {r}] for this generator, got {tuple(images.shape)}")


def _row_mean_square(d: Tensor) -> Tensor:
    """Mean of d² over every dim but the batch, [B]. Summed and then divided: mean's backward writes a
    contiguous gradient, which the channels_last convolutions behind d would copy back per layer."""
    return d.pow(2).sum(tuple(range(1, d.ndim))) / d[0].numel()


def _row_losses(
    recon: Tensor, images: Tensor, features: FeatureExtractor | None, target_feats: list[Tensor] | None
) -> tuple[Tensor, Tensor]:
    """(mean squared pixel error, feature distance) per row; feature distance is NaN without features."""
    pixel = _row_mean_square(recon - images)
    if features is None or target_feats is None:
        return pixel, torch.full_like(pixel, float("nan"))
    feat = sum(_row_mean_square(a - b) for a, b in zip(features(recon), target_feats, strict=True))
    return pixel, feat


def _initial_latents(
    G: Generator, images: Tensor, mode: str, encoder: nn.Module | None, init: Tensor | None
) -> Tensor:
    """First start per image: `init`, else E(x) (encoder / hybrid), else the mean w. Shape [B, ...]."""
    if init is not None:
        if init.ndim not in (2, 3) or len(init) != len(images):
            raise ValueError(f"init must be [B, w_dim] or [B, num_ws, w_dim] with B = {len(images)}, got {tuple(init.shape)}")
        return init.detach().to(images)
    if mode == "optimize":
        return G.mean_w().to(images).expand(len(images), -1)
    if encoder is None:
        raise ValueError(f"mode {mode!r} needs an encoder")
    with torch.no_grad():
        return encoder(images)


def project(
    G: Generator,
    images: Tensor,
    mode: str = ProjectConfig.mode,
    encoder: nn.Module | None = None,
    features: FeatureExtractor | None = None,
    steps: int = ProjectConfig.steps,
    lr: float = ProjectConfig.lr,
    feature_weight: float = ProjectConfig.feature_weight,
    w_plus: bool = ProjectConfig.w_plus,
    wplus_pull: float = ProjectConfig.wplus_pull,
    starts: int = ProjectConfig.starts,
    seed: int = ProjectConfig.seed,
    init: Tensor | None = None,
) -> Projection:
    """Project images [B, 3, R, R] in [-1, 1] to latents of G; see the module docstring for the modes.

    `init` ([B, w_dim] or [B, num_ws, w_dim]) replaces the first start (E(x) or the mean w), e.g. to
    project an edited photo from the latent of its original. `encoder` mode ignores steps and starts.
    `wplus_pull` (W+ only) adds wplus_pull · mean over layers of ||w_l − w̄||² / w_dim to each image's loss,
    w̄ the mean over layers: W+ fidelity with latents that stay close to W, where edits transfer.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if starts < 1 or steps < 0:
        raise ValueError("starts must be >= 1 and steps >= 0")
    check_images(G, images)
    images = images.detach()
    b = len(images)

    first = _initial_latents(G, images, mode, encoder, init)
    if first.ndim == 3 and not w_plus:
        raise ValueError("got W+ latents (from a W+ encoder or init) but w_plus=False")
    if mode == "encoder":
        steps, starts = 0, 1
    with torch.no_grad():  # mapping of G's own z draws, cast first so any dtype of G works
        extra = G.mapping(G.sample_z(starts - 1, seed).to(images))
    if w_plus:
        first, extra = G.ws(first), G.ws(extra)
    latent_shape = first.shape[1:]
    w = torch.cat([first.unsqueeze(1), extra.unsqueeze(0).expand(b, *extra.shape)], dim=1)
    w = w.reshape(b * starts, *latent_shape).clone().requires_grad_(True)

    target = images.repeat_interleave(starts, dim=0)
    with torch.no_grad():  # once per call, in the layout the extractor gives recon's features
        target_feats = None if features is None else features(target)

    def total(recon: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        pixel, feat = _row_losses(recon, target, features, target_feats)
        return (pixel if features is None else pixel + feature_weight * feat), pixel, feat

    def pull(latents: Tensor) -> Tensor:
        if not (w_plus and wplus_pull):
            return torch.zeros(len(latents), dtype=latents.dtype, device=latents.device)
        return wplus_pull * (latents - latents.mean(1, keepdim=True)).pow(2).mean((1, 2))

    opt = torch.optim.Adam([w], lr=lr)
    for _ in range(steps):
        loss = total(G.synthesis(w))[0] + pull(w)
        (w.grad,) = torch.autograd.grad(loss.sum(), w)
        opt.step()

    with torch.no_grad():
        recon = G.synthesis(w)
        loss, pixel, feat = total(recon)
        loss = loss + pull(w)
        best = loss.view(b, starts).argmin(1) + torch.arange(b, device=loss.device) * starts
        return Projection(w=w.detach()[best], recon=recon[best], err_pixel=pixel[best], err_feature=feat[best])
