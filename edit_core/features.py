"""Feature spaces for perceptual distances: the project's own D, a differentiable HOG, or a user's network.

All extractors map images in [-1, 1] [B, C, H, W] to a list of per-layer activations, are frozen, and
treat every image independently, so `feature_distance` of one pair does not depend on the batch.
"""

from __future__ import annotations

import copy
import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FeatureExtractor(Protocol):
    """Callable images [B, C, H, W] in [-1, 1] -> list of feature maps [B, ...]."""

    def __call__(self, x: Tensor) -> list[Tensor]: ...


class DiscriminatorFeatures:
    """Activations of a frozen copy of the project's discriminator (R px down to 4 px).

    `layers` picks which trunk activations to use (default: all). The copy keeps the caller's D
    trainable and untouched.
    """

    def __init__(self, D: nn.Module, layers: list[int] | None = None) -> None:
        self.D = copy.deepcopy(D).eval().requires_grad_(False)
        self.layers = layers

    def __call__(self, x: Tensor) -> list[Tensor]:
        feats = self.D.features(x)
        return feats if self.layers is None else [feats[i] for i in self.layers]


class HOGFeatures:
    """Differentiable histogram of oriented gradients (iGAN's sketch constraint, and a feature distance).

    grey image -> Sobel gradients -> magnitude-weighted soft binning of the unsigned orientation into
    `bins` bins (a von Mises kernel on the doubled angle, so the histogram is smooth in the image) ->
    average pooling over `cell` x `cell` cells -> L2 normalization by the 3x3-cell neighbourhood energy.
    Input: [B, 3, H, W] RGB or [B, 1, H, W] (e.g. an edge map) in [-1, 1]; output: one map
    [B, bins, H / cell, W / cell].
    """

    def __init__(self, cell: int = 4, bins: int = 9, concentration: float = 4.0, eps: float = 1e-3) -> None:
        self.cell, self.bins, self.kappa, self.eps = cell, bins, concentration, eps
        centres = (torch.arange(bins) + 0.5) * math.pi / bins  # unsigned orientations in [0, pi)
        self.cos2, self.sin2 = torch.cos(2 * centres), torch.sin(2 * centres)
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        self.kernels = torch.stack([sobel, sobel.t()]).unsqueeze(1)  # [2, 1, 3, 3]: d/dx, d/dy

    def __call__(self, x: Tensor) -> list[Tensor]:
        grey = x.mean(dim=1, keepdim=True) if x.shape[1] != 1 else x
        g = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), self.kernels.to(x))
        gx, gy = g[:, :1], g[:, 1:]
        mag2 = gx.pow(2) + gy.pow(2) + self.eps**2
        mag = mag2.sqrt()
        # cos / sin of twice the gradient angle: orientation without the sign, no atan2 needed.
        c2, s2 = (gx.pow(2) - gy.pow(2)) / mag2, 2 * gx * gy / mag2
        affinity = c2 * self.cos2.to(x)[None, :, None, None] + s2 * self.sin2.to(x)[None, :, None, None]
        weights = torch.softmax(self.kappa * affinity, dim=1)  # [B, bins, H, W], sums to 1 over bins
        hist = F.avg_pool2d(mag * weights, self.cell)
        energy = F.avg_pool2d(hist.pow(2).sum(dim=1, keepdim=True), 3, stride=1, padding=1,
                              count_include_pad=False)
        return [hist * torch.rsqrt(energy + self.eps)]


def feature_distance(a: Tensor, b: Tensor, extractor: FeatureExtractor) -> Tensor:
    """Per-image distance [B]: mean squared difference within each layer, summed over layers."""
    total = torch.zeros(a.shape[0], device=a.device, dtype=a.dtype)
    for fa, fb in zip(extractor(a), extractor(b), strict=True):
        total = total + (fa - fb).pow(2).flatten(1).mean(dim=1)
    return total
