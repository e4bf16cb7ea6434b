"""StyleGAN2 (Karras et al. 2020, config F and its smaller variants) as a backbone of the project.

Computes what the two public StyleGAN2 code bases compute (NVlabs stylegan2-ada-pytorch and
rosinality/stylegan2-pytorch), so their checkpoints run here after `edit_core.stylegan2_import`
has renamed the tensors. Plain torch ops only (no custom CUDA kernels); float32 except where a file asks for float16 (below).

mapping:   z -> pixel norm -> `mapping_layers` x (FC with lr multiplier, lrelu) -> w;
           truncation psi pulls w toward the tracked average `w_avg`.
synthesis: learned 4x4 constant -> per resolution [2x up modulated conv, modulated conv] each with
           demodulation, per-layer noise (strength learned) and clamped lrelu -> toRGB skip outputs,
           FIR-upsampled and summed. Reads W+ [B, num_ws, w_dim], num_ws = 2 log2(R) - 2: conv i
           reads ws[i], and a block's toRGB reads the w of the next block's first conv.
discriminator: fromRGB -> residual blocks (conv, FIR-down conv, FIR-down 1x1 skip) down to 4 px ->
           minibatch-std, conv, FC, FC -> logit.

FIR resampling uses the [1, 3, 3, 1] filter (outer product, normalized): upsampling inserts zeros
and filters with gain 4, downsampling filters and keeps every second pixel.

Noise modes of synthesis: "const" (the stored per-layer noise images: deterministic, the default,
which projection and editing need), "random" (fresh N(0, 1) noise), "none" (no noise).

Precision: blocks at or above `fp16_resolution` (G) / `d_fp16_resolution` (D) compute in float16 the
way the NVlabs code does (its snapshots record which blocks do, and its outputs, on CPU too, are
those of that mixed precision); everything else, and every block when `force_fp32` is set on the
module, is float32. rosinality checkpoints are float32 throughout.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edit_core.models.base import LRELU_GAIN, Generator, ModelConfig, levels

NOISE_MODES = ("const", "random", "none")
LRELU_SLOPE = 0.2


# --- architecture hyperparameters (stored in ModelConfig.stylegan2) --------------------------------

def default_spec(resolution: int, w_dim: int = 512, channel_base: int = 32768, channel_max: int = 512,
                 conv_clamp: float | None = None) -> dict:
    """Config-F-style hyperparameters: min(channel_base / res, channel_max) channels at every res."""
    res = levels(resolution)
    ch = [min(channel_base // r, channel_max) for r in res]
    return {"channels": ch, "d_channels": ch[::-1], "mapping_hidden": w_dim, "conv_clamp": conv_clamp,
            "d_conv_clamp": conv_clamp, "mbstd_group": 4, "mbstd_channels": 1, "fir": [1, 3, 3, 1],
            "num_ws": count_ws_at(resolution), "fp16_resolution": None, "d_fp16_resolution": None}


def count_ws_at(resolution: int) -> int:
    """W+ size of a StyleGAN2 synthesis network at `resolution`: 2 log2(R) - 2."""
    return 2 * int(math.log2(resolution)) - 2


def check_spec(config: ModelConfig) -> dict:
    """The stylegan2 sub-config of `config` (defaults filled in; D's follow G's), validated; one-line
    ValueError if not."""
    given = config.stylegan2 or {}
    spec = {**default_spec(config.resolution, config.w_dim), **given}
    for d_key, g_key in (("d_conv_clamp", "conv_clamp"), ("d_fp16_resolution", "fp16_resolution")):
        spec[d_key] = given.get(d_key, spec[g_key])
    spec["d_channels"] = list(given.get("d_channels", spec["channels"][::-1]))
    n = len(levels(config.resolution))
    if len(spec["channels"]) != n or len(spec["d_channels"]) != n:
        raise ValueError(f"stylegan2: channels and d_channels need {n} entries (4 px .. {config.resolution} px), "
                         f"got {len(spec['channels'])} and {len(spec['d_channels'])}")
    if spec["num_ws"] != count_ws_at(config.resolution):
        raise ValueError(f"stylegan2: num_ws {spec['num_ws']} does not match resolution {config.resolution} "
                         f"({count_ws_at(config.resolution)})")
    unknown = set(spec) - set(default_spec(8))
    if unknown:
        raise ValueError(f"stylegan2: unknown keys {sorted(unknown)}")
    return spec


# --- primitives ------------------------------------------------------------------------------------

def fir_filter(taps: list[float]) -> Tensor:
    """2-D separable low-pass filter from 1-D taps, normalized to sum 1."""
    t = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(t, t)
    return f / f.sum()


def upfirdn(x: Tensor, f: Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0),
            gain: float = 1.0) -> Tensor:
    """Upsample by zero insertion, zero-pad (`pad` = before, after; both axes), convolve each channel
    with `f` * gain, keep every `down`-th pixel."""
    b, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(b, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(b, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    kernel = (f * gain).flip([0, 1]).to(x.dtype)[None, None].expand(c, 1, -1, -1)
    return F.conv2d(x, kernel, stride=down, groups=c)


def upsample2d(x: Tensor, f: Tensor) -> Tensor:
    """2x FIR upsampling (same pixel grid as the official code for a 4-tap filter)."""
    k = f.shape[-1]
    return upfirdn(x, f, up=2, pad=((k + 1) // 2, (k - 2) // 2), gain=4.0)


def bias_lrelu(x: Tensor, bias: Tensor | None, gain: float, clamp: float | None, act: bool = True) -> Tensor:
    """x + bias, then (optionally) lrelu with gain sqrt(2) times `gain`, then clamp to +-clamp."""
    if bias is not None:
        x = x + bias.to(x.dtype).reshape(1, -1, *([1] * (x.ndim - 2)))
    if act:
        x = F.leaky_relu(x, LRELU_SLOPE) * (LRELU_GAIN * gain)
    elif gain != 1:
        x = x * gain
    return x.clamp(-clamp, clamp) if clamp is not None else x


class FullyConnected(nn.Module):
    """Equalized-lr linear layer; `lr_mul` scales both weight and bias (slow mapping network)."""

    def __init__(self, in_dim: int, out_dim: int, act: bool = False, lr_mul: float = 1.0,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.weight_gain = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)
        return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN if self.act else x


# --- generator ------------------------------------------------------------------------------------

class MappingNetwork(nn.Module):
    """z -> w; `w_avg` is the average w tracked during training (the truncation centre)."""

    def __init__(self, z_dim: int, w_dim: int, hidden: int, num_layers: int, lr_mul: float) -> None:
        super().__init__()
        dims = [z_dim] + [hidden] * (num_layers - 1) + [w_dim]
        self.fcs = nn.ModuleList(FullyConnected(a, b, act=True, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, truncation_psi: float = 1.0) -> Tensor:
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for fc in self.fcs:
            x = fc(x)
        return self.w_avg.lerp(x, truncation_psi) if truncation_psi != 1 else x


def modulated_conv(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool, up: bool, fir: Tensor | None,
                   noise: Tensor | None, fused: bool) -> Tensor:
    """Conv of x with weight w'_boik = s_bi w_oik, demodulated to unit norm over (i, k) per sample and
    output channel, optionally 2x upsampled (transposed conv + FIR), plus `noise`.

    Two equal ways to compute it, chosen as the NVlabs code chooses, so that results agree to the
    last bit where it matters (float16): `fused` builds the per-sample weights and runs one grouped
    conv (its eval float32 path; rosinality's always); otherwise the input is scaled by s, convolved
    with the shared weight and the output scaled by the demodulation coefficients (float16 and
    training), with weight and styles first scaled to max 1 in float16 so nothing overflows.
    """
    b, dtype = x.shape[0], x.dtype
    out_ch, in_ch, k, _ = weight.shape
    if dtype == torch.float16 and demodulate:
        weight = weight * (1 / math.sqrt(in_ch * k * k) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = dcoefs = None
    if demodulate or fused:
        w = weight.unsqueeze(0) * styles.reshape(b, 1, -1, 1, 1)  # [B, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [B, O]
    if fused:
        if demodulate:
            w = w * dcoefs.reshape(b, -1, 1, 1, 1)
        x = _conv(x.reshape(1, -1, *x.shape[2:]), w.reshape(-1, in_ch, k, k).to(dtype), up, fir, groups=b)
        x = x.reshape(b, -1, *x.shape[2:])
        return x + noise if noise is not None else x
    x = _conv(x * styles.to(dtype).reshape(b, -1, 1, 1), weight.to(dtype), up, fir, groups=1)
    if demodulate and noise is not None:
        return torch.addcmul(noise.to(dtype), x, dcoefs.to(dtype).reshape(b, -1, 1, 1))
    if demodulate:
        return x * dcoefs.to(dtype).reshape(b, -1, 1, 1)
    return x + noise.to(dtype) if noise is not None else x


def _conv(x: Tensor, w: Tensor, up: bool, fir: Tensor | None, groups: int) -> Tensor:
    """Same-padded conv (w: [O, I/groups, k, k]); with `up`, a stride-2 transposed conv then the FIR
    filter (gain 4), which lands on the official pixel grid."""
    k = w.shape[-1]
    if not up:
        return F.conv2d(x, w, padding=k // 2, groups=groups)
    o = w.shape[0] // groups
    w = w.reshape(groups, o, -1, k, k).transpose(1, 2).reshape(-1, o, k, k)  # [I, O/groups, k, k]
    f = fir.shape[-1]
    x = F.conv_transpose2d(x, w, stride=2, groups=groups)
    return upfirdn(x, fir, pad=(k // 2 + (f + 1) // 2 - (k - 1), k // 2 + (f - 2) // 2 - (k - 2)), gain=4.0)


class ModulatedConv(nn.Module):
    """One synthesis layer: style-modulated 3x3 conv (optionally 2x up) with demodulation, noise,
    bias, lrelu, clamp."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: bool,
                 conv_clamp: float | None, fir: Tensor) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("fir", fir, persistent=False)
        self.up = up
        self.conv_clamp = conv_clamp
        self.resolution = resolution

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "const", generator: torch.Generator | None = None,
                fused: bool = True) -> Tensor:
        noise = None
        if noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        elif noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, generator=generator)
            noise = noise.to(self.noise_const) * self.noise_strength
        x = modulated_conv(x, self.weight, self.affine(w), True, self.up, self.fir, noise, fused)
        return bias_lrelu(x, self.bias, 1.0, self.conv_clamp)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to RGB (no demodulation) + bias, clamped."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, conv_clamp: float | None) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.weight_gain = 1.0 / math.sqrt(in_ch)
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor, fused: bool = True) -> Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv(x, self.weight, styles, False, False, None, None, fused)
        return bias_lrelu(x, self.bias, 1.0, self.conv_clamp, act=False)


