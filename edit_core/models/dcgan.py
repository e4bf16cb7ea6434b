"""iGAN's backbone: a DCGAN generator, z -> image, with the identity as mapping (w = z).

z -> linear to a 4x4 map -> (stride-2 transposed conv, norm, ReLU) per level -> last transposed conv
to RGB -> tanh. Two deliberate changes from the 2015 DCGAN: BatchNorm is replaced by pixel-wise
feature normalization (per sample, identical in train and eval, so G(w) of one image never depends
on the batch), and layers use equalized learning rate so one optimizer setting trains both backbones.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edit_core.models.base import EqualLinear, Generator, ModelConfig, channels_at, levels, pixel_norm


class EqualConvTranspose2d(nn.Module):
    """4x4 stride-2 transposed conv (exact 2x upsampling) with equalized learning rate."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_ch, out_ch, 4, 4))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        # Each output pixel of a stride-2 4x4 transposed conv sees 2x2 taps per input channel.
        self.scale = 1.0 / math.sqrt(in_ch * 4)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(x, self.weight * self.scale, self.bias, stride=2, padding=1)


class UpBlock(nn.Module):
    """Transposed conv 2x up, pixel norm, ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = EqualConvTranspose2d(in_ch, out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(pixel_norm(self.conv(x))) * math.sqrt(2.0)


class DCGANGenerator(Generator):
    """z -> image; `mapping` is the identity so W = Z and num_ws = 1."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        res = levels(config.resolution)
        ch = [channels_at(config.width, r) for r in res]
        self.project = EqualLinear(config.z_dim, ch[0] * 16)
        self.blocks = nn.ModuleList(UpBlock(a, b) for a, b in zip(ch[:-2], ch[1:-1], strict=True))
        self.to_rgb = EqualConvTranspose2d(ch[-2], config.channels)

    def mapping(self, z: Tensor) -> Tensor:
        return z

    def synthesis(self, w: Tensor) -> Tensor:
        if w.ndim == 3:  # W+ with a single layer latent
            w = self.ws(w)[:, 0]
        x = self.project(w).view(w.shape[0], -1, 4, 4)
        x = F.relu(pixel_norm(x)) * math.sqrt(2.0)
        for block in self.blocks:
            x = block(x)
        return torch.tanh(self.to_rgb(x))
