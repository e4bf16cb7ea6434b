"""The default backbone: a small StyleGAN2-like generator.

mapping:   z -> pixel norm -> `mapping_layers` x (EqualLinear, lrelu) -> w
synthesis: learned 4x4 constant -> per level [upsample + modulated conv, modulated conv] -> skip ToRGB
           summed over levels -> tanh.
Every modulated layer reads its own w (W+); W is broadcast. No noise inputs, so synthesis is a
deterministic function of w (projection and edit transfer need that).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edit_core.models.base import (
    LRELU_GAIN,
    EqualLinear,
    Generator,
    ModelConfig,
    channels_at,
    conv_layout,
    levels,
    lrelu,
    pixel_norm,
)


class MappingNetwork(nn.Module):
    """z -> w MLP (slow learning rate as in StyleGAN, keeping W smooth)."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int, lr_mul: float = 0.01) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(EqualLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:], strict=True))

    def forward(self, z: Tensor) -> Tensor:
        x = pixel_norm(z)
        for layer in self.layers:
            x = lrelu(layer(x))
        return x


class ModulatedConv2d(nn.Module):
    """Conv whose input channels are scaled per sample by an affine map of w (style), then demodulated.

    Implemented as modulate-input / shared conv / demodulate-output, which equals the per-sample
    weight formulation and keeps every sample independent of the batch. The output's scale
    (demodulation x `gain`) and `bias` are applied in one pass; upsampling layers modulate before
    upsampling (bilinear upsampling is linear per channel), on a quarter of the pixels.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, w_dim: int, demodulate: bool = True,
                 upsample: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.demodulate = demodulate
        self.upsample = upsample

    def forward(self, x: Tensor, w: Tensor, bias: Tensor, gain: float = 1.0) -> Tensor:
        """gain * (demodulated conv of the modulated x + bias)."""
        style = self.affine(w)  # [B, in]
        x = x * style[:, :, None, None]
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        weight = self.weight * self.scale
        x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
        bias = (bias * gain)[None, :, None, None]
        if not self.demodulate:
            return torch.add(bias, x, alpha=gain)
        # ||w_oik * s_i||_2 over (i, k) for every sample and output channel.
        energy = style.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t()  # [B, out]
        return torch.addcmul(bias, x, (torch.rsqrt(energy + 1e-8) * gain)[:, :, None, None])


class StyledConv(nn.Module):
    """Modulated conv + bias + lrelu."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim, upsample=upsample)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        # lrelu(y) == leaky_relu(LRELU_GAIN * y): the gain rides on the conv's output scale and bias.
        return F.leaky_relu_(self.conv(x, w, self.bias, LRELU_GAIN), 0.2)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to RGB (no demodulation), added to the upsampled RGB of the level below."""

    def __init__(self, in_ch: int, w_dim: int, channels: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, w: Tensor, skip: Tensor | None) -> Tensor:
        rgb = self.conv(x, w, self.bias)
        if skip is not None:
            rgb = rgb + F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
        return rgb


class SynthesisBlock(nn.Module):
    """One pyramid level above 4 px: upsampling styled conv, styled conv, ToRGB (reads 2 ws)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, channels: int) -> None:
        super().__init__()
        self.conv0 = StyledConv(in_ch, out_ch, w_dim, upsample=True)
        self.conv1 = StyledConv(out_ch, out_ch, w_dim)
        self.to_rgb = ToRGB(out_ch, w_dim, channels)

    def forward(self, x: Tensor, rgb: Tensor, ws: Tensor) -> tuple[Tensor, Tensor]:
        x = self.conv0(x, ws[:, 0])
        x = self.conv1(x, ws[:, 1])
        return x, self.to_rgb(x, ws[:, 1], rgb)


class SynthesisNetwork(nn.Module):
    """W+ [B, num_ws, w_dim] -> image in [-1, 1]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        res = levels(config.resolution)
        ch = [channels_at(config.width, r) for r in res]
        self.const = nn.Parameter(torch.randn(1, ch[0], 4, 4))
        self.conv = StyledConv(ch[0], ch[0], config.w_dim)
        self.to_rgb = ToRGB(ch[0], config.w_dim, config.channels)
        self.blocks = nn.ModuleList(
            SynthesisBlock(a, b, config.w_dim, config.channels) for a, b in zip(ch[:-1], ch[1:], strict=True)
        )

    def forward(self, ws: Tensor) -> Tensor:
        x = conv_layout(self.const.expand(ws.shape[0], -1, -1, -1))
        x = self.conv(x, ws[:, 0])
        rgb = self.to_rgb(x, ws[:, 0], None)
        for i, block in enumerate(self.blocks):
            x, rgb = block(x, rgb, ws[:, 1 + 2 * i: 3 + 2 * i])
        return torch.tanh(rgb).contiguous()  # callers get the usual layout back


class StyleGenerator(Generator):
    """Mapping MLP + style-modulated synthesis; supports W and W+ (num_ws = 2 log2(R) - 3)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.num_ws = self.count_ws(config)
        self.mapping_net = MappingNetwork(config.z_dim, config.w_dim, config.mapping_layers, config.mapping_lr_mul)
        self.synthesis_net = SynthesisNetwork(config)

    @classmethod
    def count_ws(cls, config: ModelConfig) -> int:
        return 1 + 2 * (len(levels(config.resolution)) - 1)

    def mapping(self, z: Tensor) -> Tensor:
        return self.mapping_net(z)

    def synthesis(self, w: Tensor) -> Tensor:
        return self.synthesis_net(self.ws(w))
