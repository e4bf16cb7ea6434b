"""The edit region: where a photo's own edit changes it, relative to how much that edit changes it.

A render pair (before, after) of one photo changes a lot where the edit acts (the car's paint, the
garment) and a little elsewhere (G's entanglement: a background tint, a few grey levels of noise). An
absolute threshold cannot tell the two apart across photos and edits: a tint of 7 grey levels is noise
beside a 60-level repaint and the whole edit beside a 5-level brightening. So the change is measured
against the photo's own change: its REGION_QUANTILE quantile s (floored at REGION_FLOOR, the level of
G's rounding noise, so that a photo the edit barely moves gets no region made of noise); the region is
0 below REGION_LOW·s, 1 above REGION_HIGH·s, linear between. One definition serves the per-photo
refinement (edit_core/refine.py), the transfer's confidence (edit_core/transfer.py) and the verdict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

REGION_QUANTILE = 0.98  # the photo's own change: its strong end (an edit covering 2 % of the photo still sets it)
REGION_LOW, REGION_HIGH = 0.25, 0.5  # fractions of that change: below, not the edit; above, the edit
REGION_FLOOR = 6.0 / 255.0  # no photo's change counts as smaller than this (G's rounding and noise)


def change_magnitude(before: Tensor, after: Tensor) -> Tensor:
    """[B, H, W]: the largest channel change per pixel, in [0, 1] units, of images [B, 3, H, W] in [-1, 1]."""
    return (after - before).abs().amax(1) / 2.0


def relative_region(change: Tensor) -> Tensor:
    """[B, H, W] in [0, 1] from per-pixel change [B, H, W] (see the module docstring)."""
    scale = torch.quantile(change.flatten(1).float(), REGION_QUANTILE, dim=1).clamp_min(REGION_FLOOR)
    scale = scale.to(change.dtype).view(-1, 1, 1)
    return ((change - REGION_LOW * scale) / ((REGION_HIGH - REGION_LOW) * scale)).clamp(0.0, 1.0)


def edit_region(before: Tensor, after: Tensor, radius: int = 1) -> Tensor:
    """[B, 1, H, W] in [0, 1]: where `after` differs from `before` relative to its own change, grown by
    `radius` px (a max filter) and softened over it (a box filter), so the region's border is not a seam."""
    region = relative_region(change_magnitude(before, after))[:, None]
    if radius > 0:
        k = 2 * radius + 1
        region = F.max_pool2d(region, k, 1, radius)
        region = F.avg_pool2d(region, k, 1, radius, count_include_pad=False)
    return region
