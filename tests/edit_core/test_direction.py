import pytest
import torch
from torch import Tensor, nn

from common.params import DirectionParams
from edit_core.alphas import closed_form_alphas, example_target, unit_normal
from edit_core.direction import attribute_loss, fit_direction, rms_error


class StandInG(nn.Module):
    """Tiny smooth generator with a 20-dim null space in W: G(w) = tanh(A·mean_layers(w)) as a 3x2x2 image.

    The null space lets Δ* reproduce the image edit exactly while still moving to satisfy L_att.
    """

    num_ws = 3
    w_dim = 32
    resolution = 2

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.A = nn.Parameter(torch.randn(12, self.w_dim, generator=g) / 4, requires_grad=False)

    def synthesis(self, w: Tensor) -> Tensor:
        if w.ndim == 3:
            w = w.mean(1)
        return torch.tanh(w @ self.A.T).reshape(-1, 3, 2, 2)

    def mapping(self, z: Tensor) -> Tensor:
        return z

    def sample_z(self, n: int, seed: int) -> Tensor:
        return torch.randn(n, self.w_dim, generator=torch.Generator().manual_seed(seed))


def _example(w_plus: bool = False) -> tuple[StandInG, Tensor, Tensor]:
    G = StandInG()
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(G.w_dim, generator=g)
    delta_w = 0.5 * torch.randn(G.w_dim, generator=g)
    if w_plus:
        w0, delta_w = w0.expand(G.num_ws, -1).clone(), delta_w.expand(G.num_ws, -1).clone()
    return G, w0, delta_w


def example_error(G: StandInG, w0: Tensor, delta_w: Tensor, delta_star: Tensor) -> Tensor:
    """L_img for the example alone: RMS difference of G(w0 + Δw) and G(w0 + Δ*) (in [-1, 1] units)."""
    img = G.synthesis(torch.stack([w0 + delta_w, w0 + delta_star]))
    return rms_error(img[:1], img[1:])[0]


@pytest.mark.parametrize("w_plus", [False, True])
def test_fitted_direction_reproduces_the_edit_and_lies_on_its_hyperplane(w_plus: bool) -> None:
    G, w0, delta_w = _example(w_plus)
    delta_star = fit_direction(G, w0, delta_w, lam=0.02, steps=300, lr=0.02)
    assert delta_star.shape == w0.shape
    edit_size = (G.synthesis(torch.stack([w0, w0 + delta_w])).diff(dim=0)).norm()
    assert example_error(G, w0, delta_w, delta_star) < 0.1 * edit_size
    # relative distance of the edited example to the hyperplane through the origin
    rel = attribute_loss(w0, delta_star) / delta_star.norm() / (w0 + delta_star).norm()
    rel_naive = attribute_loss(w0, delta_w) / delta_w.norm() / (w0 + delta_w).norm()
    assert rel < 0.05 < rel_naive


class PhotoSizedG(nn.Module):
    """Stand-in with the pipeline's image size (3x64x64): G(w) = tanh(B·Q·w) as an image.

    Q is a random rotation; of the rotated coordinates, 8 change the image strongly and 24 barely
    (columns of B 20x weaker), like the directions a real G hardly uses, where a projection leaves
    noise in Δw. No direction is exactly free: at this size the raw 2-norm L_img had a gradient far
    above λ·∇L_att in every direction, so a fit started at Δw never left it (issue 14).
    """

    num_ws, w_dim, resolution, used = 1, 32, 64, 8

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        scale = torch.cat([torch.ones(self.used), torch.full((self.w_dim - self.used,), 0.05)])
        self.B = nn.Parameter(torch.randn(3 * 64 * 64, self.w_dim, generator=g) * scale / 3, requires_grad=False)
        self.Q = nn.Parameter(torch.linalg.qr(torch.randn(self.w_dim, self.w_dim, generator=g))[0], requires_grad=False)

    def synthesis(self, w: Tensor) -> Tensor:
        return torch.tanh(w @ self.Q.T @ self.B.T).reshape(-1, 3, 64, 64)

    def mapping(self, z: Tensor) -> Tensor:
        return z

    def sample_z(self, n: int, seed: int) -> Tensor:
        return torch.randn(n, self.w_dim, generator=torch.Generator().manual_seed(seed))

    def mean_w(self) -> Tensor:
        return torch.zeros(self.w_dim)


