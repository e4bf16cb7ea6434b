"""Encoder E: image -> w, the fast (approximate) inverse of a frozen generator.

A D-like conv trunk and a linear head that predicts an offset from the generator's mean w (stored as
a buffer and set by the encoder training), so an untrained encoder already outputs a valid latent.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from edit_core.models.base import EqualLinear, ModelConfig, lrelu
from edit_core.models.discriminator import ConvTrunk


class Encoder(nn.Module):
    """Image in [-1, 1] [B, 3, R, R] -> w [B, w_dim] (num_ws=None) or W+ [B, num_ws, w_dim]."""

    def __init__(self, config: ModelConfig, num_ws: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.num_ws = num_ws
        out = config.w_dim * (num_ws or 1)
        self.trunk = ConvTrunk(config)
        self.fc = EqualLinear(self.trunk.out_dim, 2 * config.w_dim)
        self.head = EqualLinear(2 * config.w_dim, out)
        with torch.no_grad():
            self.head.weight.mul_(0.1)  # start close to the mean w
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    def forward(self, x: Tensor) -> Tensor:
        h = lrelu(self.fc(self.trunk(x)[-1].flatten(1)))
        offset = self.head(h)
        if self.num_ws is None:
            return self.w_avg + offset
        return self.w_avg + offset.view(x.shape[0], self.num_ws, -1)
