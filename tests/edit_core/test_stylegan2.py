"""The stylegan2 backbone: Generator / Discriminator contracts, noise modes, truncation, config."""

from __future__ import annotations

import pytest
import torch

from edit_core.models import (
    GENERATORS,
    ModelConfig,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    build_discriminator,
    build_generator,
)
from edit_core.models.stylegan2 import default_spec, minibatch_std, upsample2d

SPEC = default_spec(16, w_dim=8, channel_base=128, channel_max=16)  # channels 16, 16, 8 at 4, 8, 16 px
CFG = ModelConfig(backbone="stylegan2", resolution=16, z_dim=8, w_dim=8, mapping_layers=2, stylegan2=SPEC)


def randomized(cfg: ModelConfig = CFG) -> tuple[StyleGAN2Generator, StyleGAN2Discriminator]:
    """G and D with non-zero biases and noise strengths (as after training), eval mode."""
    G, D = build_generator(cfg).eval(), build_discriminator(cfg).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in [*G.named_parameters(), *D.named_parameters()]:
            if name.endswith("noise_strength") or name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
        G.mapping_net.w_avg.copy_(torch.randn(cfg.w_dim, generator=gen))
    return G, D


def test_registry_config_and_shapes() -> None:
    G, D = randomized()
    assert isinstance(G, GENERATORS["stylegan2"]) and isinstance(D, StyleGAN2Discriminator)
    assert G.num_ws == StyleGAN2Generator.count_ws(CFG) == 6 == CFG.stylegan2["num_ws"]
    z = G.sample_z(3, seed=0)
    w = G.mapping(z)
    x = G.synthesis(w)
    assert w.shape == (3, 8) and x.shape == (3, 3, 16, 16) and D(x).shape == (3,)
    assert [f.shape[-1] for f in D.features(x)] == [16, 8, 4]
    torch.testing.assert_close(G(z), x)
    assert ModelConfig.from_dict(CFG.to_dict()) == CFG
    assert ModelConfig(backbone="stylegan2", resolution=32).stylegan2["channels"] == [512] * 4  # config-F table
    assert ModelConfig.from_dict({"backbone": "style", "resolution": 8}).stylegan2 is None  # old checkpoints
    with pytest.raises(ValueError, match="channels"):
        ModelConfig(backbone="stylegan2", resolution=16, stylegan2={**SPEC, "channels": [8, 8]})
    with pytest.raises(ValueError, match="stylegan2 hyperparameters"):
        ModelConfig(backbone="style", stylegan2=SPEC)


def test_w_plus_with_equal_rows_equals_w_and_rows_matter() -> None:
    G, _ = randomized()
    w = G.sample_w(2, seed=1)
    torch.testing.assert_close(G.synthesis(G.ws(w)), G.synthesis(w))
    for layer in range(G.num_ws):  # every layer (toRGB of the last block included) reads its own row
        wp = G.ws(w).clone()
        wp[:, layer] += 1.0
        assert (G.synthesis(wp) - G.synthesis(w)).abs().max() > 1e-4, layer
    with pytest.raises(ValueError):
        G.synthesis(torch.zeros(2, 3, 8))


