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
