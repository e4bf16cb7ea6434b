import pytest
import torch

from edit_core.features import DiscriminatorFeatures, HOGFeatures, feature_distance
from edit_core.models import ModelConfig, build_discriminator, build_encoder, build_generator
from edit_core.project import project

CFG = ModelConfig(resolution=16, z_dim=16, w_dim=16, width=8, mapping_layers=2)


@pytest.fixture(scope="module")
def untrained():
    """Random-weight G, E (W and W+) and D in float64: exact arithmetic checks need no training."""
    G = build_generator(CFG, seed=0).double().eval()
    E = build_encoder(CFG, seed=1).double().eval()
    E_plus = build_encoder(CFG, w_plus=True, seed=2).double().eval()
    D = build_discriminator(CFG, seed=3).double().eval()
    with torch.no_grad():
        images = G.synthesis(G.mapping(G.sample_z(5, 7)))
    return G, E, E_plus, D, images


@pytest.mark.parametrize("w_plus", [False, True])
@pytest.mark.parametrize("starts", [1, 3])
def test_batch_equals_one_at_a_time(untrained, w_plus: bool, starts: int) -> None:
    # float64, so that Adam cannot amplify float32 kernel differences between batch sizes
    G, E, E_plus, D, images = untrained
    kw = dict(mode="hybrid", encoder=E_plus if w_plus else E, features=D.features, steps=12,
              w_plus=w_plus, starts=starts, seed=3)
    batch = project(G, images, **kw)
    for i in range(len(images)):
        alone = project(G, images[i : i + 1], **kw)
        assert torch.allclose(batch.w[i], alone.w[0], atol=1e-9, rtol=0)
        assert torch.allclose(batch.err_pixel[i], alone.err_pixel[0], atol=1e-12)
        assert torch.allclose(batch.err_feature[i], alone.err_feature[0], atol=1e-12)


def test_shapes_errors_and_modes(untrained) -> None:
    G, E, E_plus, D, images = untrained
    enc = project(G, images, mode="encoder", encoder=E, features=D.features)
    assert enc.w.shape == (5, CFG.w_dim) and enc.recon.shape == images.shape
    assert torch.allclose(enc.w, E(images))
    expected = (G.synthesis(enc.w) - images).pow(2).flatten(1).mean(1)
    assert torch.allclose(enc.err_pixel, expected)
    for extractor in (DiscriminatorFeatures(D), HOGFeatures()):
        res = project(G, images, mode="hybrid", encoder=E, features=extractor, steps=2)
        assert torch.allclose(res.err_feature, feature_distance(res.recon, images, extractor))
    plus = project(G, images, mode="hybrid", encoder=E_plus, steps=2, w_plus=True)
    assert plus.w.shape == (5, G.num_ws, CFG.w_dim)
    assert torch.isnan(plus.err_feature).all()  # no feature extractor given


def test_optimize_starts_from_the_mean_w() -> None:
    G = build_generator(CFG, seed=0).eval()
    images = torch.zeros(2, 3, 16, 16)
    res = project(G, images, mode="optimize", steps=0)
    assert torch.equal(res.w, G.mean_w().expand(2, -1))


def test_more_starts_never_lose_and_optimization_improves(untrained) -> None:
    G, E, _, _, images = untrained
    enc = project(G, images, mode="encoder", encoder=E)
    one = project(G, images, mode="hybrid", encoder=E, steps=15, lr=0.05)
    many = project(G, images, mode="hybrid", encoder=E, steps=15, lr=0.05, starts=4, seed=1)
    assert (one.err_pixel < enc.err_pixel).all()
    assert (many.err_pixel <= one.err_pixel + 1e-12).all()


def test_init_overrides_the_first_start(untrained) -> None:
    G, E, _, _, images = untrained
    w = G.mapping(G.sample_z(5, 11)).detach()
    res = project(G, images, mode="hybrid", encoder=E, steps=0, init=w)
    assert torch.equal(res.w, w)


def test_validation(untrained) -> None:
    G, E, E_plus, _, images = untrained
    with pytest.raises(ValueError, match=r"\[B, 3, 16, 16\]"):
        project(G, images[:, :, :8], mode="encoder", encoder=E)
    with pytest.raises(ValueError, match="mode"):
        project(G, images, mode="lbfgs", encoder=E)
    with pytest.raises(ValueError, match="needs an encoder"):
        project(G, images, mode="hybrid")
    with pytest.raises(ValueError, match="w_plus"):
        project(G, images, mode="encoder", encoder=E_plus)


def test_hybrid_beats_encoder_and_optimize_on_a_trained_model(tiny_models) -> None:
    m = tiny_models
    images = m.images[:8]
    kw = dict(encoder=m.E, steps=15, lr=0.05)
    err = {mode: project(m.G, images, mode=mode, **kw).err_pixel.mean() for mode in ("encoder", "optimize", "hybrid")}
    assert err["hybrid"] < err["encoder"]
    assert err["hybrid"] < err["optimize"]


def test_wplus_pull_keeps_the_layers_near_one_w(untrained) -> None:
    G, E, E_plus, D, images = untrained
    spread = {}
    for pull in (0.0, 50.0):
        w = project(G, images, mode="hybrid", encoder=E_plus, steps=30, lr=0.05, w_plus=True, wplus_pull=pull).w
        spread[pull] = float((w - w.mean(1, keepdim=True)).pow(2).mean())
    assert spread[50.0] < 0.5 * spread[0.0]
    plain = project(G, images, mode="hybrid", encoder=E, steps=5, wplus_pull=50.0).w  # W: nothing to pull
    assert torch.equal(plain, project(G, images, mode="hybrid", encoder=E, steps=5).w)