def test_noise_modes_and_truncation() -> None:
    G, _ = randomized()
    w = G.sample_w(2, seed=0)
    const = G.synthesis(w)
    torch.testing.assert_close(G.synthesis(w), const)  # deterministic by default
    none = G.synthesis(w, noise_mode="none")
    r1 = G.synthesis(w, noise_mode="random", generator=torch.Generator().manual_seed(3))
    r2 = G.synthesis(w, noise_mode="random", generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(r1, r2)
    assert min((const - none).abs().max(), (r1 - const).abs().max(), (r1 - none).abs().max()) > 1e-3
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.zero_()
    torch.testing.assert_close(G.synthesis(w), G.synthesis(w, noise_mode="none"))
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(w, noise_mode="fixed")
    z = G.sample_z(2, seed=0)
    torch.testing.assert_close(G.mapping(z, truncation_psi=0.0), G.w_avg.expand(2, -1))
    torch.testing.assert_close(G.mapping(z, truncation_psi=0.5), (G.mapping(z) + G.w_avg) / 2)


def test_per_image_results_do_not_depend_on_batch() -> None:
    G, D = randomized()
    w = G.sample_w(4, seed=0)
    x = G.synthesis(w)
    torch.testing.assert_close(G.synthesis(w[2:3]), x[2:3], atol=1e-5, rtol=1e-5)
    for fa, fb in zip(D.features(x[3:]), D.features(x), strict=True):
        torch.testing.assert_close(fa, fb[3:], atol=1e-5, rtol=1e-5)
    G.double()  # float64 (the engine's exactness checks) runs in float64 throughout
    x64 = G.synthesis(w.double())
    assert x64.dtype == torch.float64 and D.double()(x64).dtype == torch.float64
    torch.testing.assert_close(x64.float(), x, atol=1e-4, rtol=1e-4)


def test_minibatch_std_groups_samples_by_index_modulo_group_count() -> None:
    x = torch.randn(8, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    y = minibatch_std(x, group_size=4, num_channels=1)
    # groups of 4 from a batch of 8: samples {0, 2, 4, 6} and {1, 3, 5, 7}
    torch.testing.assert_close(minibatch_std(x[0::2], 4, 1), y[0::2])
    expect = (x[0::2].var(0, unbiased=False) + 1e-8).sqrt().mean()
    torch.testing.assert_close(y[0, 2], expect.expand(4, 4))
    assert minibatch_std(x[:6], 4, 1).shape == (6, 3, 4, 4)  # 6 is not divisible by 4: groups of 3


def test_fir_upsampling_keeps_a_constant_and_the_pixel_grid() -> None:
    from edit_core.models.stylegan2 import fir_filter

    f = fir_filter([1, 3, 3, 1])
    up = upsample2d(torch.ones(1, 1, 8, 8), f)
    torch.testing.assert_close(up[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))
    ramp = torch.arange(8.0).reshape(1, 1, 1, 8).expand(1, 1, 8, 8)
    # a linear ramp stays linear; output pixel o sits at input coordinate o/2 - 1/4 (pixel centres aligned)
    row = upsample2d(ramp, f)[0, 0, 4, 2:-2]
    torch.testing.assert_close(row, torch.arange(2, 14) / 2.0 - 0.25)


def test_float16_blocks_agree_with_float32_and_project_with_gradients() -> None:
    cfg = ModelConfig(backbone="stylegan2", resolution=16, z_dim=8, w_dim=8, mapping_layers=2,
                      stylegan2={**SPEC, "fp16_resolution": 8, "d_fp16_resolution": 8, "conv_clamp": 256})
    G, D = randomized(cfg)
    w = G.sample_w(2, seed=0)
    half = G.synthesis(w)
    G.force_fp32 = True
    full = G.synthesis(w)
    assert half.dtype == torch.float32 and 0 < (half - full).abs().max() < 0.02 * full.abs().max()
    w = w.clone().requires_grad_(True)
    G.requires_grad_(False)
    loss = (G.synthesis(w) - full.detach().flip(0)).square().mean() - D(G.synthesis(w)).mean()
    (grad,) = torch.autograd.grad(loss, w)
    assert torch.isfinite(grad).all() and grad.abs().max() > 0


def test_other_backbones_config_dicts_are_unchanged() -> None:
    """Checkpoints and cache digests of the existing backbones see the same dict as before stylegan2."""
    assert "stylegan2" not in ModelConfig().to_dict() and "stylegan2" in CFG.to_dict()
    assert ModelConfig.from_dict(ModelConfig(backbone="dcgan", w_dim=64).to_dict()) == ModelConfig(backbone="dcgan", w_dim=64)


def test_sampling_with_truncation_pulls_toward_the_tracked_w_avg() -> None:
    from edit_core.models import ModelConfig, build_generator
    from edit_core.models.stylegan2 import default_spec

    cfg = ModelConfig(backbone="stylegan2", resolution=8, z_dim=8, w_dim=8, mapping_layers=2,
                      stylegan2=default_spec(8, w_dim=8, channel_base=64, channel_max=16))
    G = build_generator(cfg, seed=1).eval()
    with torch.no_grad():
        G.mapping_net.w_avg.copy_(torch.arange(8.0))
        full, half = G.sample_w(5, 3), G.sample_w(5, 3, truncation_psi=0.5)
    torch.testing.assert_close(half, G.w_avg + 0.5 * (full - G.w_avg))
