import pytest
import torch
from torch import Tensor, nn

from edit_core.alphas import closed_form_alphas, example_target, unit_normal
from edit_core.direction import attribute_loss, fit_direction, image_loss


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


@pytest.mark.parametrize("w_plus", [False, True])
def test_fitted_direction_reproduces_the_edit_and_lies_on_its_hyperplane(w_plus: bool) -> None:
    G, w0, delta_w = _example(w_plus)
    delta_star = fit_direction(G, w0, delta_w, steps=300, lr=0.02)
    assert delta_star.shape == w0.shape
    edit_size = (G.synthesis(torch.stack([w0, w0 + delta_w])).diff(dim=0)).norm()
    assert image_loss(G, w0, delta_w, delta_star) < 0.1 * edit_size
    # relative distance of the edited example to the hyperplane through the origin
    rel = attribute_loss(w0, delta_star) / delta_star.norm() / (w0 + delta_star).norm()
    rel_naive = attribute_loss(w0, delta_w) / delta_w.norm() / (w0 + delta_w).norm()
    assert rel < 0.05 < rel_naive


def test_both_origin_conventions() -> None:
    G, w0, delta_w = _example()
    origin = 0.5 * torch.ones(G.w_dim)
    raw = fit_direction(G, w0, delta_w, steps=300, lr=0.02)
    centred = fit_direction(G, w0, delta_w, steps=300, lr=0.02, origin=origin)
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
    delta_star = fit_direction(G, w0, delta_w, init="delta", anchors=8, steps=150, lr=0.01, seed=0)
    edit_size = (G.synthesis(torch.stack([w0, w0 + delta_w])).diff(dim=0)).norm()
    assert image_loss(G, w0, delta_w, delta_star) < 0.1 * edit_size
    assert attribute_loss(w0, delta_star) < attribute_loss(w0, delta_w)


def test_bad_arguments_are_rejected() -> None:
    G, w0, delta_w = _example()
    with pytest.raises(ValueError, match="same shape"):
        fit_direction(G, w0, delta_w[:4])
    with pytest.raises(ValueError, match="init"):
        fit_direction(G, w0, delta_w, init="random")
