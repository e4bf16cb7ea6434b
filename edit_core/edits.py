"""The user's example edit in latent space: from a before/after pair, from brush strokes, or an offset.

Brush edits follow iGAN §4.1.4: w0' = argmin_w Σ_g ||f_g(G(w)) − v_g||² + λ_s·||w − w0||² + E_D with
color constraints (f_g = the pixel's RGB) and sketch constraints (f_g = a differentiable HOG cell),
and the optional realism term E_D = λ_D·log(1 − D(G(w))) = −λ_D·softplus(D logit). Many starts
around w0 are optimized as one batch with Adam, and the lowest energy wins. To keep λ_s = 5
meaningful across resolutions, stroke sizes and latent sizes, every term is a mean: the color term
over constrained pixels (squared RGB distance), the sketch term over constrained HOG cells (squared
distance of the cell's histogram), the smoothness term over latent elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edit_core.configs import BrushConfig
from edit_core.features import FeatureExtractor, HOGFeatures
from edit_core.models.base import Generator
from edit_core.project import check_images, project

KINDS = ("pair", "brush", "offset")
WEAK_CAPTURE = 0.5  # `edit_capture` below this: G reproduces less than half of the user's pixel change


@dataclass
class ExampleEdit:
    """One example edit: the example's latent w0 and the user's edited latent w0 + Δw (unbatched)."""

    w0: Tensor  # [w_dim] or [num_ws, w_dim]
    w0_edited: Tensor  # same shape
    kind: str  # "pair" | "brush" | "offset"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.w0.shape != self.w0_edited.shape:
            raise ValueError(f"w0 {tuple(self.w0.shape)} and w0_edited {tuple(self.w0_edited.shape)} differ in shape")

    @property
    def delta_w(self) -> Tensor:
        """Δw = w0' − w0, the naive latent edit (input of `direction.fit_direction`)."""
        return self.w0_edited - self.w0


def _check_latent(G: Generator, w0: Tensor) -> None:
    if w0.shape not in ((G.w_dim,), (G.num_ws, G.w_dim)):
        raise ValueError(f"w0 must be one latent [{G.w_dim}] or [{G.num_ws}, {G.w_dim}], got {tuple(w0.shape)}")


def edit_from_offset(w0: Tensor, offset: Tensor) -> ExampleEdit:
    """The edit w0 -> w0 + offset; a W offset [w_dim] is applied to every layer of a W+ w0."""
    if offset.shape not in (w0.shape, w0.shape[-1:]):
        raise ValueError(f"offset of shape {tuple(offset.shape)} does not fit w0 of shape {tuple(w0.shape)}")
    return ExampleEdit(w0=w0, w0_edited=w0 + offset, kind="offset")


def _as_batch(image: Tensor, name: str) -> Tensor:
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4 or len(image) != 1:
        raise ValueError(f"{name} must be one image [3, H, W] or [1, 3, H, W], got {tuple(image.shape)}")
    return image


def edit_from_pair(
    G: Generator,
    before: Tensor,
    after: Tensor,
    encoder: nn.Module | None = None,
    features: FeatureExtractor | None = None,
    steps: int = 300,
    lr: float = 0.05,
    feature_weight: float = 0.002,
    w_plus: bool = False,
) -> ExampleEdit:
    """Project a before/after photo pair and return the latent edit; the budget goes to this ONE pair.

    1. `before` is projected from E(before) (hybrid) or, without an encoder, from the mean w, `steps` steps.
    2. Both photos are projected again from that converged latent, `steps` steps each, as one batch:
       w0 = before's result, w0' = after's. Starting both from the same converged point keeps `after`
       in before's basin (E(after) may land elsewhere), and running the same optimization on both
       cancels the optimizer's own drift (Adam restarted at a minimum still moves), so Δw holds only
       what the user changed.
    An identical pair is refused (nothing was edited). Images: [3, R, R] or [1, 3, R, R] in [-1, 1].
    """
    before, after = _as_batch(before, "before"), _as_batch(after, "after")
    if before.shape != after.shape:
        raise ValueError(f"before and after must have the same size, got {tuple(before.shape[1:])} and {tuple(after.shape[1:])}")
    check_images(G, before, "before")
    if torch.equal(before, after):
        raise ValueError("the after image is identical to the before image: there is no edit to learn")
    init = None
    if encoder is not None:
        with torch.no_grad():
            init = encoder(before)
        if w_plus:
            init = G.ws(init)
    kw = dict(features=features, steps=steps, lr=lr, feature_weight=feature_weight, w_plus=w_plus)
    w_start = project(G, before, mode="hybrid" if encoder is not None else "optimize", init=init, **kw).w
    pair = project(G, torch.cat([before, after]), mode="optimize", init=w_start.expand(2, *w_start.shape[1:]), **kw).w
    return ExampleEdit(w0=pair[0], w0_edited=pair[1], kind="pair")