def test_pipeline_settings_leave_delta_w_for_a_direction_on_its_hyperplane() -> None:
    """With the pipeline's own edit.direction settings (64 px images), Δ* must not stay at Δw (issue 14)."""
    d = DirectionParams()
    G = PhotoSizedG()
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(G.w_dim, generator=g)
    delta_w = 0.5 * torch.randn(G.w_dim, generator=g)
    origin = G.mean_w() if d.origin == "mean" else None
    delta_star = fit_direction(G, w0, delta_w, lam=d.lam, steps=d.steps, lr=d.lr, init=d.init, origin=origin,
                               anchors=d.anchors, seed=d.seed)
    with torch.no_grad():
        start, user, ours = G.synthesis(torch.stack([w0, w0 + delta_w, w0 + delta_star]))
        assert (ours - user).norm() < 0.15 * (user - start).norm()  # the same image edit
    assert float(unit_normal(delta_star) @ unit_normal(delta_w)) < 0.99  # it left Δw
    if d.lam > 0:  # the edited example lies on Δ*'s hyperplane, not on Δw's
        base = w0 if origin is None else w0 - origin
        rel = attribute_loss(base, delta_star) / delta_star.norm() / (base + delta_star).norm()
        rel_naive = attribute_loss(base, delta_w) / delta_w.norm() / (base + delta_w).norm()
        assert rel < 0.05 < rel_naive
    else:  # Δ* keeps what changes the image, not the noise in what G barely uses (it tilts Δw's normal)
        weak = lambda d: (G.Q @ d)[G.used :].norm()  # noqa: E731
        assert weak(delta_star) < 0.5 * weak(delta_w)


def test_image_loss_is_per_pixel() -> None:
    """λ must weigh L_img the same at any resolution: a uniform pixel error e reads e at 2 px and 64 px."""
    a, b = torch.zeros(1, 3, 64, 64), torch.full((1, 3, 64, 64), 0.3)
    assert torch.allclose(rms_error(a, b), torch.tensor([0.3]), rtol=1e-4)
    assert torch.allclose(rms_error(a[..., :2, :2], b[..., :2, :2]), torch.tensor([0.3]), rtol=1e-4)


def test_both_origin_conventions() -> None:
    G, w0, delta_w = _example()
    origin = 0.5 * torch.ones(G.w_dim)
    raw = fit_direction(G, w0, delta_w, lam=0.02, steps=300, lr=0.02)
    centred = fit_direction(G, w0, delta_w, lam=0.02, steps=300, lr=0.02, origin=origin)
    # L_att depends on the origin: each fit satisfies its own hyperplane, and the fits differ
    for d, o in ((raw, torch.zeros(G.w_dim)), (centred, origin)):
        assert ((w0 + d - o) @ unit_normal(d)).abs() < 0.05 * (w0 + d - o).norm()
    assert (raw - centred).norm() > 0.1 * raw.norm()
    # α does not: for a given Δ*, centring every latent leaves α unchanged
    w = G.sample_z(8, seed=3)
    n = unit_normal(centred)
    a_raw = closed_form_alphas(w, example_target(w0, centred), n)
    a_centred = closed_form_alphas(w - origin, example_target(w0 - origin, centred), n)
    assert torch.allclose(a_raw, a_centred, atol=1e-5)


def test_init_conventions_and_determinism() -> None:
    G, w0, delta_w = _example()
    assert torch.equal(fit_direction(G, w0, delta_w, steps=0, init="delta"), delta_w)
    assert torch.equal(fit_direction(G, w0, delta_w, steps=0, init="zero"), torch.zeros_like(w0))
    a = fit_direction(G, w0, delta_w, steps=20, anchors=4, seed=5)
    b = fit_direction(G, w0, delta_w, steps=20, anchors=4, seed=5)
    assert torch.equal(a, b)


def test_anchor_variant_reproduces_the_edit_from_delta_init() -> None:
    G, w0, delta_w = _example()
    delta_star = fit_direction(G, w0, delta_w, lam=0.02, init="delta", anchors=8, steps=150, lr=0.01, seed=0)
    edit_size = (G.synthesis(torch.stack([w0, w0 + delta_w])).diff(dim=0)).norm()
    assert example_error(G, w0, delta_w, delta_star) < 0.1 * edit_size
    assert attribute_loss(w0, delta_star) < attribute_loss(w0, delta_w)


def test_bad_arguments_are_rejected() -> None:
    G, w0, delta_w = _example()
    with pytest.raises(ValueError, match="same shape"):
        fit_direction(G, w0, delta_w[:4])
    with pytest.raises(ValueError, match="init"):
        fit_direction(G, w0, delta_w, init="random")


def test_layers_confine_the_direction_to_those_w_plus_rows() -> None:
    G = StandInG()
    plus = torch.randn(3, 32, generator=torch.Generator().manual_seed(1))
    delta_w = torch.randn(3, 32, generator=torch.Generator().manual_seed(2))
    d = fit_direction(G, plus, delta_w, steps=20, lr=0.05, layers=(0, 2))
    assert d[1].abs().max() == 0 and d[0].abs().max() > 0 and d[2].abs().max() > 0
    with pytest.raises(ValueError, match="needs W\\+ latents"):
        fit_direction(G, plus[0], delta_w[0], steps=1, layers=(0,))
    with pytest.raises(ValueError, match="outside the generator's 3 layers"):
        fit_direction(G, plus, delta_w, steps=1, layers=(5,))
