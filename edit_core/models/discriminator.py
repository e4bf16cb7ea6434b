"""Discriminator: residual conv trunk from R px down to 4 px, then a small MLP head to one logit.

No batch statistics and no minibatch-std layer: D's activations double as a perceptual feature space
(`features`), which must describe each image independently of the rest of the batch.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from edit_core.models.base import (
    EqualConv2d,
    EqualLinear,
    ModelConfig,
    channels_at,
    conv_layout,
    levels,
    lrelu,
)


class DownBlock(nn.Module):
    """conv3x3, conv3x3, 2x average-pool, with a pooled 1x1 skip; output scaled to unit variance."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3, activate=True)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3, activate=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        # The 1/sqrt(2) of the sum rides on both branches' weights (lrelu and pooling are homogeneous).
        half = 1.0 / math.sqrt(2.0)
        y = F.avg_pool2d(self.conv1(self.conv0(x), gain=half), 2)
        return y + self.skip(F.avg_pool2d(x, 2), gain=half)


class ConvTrunk(nn.Module):
    """RGB at R px -> list of activations at R, R/2, ..., 4 px (shared by D and the encoder)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        res = levels(config.resolution)[::-1]  # [R, ..., 4]
        ch = [channels_at(config.width, r) for r in res]
        self.from_rgb = EqualConv2d(config.channels, ch[0], 1, activate=True)
        self.blocks = nn.ModuleList(DownBlock(a, b) for a, b in zip(ch[:-1], ch[1:], strict=True))
        self.out_dim = ch[-1] * 16

    def forward(self, x: Tensor) -> list[Tensor]:
        acts = [self.from_rgb(conv_layout(x))]
        for block in self.blocks:
            acts.append(block(acts[-1]))
        return acts


class Discriminator(nn.Module):
    """Image in [-1, 1] -> real/fake logit [B]; `features` exposes the trunk's activations."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.trunk = ConvTrunk(config)
        self.fc = EqualLinear(self.trunk.out_dim, channels_at(config.width, 4))
        self.out = EqualLinear(channels_at(config.width, 4), 1)

    def features(self, x: Tensor) -> list[Tensor]:
        """Activations after the input layer and after every down block (R px ... 4 px)."""
        return self.trunk(x)

    def forward(self, x: Tensor) -> Tensor:
        h = self.trunk(x)[-1].flatten(1)
        return self.out(lrelu(self.fc(h))).squeeze(1)