class SynthesisBlock(nn.Module):
    """One resolution: (constant input | 2x up conv), conv, toRGB; adds to the upsampled image."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, channels: int,
                 conv_clamp: float | None, fir: Tensor, fp16: bool) -> None:
        super().__init__()
        self.fp16 = fp16
        self.const = nn.Parameter(torch.randn(out_ch, 4, 4)) if in_ch == 0 else None
        self.conv0 = None if in_ch == 0 else ModulatedConv(in_ch, out_ch, w_dim, resolution, True, conv_clamp, fir)
        self.conv1 = ModulatedConv(out_ch, out_ch, w_dim, resolution, False, conv_clamp, fir)
        self.torgb = ToRGB(out_ch, channels, w_dim, conv_clamp)
        self.register_buffer("fir", fir, persistent=False)
        self.num_conv = 1 if in_ch == 0 else 2

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor, noise_mode: str,
                generator: torch.Generator | None, force_fp32: bool) -> tuple[Tensor, Tensor]:
        """ws: [B, num_conv + 1, w_dim] (the last one is toRGB's); img stays in the parameters' dtype."""
        full = self.conv1.weight.dtype  # float32 (float64 when the module was made double)
        dtype = torch.float16 if self.fp16 and not force_fp32 else full
        fused = not self.training and (dtype == full or ws.shape[0] == 1)
        if self.conv0 is None:
            x = self.const.to(dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.conv0(x.to(dtype), ws[:, 0], noise_mode, generator, fused)
        x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode, generator, fused)
        y = self.torgb(x, ws[:, self.num_conv], fused).to(full)
        return x, y if img is None else upsample2d(img, self.fir) + y


class SynthesisNetwork(nn.Module):
    """W+ [B, num_ws, w_dim] -> image, about [-1, 1] (not squashed, as in the official code)."""

    def __init__(self, config: ModelConfig, spec: dict) -> None:
        super().__init__()
        fir = fir_filter(spec["fir"])
        ch = spec["channels"]
        fp16_from = spec["fp16_resolution"] or 2 * config.resolution
        self.blocks = nn.ModuleList(
            SynthesisBlock(ch[i - 1] if i else 0, ch[i], config.w_dim, res, config.channels, spec["conv_clamp"], fir,
                           res >= fp16_from)
            for i, res in enumerate(levels(config.resolution)))
        self.force_fp32 = False

    def forward(self, ws: Tensor, noise_mode: str = "const", generator: torch.Generator | None = None) -> Tensor:
        x = img = None
        i = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, i: i + block.num_conv + 1], noise_mode, generator, self.force_fp32)
            i += block.num_conv
        return img


class StyleGAN2Generator(Generator):
    """Mapping + synthesis of StyleGAN2; W and W+ inputs, truncation, three noise modes.

    `noise_mode` (attribute, "const" by default) is what `synthesis` uses unless told otherwise;
    `force_fp32` (attribute) computes the blocks the NVlabs file runs in float16 in float32.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        spec = check_spec(config)
        self.num_ws = spec["num_ws"]
        self.noise_mode = "const"
        self.mapping_net = MappingNetwork(config.z_dim, config.w_dim, spec["mapping_hidden"], config.mapping_layers,
                                          config.mapping_lr_mul)
        self.synthesis_net = SynthesisNetwork(config, spec)

    @classmethod
    def count_ws(cls, config: ModelConfig) -> int:
        return count_ws_at(config.resolution)

    @property
    def force_fp32(self) -> bool:
        return self.synthesis_net.force_fp32

    @force_fp32.setter
    def force_fp32(self, value: bool) -> None:
        self.synthesis_net.force_fp32 = bool(value)

    @property
    def w_avg(self) -> Tensor:
        """The tracked average w [w_dim] (truncation centre)."""
        return self.mapping_net.w_avg

    def truncation_centre(self) -> Tensor:
        return self.w_avg

    def mapping(self, z: Tensor, truncation_psi: float = 1.0) -> Tensor:
        """[B, z_dim] -> [B, w_dim]; truncation_psi < 1 moves w toward `w_avg`."""
        return self.mapping_net(z, truncation_psi)

    def synthesis(self, w: Tensor, noise_mode: str | None = None, generator: torch.Generator | None = None) -> Tensor:
        """W [B, w_dim] or W+ [B, num_ws, w_dim] -> [B, C, R, R]; `generator` seeds "random" noise."""
        mode = noise_mode or self.noise_mode
        if mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {mode!r}")
        return self.synthesis_net(self.ws(w), mode, generator)


# --- discriminator --------------------------------------------------------------------------------

class Conv2dLayer(nn.Module):
    """Equalized-lr conv, optionally preceded by FIR 2x downsampling, then bias / lrelu / clamp."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True, act: bool = True, down: bool = False,
                 conv_clamp: float | None = None, fir: Tensor | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.act = act
        self.down = down
        self.conv_clamp = conv_clamp
        if down:
            self.register_buffer("fir", fir, persistent=False)

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        k = w.shape[-1]
        if self.down:
            # Filter with padding so that the strided conv lands on the official grid, then stride 2.
            f = self.fir.shape[-1]
            x = upfirdn(x, self.fir, pad=(k // 2 + (f - 1) // 2, k // 2 + (f - 2) // 2))
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=k // 2)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_lrelu(x, self.bias, gain, clamp, act=self.act)


class DiscriminatorBlock(nn.Module):
    """Residual block at one resolution: (fromRGB), conv, down conv, plus a down 1x1 skip; sum / sqrt 2."""

    def __init__(self, in_ch: int, tmp_ch: int, out_ch: int, channels: int, conv_clamp: float | None,
                 fir: Tensor, fp16: bool) -> None:
        super().__init__()
        self.fp16 = fp16
        self.fromrgb = Conv2dLayer(channels, tmp_ch, 1, conv_clamp=conv_clamp) if in_ch == 0 else None
        self.conv0 = Conv2dLayer(tmp_ch, tmp_ch, 3, conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_ch, out_ch, 3, down=True, conv_clamp=conv_clamp, fir=fir)
        self.skip = Conv2dLayer(tmp_ch, out_ch, 1, bias=False, act=False, down=True, fir=fir)

    def forward(self, x: Tensor) -> Tensor:
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


def minibatch_std(x: Tensor, group_size: int, num_channels: int) -> Tensor:
    """Append the std over groups of samples (averaged over channels and pixels) as extra channels.

    Sample i belongs to group i mod (N / G). G = the largest divisor of N not above `group_size`
    (the official code needs N divisible by min(group_size, N); then the two agree)."""
    n, c, h, w = x.shape
    g = next(d for d in range(min(group_size, n), 0, -1) if n % d == 0)
    y = x.reshape(g, -1, num_channels, c // num_channels, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(2, 3, 4))  # [N/G, F]
    y = y.reshape(-1, num_channels, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class StyleGAN2Discriminator(nn.Module):
    """Image -> logit [B] (resnet D with minibatch-std); `features` gives per-image activations."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        spec = check_spec(config)
        fir = fir_filter(spec["fir"])
        ch = spec["d_channels"]  # [R, R/2, ..., 4] px
        clamp = spec["d_conv_clamp"]
        fp16_from = spec["d_fp16_resolution"] or 2 * config.resolution
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(ch[i] if i else 0, ch[i], ch[i + 1], config.channels, clamp, fir,
                               config.resolution // 2**i >= fp16_from)
            for i in range(len(ch) - 1))
        self.force_fp32 = False
        self.mbstd_group = spec["mbstd_group"]
        self.mbstd_channels = spec["mbstd_channels"]
        self.conv = Conv2dLayer(ch[-1] + self.mbstd_channels, ch[-1], 3, conv_clamp=clamp)
        self.fc = FullyConnected(ch[-1] * 16, ch[-1], act=True)
        self.out = FullyConnected(ch[-1], 1)

    def features(self, x: Tensor) -> list[Tensor]:
        """Activations (parameters' dtype) after fromRGB and after every block (R px ... 4 px); no minibatch
        statistics, so each image's features do not depend on the rest of the batch."""
        full = self.conv.weight.dtype
        dtypes = [torch.float16 if b.fp16 and not self.force_fp32 else full for b in self.blocks]
        h = self.blocks[0].fromrgb(x.to(dtypes[0]))
        acts = [h]
        for block, dtype in zip(self.blocks, dtypes, strict=True):
            h = block(h.to(dtype))
            acts.append(h)
        return [a.to(full) for a in acts]

    def forward(self, x: Tensor) -> Tensor:
        """[B] logits. The minibatch-std layer makes them depend on the batch (groups of up to 4)."""
        h = self.features(x)[-1]
        if self.mbstd_channels > 0:
            h = minibatch_std(h, self.mbstd_group, self.mbstd_channels)
        h = self.conv(h)
        return self.out(self.fc(h.flatten(1))).squeeze(1)