def edit_capture(G: Generator, w0: Tensor, delta: Tensor, before: Tensor, after: Tensor) -> float:
    """How much of the user's pixel change the latent edit w0 -> w0 + delta reproduces (1 = all of it).

    capture = 1 − ||(after − before) − (G(w0 + delta) − G(w0))||₂ / ||after − before||₂, at model
    resolution. 1: G's change is the user's change; 0: no better than not editing; < 0: a change
    larger than or unlike the user's. Comparing differences (not G(w0 + delta) with `after`) leaves out
    what the projection of `before` already misses, so the number is about the edit, not the inversion.
    """
    before, after = _as_batch(before, "before"), _as_batch(after, "after")
    check_images(G, before, "before")
    check_images(G, after, "after")
    wanted = (after - before).flatten()
    if not wanted.abs().sum():
        raise ValueError("the after image is identical to the before image: there is no edit to capture")
    with torch.no_grad():
        renders = G.synthesis(torch.stack([w0, w0 + delta]))
    got = (renders[1] - renders[0]).flatten().to(wanted)
    return float(1 - (wanted - got).norm() / wanted.norm())


@dataclass
class BrushConstraints:
    """iGAN brush strokes at the generator's resolution R (the task resizes the user's strokes).

    color_mask: [R, R] bool, pixels painted with the color brush.
    color_rgb: [3] or [R, R, 3] target color in [-1, 1] (engine units).
    sketch: [R, R] edge map in [0, 1] (1 = stroke); compared to G(w) through HOG cells.
    sketch_mask: [R, R] bool, where the sketch constrains the image (cells touching it count).
    """

    color_mask: Tensor | None = None
    color_rgb: Tensor | None = None
    sketch: Tensor | None = None
    sketch_mask: Tensor | None = None

    def check(self, resolution: int) -> None:
        """Raise a one-line ValueError for missing, mismatched or wrongly sized strokes."""
        r = (resolution, resolution)
        if (self.color_mask is None) != (self.color_rgb is None):
            raise ValueError("color strokes need both color_mask and color_rgb")
        if (self.sketch is None) != (self.sketch_mask is None):
            raise ValueError("sketch strokes need both sketch and sketch_mask")
        if self.color_mask is None and self.sketch is None:
            raise ValueError("a brush edit needs color or sketch strokes")
        for name in ("color_mask", "sketch", "sketch_mask"):
            t = getattr(self, name)
            if t is not None and tuple(t.shape) != r:
                raise ValueError(f"{name} must be {list(r)} (the generator's resolution), got {list(t.shape)}")
        if self.color_rgb is not None and tuple(self.color_rgb.shape) not in ((3,), (*r, 3)):
            raise ValueError(f"color_rgb must be [3] or [{resolution}, {resolution}, 3], got {list(self.color_rgb.shape)}")
        for name in ("color_mask", "sketch_mask"):
            t = getattr(self, name)
            if t is not None and not t.any():
                raise ValueError(f"{name} is empty")


