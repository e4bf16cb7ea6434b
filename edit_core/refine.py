"""Per-photo refinement: after the closed-form α, each photo takes a few steps to the example's final look.

One direction with a closed-form α sets ONE latent coordinate to the example's (§3.2). An attribute
that G spreads over several latent dimensions (paint colour: a red car and a teal one reach the
example's blue along different paths) stays short of it: the closed form moves a red car toward yellow.
G can render every car blue; a short optimization per photo finds where (iGAN's brush, §4.1.4, with
the example's final look as the constraint and the photo's own edit region as the brush's mask).

Each photo starts at w_i + δ_i with δ_i = α_i·n and takes `steps` Adam steps on δ:

    ||look(G(w_i + δ), M_i) − look*||²_weights + keep·mean((1 − M_i)·(G(w_i + δ) − G(w_i + δ_start))²)
                                               + pull·mean((δ − δ_start)²)

- M_i, the photo's edit region: where its closed-form render differs from its own render, relative to
  that photo's change (edit_core/region.py);
- look(x, M): x's mean colour inside M in an opponent basis (lightness, two chroma axes, `appearance`);
- look*: the example's final look, G(w_ex + s·Δ*) in its own region (`final_look`), with weights that say
  which of its parts the example's edit sets: the colour change that remains once the edit's motion is
  undone (the transfer's own flow): a repaint sets chroma, a brightening sets lightness, a rotation or a
  resize sets neither (its region's colours only move), so the refinement then keeps the closed form;
- keep holds everything outside M_i where the closed form put it, pull keeps δ near the closed form.

Loss terms are per photo and summed, so a photo's result does not depend on its batch (as in project.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from edit_core.configs import RefineConfig
from edit_core.imageops import to_tensor
from edit_core.models.base import Generator
from edit_core.region import edit_region
from edit_core.transfer import estimate_change, warp

# Orthonormal opponent basis of RGB: lightness (the grey axis, scaled to the mean) and two chroma axes.
OPPONENT = torch.tensor([[1 / 3, 1 / 3, 1 / 3],
                         [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0],
                         [1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)]])
LOOK_PARTS = ("lightness", "chroma")
# A part of the look is set by the example's edit when the colour change left after undoing the edit's
# motion is at least LOOK_HIGH ([-1, 1] units: 0.1 = 13 grey levels), not at all below LOOK_LOW. Measured on
# the demo's five attributes: a repaint leaves 0.74 of chroma; rotation, size, roof and wheels ≤ 0.05.
LOOK_LOW, LOOK_HIGH = 0.05, 0.1
# The example's edit moves things when the transfer's flow over its region averages at least MOTION_MIN px
# (model resolution). Measured: a repaint 0.12 px and a darkened garment 0.57 px (DIS reads a colour change
# as sub-pixel motion); wheel size 0.24, roof 0.78, rotation 2.9, size 3.3 (these set no look: they move
# anyway). An edit that sets the look and does not move keeps every photo's shape: its transfer carries
# colour only (tasks/transfer.py), so G's entangled wobble in the frames never warps a photo. Likewise an
# edit that sets no chroma transfers none (a grey catalog stays grey).
MOTION_MIN = 1.0


@dataclass(frozen=True)
class FinalLook:
    """The example's final appearance inside its edit region, and which parts of it the edit sets."""

    target: Tensor  # [3] (lightness, chroma a, chroma b) in [-1, 1] units
    weights: Tensor  # [3] in [0, 1]: how much each coordinate is set by the edit (chroma: both axes alike)
    motion: float = 0.0  # px (model resolution): the mean flow of the example's own edit over its region

    @property
    def sets_anything(self) -> bool:
        """False for an edit that only moves things (rotation, size): the look then says nothing."""
        return bool(self.weights.max() > 0)

    @property
    def sets_chroma(self) -> bool:
        """Whether the edit sets colour (chroma): if not, the transfer changes lightness only."""
        return bool(self.weights[1] > 0)

    @property
    def moves(self) -> bool:
        """Whether the transfer carries motion: the example's edit moves things, or sets no look at all."""
        return self.motion >= MOTION_MIN or not self.sets_anything

    def to_dict(self) -> dict:
        """JSON-able: the target, the weight of each part and the example's motion."""
        return {"target": [float(v) for v in self.target], "lightness": float(self.weights[0]),
                "chroma": float(self.weights[1]), "motion": self.motion}

    @classmethod
    def from_dict(cls, d: dict) -> FinalLook:
        return cls(torch.tensor(d["target"], dtype=torch.float32),
                   torch.tensor([d["lightness"], d["chroma"], d["chroma"]], dtype=torch.float32), float(d["motion"]))


