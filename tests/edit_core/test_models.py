import pytest
import torch

from edit_core.models import (
    GENERATORS,
    ModelConfig,
    build_discriminator,
    build_encoder,
    build_generator,
)

SMALL = {"resolution": 16, "z_dim": 8, "w_dim": 8, "width": 4, "mapping_layers": 2}


@pytest.mark.parametrize("backbone", ["style", "dcgan"])
def test_generator_shapes_and_range(backbone: str) -> None:
    G = build_generator(ModelConfig(backbone=backbone, **SMALL)).eval()
    z = G.sample_z(3, seed=0)
    w = G.mapping(z)
    x = G.synthesis(w)
    assert w.shape == (3, 8)
    assert x.shape == (3, 3, 16, 16)
    assert float(x.detach().abs().max()) <= 1.0
    torch.testing.assert_close(G(z), x)
    assert G.num_ws == GENERATORS[backbone].count_ws(G.config)


def test_style_w_plus_with_equal_rows_equals_w() -> None:
    G = build_generator(ModelConfig(**SMALL)).eval()
    w = G.sample_w(2, seed=1)
    assert G.num_ws == 5  # 1 at 4 px + 2 per level at 8 and 16 px
    torch.testing.assert_close(G.synthesis(G.ws(w)), G.synthesis(w))
    with pytest.raises(ValueError):
        G.synthesis(torch.zeros(2, 3, 8))


def test_dcgan_mapping_is_identity() -> None:
    G = build_generator(ModelConfig(backbone="dcgan", **SMALL))
    z = G.sample_z(4, seed=0)
    torch.testing.assert_close(G.mapping(z), z)
    with pytest.raises(ValueError):
        ModelConfig(backbone="dcgan", z_dim=8, w_dim=16)