class BrushEnergy:
    """Per-latent terms of the iGAN brush objective for fixed strokes (targets precomputed once)."""

    def __init__(self, G: Generator, w0: Tensor, constraints: BrushConstraints, lambda_s: float = 5.0,
                 lambda_d: float = 0.0, D: nn.Module | None = None, hog: HOGFeatures | None = None) -> None:
        _check_latent(G, w0)
        constraints.check(G.resolution)
        if lambda_d and D is None:
            raise ValueError("lambda_d > 0 needs the discriminator D")
        self.G, self.w0, self.lambda_s, self.lambda_d, self.D = G, w0.detach(), lambda_s, lambda_d, D
        self.hog = hog or HOGFeatures()
        c = constraints
        ref = w0
        if c.color_mask is not None:
            self.color_mask = c.color_mask.to(ref.device, torch.bool)[None, None]
            rgb = c.color_rgb.to(ref)
            self.color_target = (rgb[:, None, None] if rgb.ndim == 1 else rgb.permute(2, 0, 1))[None]
        else:
            self.color_mask = None
        if c.sketch is not None:
            edge = c.sketch.to(ref)[None, None] * 2 - 1
            self.sketch_target = self.hog(edge)[0]
            cells = F.avg_pool2d(c.sketch_mask.to(ref)[None, None], self.hog.cell)
            self.sketch_cells = cells > 0
        else:
            self.sketch_cells = None

    def terms(self, w: Tensor) -> dict[str, Tensor]:
        """{'color', 'sketch', 'smooth', 'realism', 'total'}, each [S] for latents w [S, ...]."""
        img = self.G.synthesis(w)
        zero = img.new_zeros(len(w))
        out = {"color": zero, "sketch": zero, "realism": zero}
        if self.color_mask is not None:
            sq = (img - self.color_target).pow(2).sum(1, keepdim=True)  # [S, 1, R, R]
            out["color"] = (sq * self.color_mask).flatten(1).sum(1) / self.color_mask.sum()
        if self.sketch_cells is not None:
            sq = (self.hog(img)[0] - self.sketch_target).pow(2).sum(1, keepdim=True)
            out["sketch"] = (sq * self.sketch_cells).flatten(1).sum(1) / self.sketch_cells.sum()
        if self.lambda_d:
            out["realism"] = -self.lambda_d * F.softplus(self.D(img))
        out["smooth"] = self.lambda_s * (w - self.w0).pow(2).flatten(1).mean(1)
        out["total"] = out["color"] + out["sketch"] + out["smooth"] + out["realism"]
        return out


def edit_from_brush(
    G: Generator,
    w0: Tensor,
    constraints: BrushConstraints,
    lambda_s: float = BrushConfig.lambda_s,
    lambda_d: float = BrushConfig.lambda_d,
    D: nn.Module | None = None,
    starts: int = BrushConfig.starts,
    steps: int = BrushConfig.steps,
    lr: float = BrushConfig.lr,
    seed: int = BrushConfig.seed,
    spread: float = BrushConfig.spread,
) -> ExampleEdit:
    """iGAN brush edit of the example latent w0 ([w_dim] or [num_ws, w_dim]).

    Start 0 is w0 itself; the others are w0 + spread·(w_j − mean w) for latents w_j drawn from G, i.e.
    perturbations scaled like the latent distribution. All starts run as one batch (Adam, `lr`,
    `steps`) and the start with the lowest final energy is the edit.
    """
    if starts < 1 or steps < 0:
        raise ValueError("starts must be >= 1 and steps >= 0")
    energy = BrushEnergy(G, w0, constraints, lambda_s, lambda_d, D)
    w0 = energy.w0
    with torch.no_grad():
        draws = G.mapping(G.sample_z(starts - 1, seed).to(w0)) - G.mean_w().to(w0)
    if w0.ndim == 2:
        draws = G.ws(draws)
    w = torch.cat([w0[None], w0 + spread * draws]).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    for _ in range(steps):
        (w.grad,) = torch.autograd.grad(energy.terms(w)["total"].sum(), w)
        opt.step()
    with torch.no_grad():
        best = energy.terms(w)["total"].argmin()
    return ExampleEdit(w0=w0, w0_edited=w.detach()[best], kind="brush")
