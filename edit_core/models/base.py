"""The model config, the Generator contract every backbone implements, and the equalized-lr layers.

Equalized learning rate (weights stored at unit variance, scaled at run time) lets one Adam setting
train every layer of every backbone, which is why all models here are built from these layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edit_core.configs import ModelConfig

LRELU_GAIN = math.sqrt(2.0)


def channels_at(width: int, res: int) -> int:
    """Channels of a feature map at `res` px: width at 32 px, doubling per level below (capped at 4x width),
    halving per level above (at least 8), so every level costs about the same FLOPs on CPU."""
    return max(8, min(4 * width, width * 32 // res))


def levels(resolution: int) -> list[int]:
    """Spatial sizes of the pyramid from 4 px to `resolution`: [4, 8, ..., resolution]."""
    return [2**i for i in range(2, int(math.log2(resolution)) + 1)]


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate; `lr_mul` slows it down (StyleGAN mapping)."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init) / lr_mul))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """Same-padded conv with equalized learning rate; `activate` adds lrelu after the bias.

    `gain` (forward) scales the output, and the lrelu gain is applied too, by scaling the (small) weight
    and bias rather than the (large) output: one pass over the activations instead of three.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True, activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.activate = activate

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        if self.activate:
            gain *= LRELU_GAIN  # lrelu(y) * g == leaky_relu(g * y) for g > 0
        bias = None if self.bias is None else self.bias * gain
        y = F.conv2d(x, self.weight * (self.scale * gain), bias, padding=self.weight.shape[-1] // 2)
        return F.leaky_relu_(y, 0.2) if self.activate else y


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU with gain sqrt(2), keeping activations at unit variance."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def conv_layout(x: Tensor) -> Tensor:
    """x in channels_last on CPU, unchanged elsewhere (same values). oneDNN's convolutions run 1.5-4x
    faster in channels_last at this project's 8-32 channels (BENCHMARKS.md, projection speed), and the
    layout carries through the elementwise ops, pooling and upsampling that follow."""
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x


def pixel_norm(x: Tensor, dim: int = 1) -> Tensor:
    """Normalize each sample's feature vector to unit RMS (per sample, so no batch dependence)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=dim, keepdim=True) + 1e-8)


class Generator(nn.Module):
    """z -> w (mapping) -> image (synthesis). Subclasses set `num_ws` and implement both halves.

    Deterministic: no noise inputs and no batch statistics, so G(w) of one image does not depend on
    the rest of the batch, which projection and editing rely on.
    """

    num_ws: int = 1

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.z_dim = config.z_dim
        self.w_dim = config.w_dim
        self.resolution = config.resolution
        self._mean_w_cache: dict[tuple, Tensor] = {}

    @classmethod
    def count_ws(cls, config: ModelConfig) -> int:
        """Number of per-layer latents in W+ for this config."""
        return 1

    def mapping(self, z: Tensor) -> Tensor:
        """[B, z_dim] -> [B, w_dim]."""
        raise NotImplementedError

    def synthesis(self, w: Tensor) -> Tensor:
        """[B, w_dim] (W) or [B, num_ws, w_dim] (W+) -> [B, 3, R, R] in [-1, 1]."""
        raise NotImplementedError

    def forward(self, z: Tensor) -> Tensor:
        return self.synthesis(self.mapping(z))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def ws(self, w: Tensor) -> Tensor:
        """W or W+ latents -> W+ [B, num_ws, w_dim] (W is broadcast to every layer)."""
        if w.ndim == 2:
            return w.unsqueeze(1).expand(-1, self.num_ws, -1)
        if w.ndim != 3 or w.shape[1] != self.num_ws:
            raise ValueError(f"expected w of shape [B, {self.w_dim}] or [B, {self.num_ws}, {self.w_dim}], got {tuple(w.shape)}")
        return w

    def sample_z(self, n: int, seed: int) -> Tensor:
        """n draws of N(0, I) from a private CPU generator (same values on every device), in G's dtype."""
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.z_dim, generator=gen).to(self.device, next(self.parameters()).dtype)

    @torch.no_grad()
    def sample_w(self, n: int, seed: int, truncation_psi: float = 1.0) -> Tensor:
        """Mapping of n N(0, I) draws: [n, w_dim]; truncation_psi < 1 pulls them toward the truncation
        centre (StyleGAN's truncation trick: typical images, less variety)."""
        w = self.mapping(self.sample_z(n, seed))
        return w if truncation_psi == 1.0 else self.truncation_centre().lerp(w, truncation_psi)

    def truncation_centre(self) -> Tensor:
        """The w that truncation pulls toward: the mean w (a StyleGAN2 file's tracked w_avg)."""
        return self.mean_w()

    def mean_w(self, n: int = 4096, seed: int = 0) -> Tensor:
        """Mean of `sample_w(n, seed)`: [w_dim]. Cached until the weights change."""
        key = (n, seed, str(self.device), tuple((p.data_ptr(), p._version) for p in self.parameters()))
        if key not in self._mean_w_cache:
            self._mean_w_cache = {key: self.sample_w(n, seed).mean(0)}
        return self._mean_w_cache[key]
