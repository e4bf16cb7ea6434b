"""Step 1: train a GAN on the catalog (non-saturating logistic loss + lazy R1, EMA of G), optionally
followed by a tune phase (lower rate, slower EMA, lazy path-length regularization of G; `schedule`).

Resumable: models, EMA, optimizers, step, the private RNG state and the loss history all live in the
checkpoint, and a run continued from a checkpoint is identical to an uninterrupted one. A GAN
checkpoint without training state (an imported StyleGAN2: G, G_ema, maybe D, step 0) fine-tunes from
its weights with fresh optimizers (and a fresh D if it has none). Progress
(losses, throughput, uint8 sample grids) goes to `on_progress` and the returned history; the engine
writes no image files.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edit_core.checkpoint import load_checkpoint, save_checkpoint
from edit_core.configs import GanTrainConfig
from edit_core.imageops import resolve_device, to_tensor
from edit_core.models import ModelConfig, build_discriminator, build_generator
from edit_core.training import (
    CheckpointClock,
    ImageSource,
    TelemetryFn,
    after_step,
    check_resume,
    image_grid,
    sample_indices,
)


def schedule(train: GanTrainConfig, step: int) -> tuple[float, float, float]:
    """(lr, ema_beta, pl_weight) in force at `step` (0-based): the main phase, or the tune phase."""
    if 0 < train.tune_from <= step:
        return train.tune_lr, train.tune_ema_beta, train.tune_pl_weight
    return train.lr, train.ema_beta, train.pl_weight


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model (parameters); buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


AUGMENTS = ("color", "translation", "cutout")


def augment_policy(spec: str) -> tuple[str, ...]:
    """"color,translation,cutout" -> the transforms, checked ("" = none)."""
    policy = tuple(p.strip() for p in spec.split(",") if p.strip())
    unknown = [p for p in policy if p not in AUGMENTS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown}; choose from {', '.join(AUGMENTS)}")
    return policy


def diff_augment(x: Tensor, policy: tuple[str, ...], gen: torch.Generator) -> Tensor:
    """Differentiable augmentation (DiffAugment, Zhao et al. 2020) of images [B, 3, R, R] in [-1, 1]: random
    brightness / saturation / contrast ("color"), a shift of up to 1/8 of the size with zero fill
    ("translation"), a zeroed square of half the size ("cutout"); per image, drawn from `gen` (so a resumed
    run draws the same). Gradients flow through every transform, so G learns through them, and D, which
    only ever sees augmented images, cannot memorise a small catalog."""
    b, _, h, w = x.shape

    def draw(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=gen).to(x.device, x.dtype)

    if "color" in policy:
        x = x + (draw(b, 1, 1, 1) - 0.5)  # brightness (±0.25 of the range)
        grey = x.mean(1, keepdim=True)
        x = (x - grey) * (draw(b, 1, 1, 1) * 2) + grey  # saturation × [0, 2)
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (x - mean) * (draw(b, 1, 1, 1) + 0.5) + mean  # contrast × [0.5, 1.5)
    if "translation" in policy:
        shift = (draw(b, 2) * 2 - 1) * 0.25  # up to 1/8 of the size, in grid units ([-1, 1] spans the image)
        theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    if "cutout" in policy:
        cy, cx = (draw(b, 1, 1) * h).long(), (draw(b, 1, 1) * w).long()
        ys = torch.arange(h, device=x.device).view(1, h, 1)
        xs = torch.arange(w, device=x.device).view(1, 1, w)
        hole = ((ys - cy).abs() < h // 4) & ((xs - cx).abs() < w // 4)
        x = x * (~hole).unsqueeze(1).to(x.dtype)
    return x


def d_loss(D: nn.Module, real: Tensor, fake: Tensor, r1_weight: float) -> tuple[Tensor, Tensor]:
    """Logistic D loss softplus(D(fake)) + softplus(-D(real)), plus r1_weight/2 * ||grad_x D(real)||^2.

    Returns (total loss, R1 penalty); R1 is 0 when r1_weight is 0 (lazy regularization off-steps).
    """
    real = real.detach().requires_grad_(r1_weight > 0)
    logits_real = D(real)
    loss = F.softplus(D(fake)).mean() + F.softplus(-logits_real).mean()
    if r1_weight == 0:
        return loss, torch.zeros((), device=real.device)
    (grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
    r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
    return loss + 0.5 * r1_weight * r1, r1.detach()


def g_loss(D: nn.Module, fake: Tensor) -> Tensor:
    """Non-saturating G loss softplus(-D(G(z)))."""
    return F.softplus(-D(fake)).mean()


def path_length_penalty(G: nn.Module, z: Tensor, y: Tensor, pl_mean: Tensor, decay: float) -> tuple[Tensor, Tensor]:
    """StyleGAN2 path-length regularizer in W: mean (||J_w^T y|| - a)^2 with J_w = dG(w)/dw, y = image-shaped
    N(0, I) noise scaled by 1/sqrt(H*W), and a a running mean of the lengths. It pushes G towards a
    Jacobian of the same scale at every w (smooth, so latent moves stay linear in image space).

    Returns (penalty, updated running mean a)."""
    w = G.mapping(z)
    if not w.requires_grad:  # a mapping without parameters (dcgan: w = z)
        w = w.detach().requires_grad_(True)
    img = G.synthesis(w)
    (grad,) = torch.autograd.grad((img * y / math.sqrt(img.shape[2] * img.shape[3])).sum(), w, create_graph=True)
    lengths = grad.pow(2).sum(1).sqrt()
    pl_mean = pl_mean.lerp(lengths.mean().detach(), decay)
    return (lengths - pl_mean).pow(2).mean(), pl_mean


def train_gan(data: ImageSource, model: ModelConfig, train: GanTrainConfig, ckpt_path: str | Path,
              device: str | torch.device = "auto", on_progress: TelemetryFn | None = None) -> dict:
    """Train G and D on `data` until `train.steps`, resuming from `ckpt_path` if it exists.

    Returns the history: lists `step`, `loss_G`, `loss_D`, `r1` (one entry per log; `img_per_s` only in events) and
    `samples`, a list of (step, uint8 grid of G_ema on 16 fixed z) made during this call.
    """
    device = resolve_device(device)
    ckpt_path = Path(ckpt_path)
    G = build_generator(model, seed=train.seed).to(device)
    D = build_discriminator(model, seed=train.seed + 1).to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    lazy = train.r1_every / (train.r1_every + 1)  # lazy-regularization correction of D's Adam
    opt_G = torch.optim.Adam(G.parameters(), lr=train.lr, betas=train.betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=train.lr * lazy,
                             betas=(train.betas[0] ** lazy, train.betas[1] ** lazy))
    gen = torch.Generator().manual_seed(train.seed)
    history: dict = {"step": [], "loss_G": [], "loss_D": [], "r1": []}  # no wall-clock values: saved in the ckpt
    step = 0
    pl_mean = torch.zeros((), device=device)
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, device)
        check_resume(ckpt, ckpt_path, "gan", model.to_dict())
        G.load_state_dict(ckpt["G"])
        G_ema.load_state_dict(ckpt["G_ema"])
        if "D" in ckpt:  # an imported generator may come without its discriminator: D starts fresh
            D.load_state_dict(ckpt["D"])
        if "opt_G" in ckpt:  # a trainer's own checkpoint; an imported one (no training state) starts them afresh
            opt_G.load_state_dict(ckpt["opt_G"])
            opt_D.load_state_dict(ckpt["opt_D"])
            gen.set_state(ckpt["rng"])
            history = {k: v for k, v in ckpt["history"].items() if k != "img_per_s"}
        step = ckpt.get("step", 0)
        pl_mean = torch.as_tensor(ckpt.get("pl_mean", 0.0), device=device)  # absent before path-length reg
    history["samples"] = []
    fixed_z = G.sample_z(16, train.seed)

    def save() -> None:
        save_checkpoint(ckpt_path, kind="gan", config=model, G=G.state_dict(), G_ema=G_ema.state_dict(),
                        D=D.state_dict(), opt_G=opt_G.state_dict(), opt_D=opt_D.state_dict(),
                        rng=gen.get_state(), step=step, train=asdict(train), pl_mean=pl_mean.item(),
                        history={k: v for k, v in history.items() if k != "samples"})

    def add_samples() -> np.ndarray:
        with torch.no_grad():
            grid = image_grid(G_ema(fixed_z), cols=4)
        history["samples"].append((step, grid))
        return grid

    G.train()
    D.train()
    policy = augment_policy(train.augment)
    t0, seen = time.perf_counter(), 0
    clock = CheckpointClock(train.ckpt_seconds)
    while step < train.steps:
        lr, ema_beta, pl_weight = schedule(train, step)
        for opt, rate in ((opt_G, lr), (opt_D, lr * lazy)):  # also on resume: Adam's saved state carries the old rate
            for group in opt.param_groups:
                group["lr"] = rate
        real = to_tensor(data[sample_indices(len(data), train.batch_size, gen)], device)
        z = torch.randn(real.shape[0], model.z_dim, generator=gen).to(device)
        fake = G(z)

        if policy:  # D sees real and fake through the same kind of random, differentiable transforms
            real, fake = diff_augment(real, policy, gen), diff_augment(fake, policy, gen)

        D.requires_grad_(True)
        r1_weight = train.r1_gamma * train.r1_every if step % train.r1_every == 0 else 0.0
        loss_D, r1 = d_loss(D, real, fake.detach(), r1_weight)
        opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        opt_D.step()

        D.requires_grad_(False)
        loss_G = g_loss(D, fake)
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        opt_G.step()
        if pl_weight > 0 and step % train.pl_every == 0:
            z_pl = z[: max(1, len(z) // 2)]
            y = torch.randn(len(z_pl), model.channels, model.resolution, model.resolution, generator=gen).to(device)
            pl, pl_mean = path_length_penalty(G, z_pl, y, pl_mean, train.pl_decay)
            opt_G.zero_grad(set_to_none=True)
            (pl_weight * train.pl_every * pl).backward()
            opt_G.step()

        update_ema(G_ema, G, min(ema_beta, (1 + step) / (10 + step)))
        step += 1
        seen += real.shape[0]

        after_step(step, train, {"loss_G": loss_G, "loss_D": loss_D, "r1": r1},
                   seen / (time.perf_counter() - t0), history, add_samples, save, on_progress, clock)
    if not history["samples"]:
        add_samples()
    return history