@pytest.mark.parametrize("backbone", ["style", "dcgan"])
def test_per_image_results_do_not_depend_on_batch(backbone: str) -> None:
    cfg = ModelConfig(backbone=backbone, **SMALL)
    G, D, E = build_generator(cfg).eval(), build_discriminator(cfg).eval(), build_encoder(cfg).eval()
    w = G.sample_w(4, seed=0)
    x = G.synthesis(w)
    torch.testing.assert_close(G.synthesis(w[2:3]), x[2:3], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(D(x[1:2]), D(x)[1:2], atol=1e-5, rtol=1e-5)
    for fa, fb in zip(D.features(x[3:]), D.features(x), strict=True):
        torch.testing.assert_close(fa, fb[3:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(E(x[:1]), E(x)[:1], atol=1e-5, rtol=1e-5)


def test_builders_are_seeded_and_leave_global_rng_alone() -> None:
    cfg = ModelConfig(**SMALL)
    state = torch.random.get_rng_state()
    a, b, c = build_generator(cfg, seed=3), build_generator(cfg, seed=3), build_generator(cfg, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))


def test_sample_w_is_seeded_and_mean_w_follows_the_weights() -> None:
    G = build_generator(ModelConfig(**SMALL))
    torch.testing.assert_close(G.sample_w(5, seed=2), G.sample_w(5, seed=2))
    m = G.mean_w(n=256)
    assert m.shape == (8,)
    assert G.mean_w(n=256) is m  # cached
    with torch.no_grad():
        G.mapping_net.layers[-1].bias.add_(1.0)
    assert not torch.equal(G.mean_w(n=256), m)


def test_sampling_follows_the_generators_dtype() -> None:
    G = build_generator(ModelConfig(**SMALL)).double()
    assert G.sample_w(3, seed=0).dtype == torch.float64 and G.mean_w(n=16).dtype == torch.float64
    torch.testing.assert_close(G.sample_z(3, seed=0).float(), build_generator(ModelConfig(**SMALL)).sample_z(3, seed=0))


def test_encoder_outputs_w_or_w_plus_starting_at_its_mean() -> None:
    cfg = ModelConfig(**SMALL)
    x = torch.zeros(2, 3, 16, 16)
    E, Ep = build_encoder(cfg), build_encoder(cfg, w_plus=True)
    assert E(x).shape == (2, 8)
    assert Ep(x).shape == (2, 5, 8)
    E.w_avg.fill_(5.0)
    assert float((E(x) - 5.0).detach().abs().mean()) < 1.0


def test_config_round_trip_and_validation() -> None:
    cfg = ModelConfig(backbone="dcgan", resolution=32, z_dim=16, w_dim=16)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        ModelConfig.from_dict({**cfg.to_dict(), "depth": 3})
    with pytest.raises(ValueError):
        ModelConfig(resolution=48)
    with pytest.raises(ValueError):
        build_generator(ModelConfig(backbone="vq"))


@pytest.mark.parametrize(("upsample", "demodulate"), [(False, True), (True, True), (False, False)])
def test_modulated_conv_equals_per_sample_weights(upsample: bool, demodulate: bool) -> None:
    # The textbook form: every sample's own weight w_oik * s_i (demodulated over i, k), applied to the
    # upsampled input as one grouped conv; then bias and gain. float64: only rounding may differ.
    from edit_core.models.style import ModulatedConv2d

    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, 3, 8, demodulate=demodulate, upsample=upsample).double()
    x, w, bias = torch.randn(3, 6, 4, 4).double(), torch.randn(3, 8).double(), torch.randn(5).double()
    style = conv.affine(w)
    weight = conv.weight[None] * conv.scale * style[:, None, :, None, None]  # [B, out, in, k, k]
    if demodulate:
        weight = weight / weight.pow(2).sum(dim=(2, 3, 4), keepdim=True).add(1e-8).sqrt()
    up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) if upsample else x
    ref = torch.nn.functional.conv2d(up.reshape(1, -1, *up.shape[2:]), weight.reshape(-1, 6, 3, 3), padding=1, groups=3)
    ref = 1.7 * (ref.reshape(3, 5, *up.shape[2:]) + bias[None, :, None, None])
    torch.testing.assert_close(conv(x, w, bias, gain=1.7), ref, atol=1e-12, rtol=1e-10)


def test_discriminator_block_equals_its_formula() -> None:
    # (avgpool(lrelu(conv1(lrelu(conv0(x))))) + skip(avgpool(x))) / sqrt(2), every gain applied to the output.
    import torch.nn.functional as F

    from edit_core.models.base import lrelu
    from edit_core.models.discriminator import DownBlock

    torch.manual_seed(0)
    block = DownBlock(4, 6).double()
    for conv in (block.conv0, block.conv1):
        torch.nn.init.normal_(conv.bias)
    x = torch.randn(2, 4, 8, 8).double()

    def conv(layer: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
        return F.conv2d(h, layer.weight * layer.scale, layer.bias, padding=layer.weight.shape[-1] // 2)

    y = F.avg_pool2d(lrelu(conv(block.conv1, lrelu(conv(block.conv0, x)))), 2)
    ref = (y + conv(block.skip, F.avg_pool2d(x, 2))) / 2**0.5
    torch.testing.assert_close(block(x), ref, atol=1e-12, rtol=1e-10)


def test_models_return_the_usual_layout() -> None:
    # Convolutions run channels_last on CPU; images leave G contiguous (numpy / OpenCV callers rely on it).
    cfg = ModelConfig(**SMALL)
    G, D = build_generator(cfg).eval(), build_discriminator(cfg).eval()
    x = G.synthesis(G.sample_w(2, seed=0))
    assert x.is_contiguous()
    torch.testing.assert_close(D(x), D(x.contiguous(memory_format=torch.channels_last)))


def test_the_torch_free_backbone_list_is_the_registry() -> None:
    from edit_core.configs import BACKBONES
    from edit_core.models import GENERATORS

    assert tuple(GENERATORS) == BACKBONES