def appearance(images: Tensor, region: Tensor) -> Tensor:
    """[B, 3]: the region-weighted mean colour of images [B, 3, H, W] (regions [B, 1, H, W]), opponent basis."""
    mean = (images * region).sum((2, 3)) / region.sum((2, 3)).clamp_min(1e-6)
    return mean @ OPPONENT.to(images).T


def _look_sq(images: Tensor, region: Tensor, look: FinalLook) -> Tensor:
    d = appearance(images, region) - look.target.to(images)
    return (d.pow(2) * look.weights.to(images)).sum(1)


def look_gap(images: Tensor, region: Tensor, look: FinalLook) -> Tensor:
    """[B]: weighted distance of each image's look in its region to the example's final look ([-1, 1] units)."""
    return _look_sq(images, region, look).sqrt()


def _ramp(x: float) -> float:
    return min(max((x - LOOK_LOW) / (LOOK_HIGH - LOOK_LOW), 0.0), 1.0)


def final_look(frames: np.ndarray) -> FinalLook:
    """The example's final look from its own frames uint8 [T, R, R, 3], G(w_ex) ... G(w_ex + s·Δ*).

    The look is the last frame's in the example's edit region; each part's weight comes from the colour
    change that remains once the first frame is moved by the transfer's flow (what motion explains is not
    a change of look); `motion` is that flow's mean over the region."""
    change = estimate_change(frames)
    first, last = to_tensor(frames[0]), to_tensor(frames[-1])
    moved = to_tensor(np.clip(np.rint(warp(frames[0].astype(np.float32), change.flow)), 0, 255).astype(np.uint8))
    region = edit_region(first, last)
    target = appearance(last, region)[0]
    residual = target - appearance(moved, region)[0]
    chroma = _ramp(float(residual[1:].norm()))
    weight = region[0, 0].numpy()
    motion = float((np.linalg.norm(change.flow, axis=-1) * weight).sum() / max(float(weight.sum()), 1e-6))
    return FinalLook(target, torch.tensor([_ramp(float(residual[0].abs())), chroma, chroma]), motion)


def refine(G: Generator, w: Tensor, delta: Tensor, look: FinalLook, steps: int = RefineConfig.steps,
           lr: float = RefineConfig.lr, keep: float = RefineConfig.keep, pull: float = RefineConfig.pull) -> Tensor:
    """δ' for latents w [B, ...] starting at δ = α·n [B, ...] (see the module docstring); δ itself when
    steps is 0 or the look sets nothing (a motion-only edit keeps its closed form)."""
    if steps < 0:
        raise ValueError("steps must be >= 0")
    if steps == 0 or not look.sets_anything or not len(w):
        return delta
    with torch.no_grad():
        before, start = G.synthesis(w), G.synthesis(w + delta)
        region = edit_region(before, start)
    outside = 1.0 - region
    d = delta.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([d], lr=lr)
    for _ in range(steps):
        x = G.synthesis(w + d)
        loss = (_look_sq(x, region, look) + keep * ((x - start).pow(2) * outside).flatten(1).mean(1)
                + pull * (d - delta).pow(2).flatten(1).mean(1))
        (d.grad,) = torch.autograd.grad(loss.sum(), d)
        opt.step()
    return d.detach()
