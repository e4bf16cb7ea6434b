import pytest
import torch

from edit_core.alphas import (
    alphas_at_strength,
    apply_alphas,
    clamp_to_span,
    closed_form_alphas,
    distances,
    error_outliers,
    example_target,
    guard_span,
    range_guard,
    unit_normal,
)


def _latents(shape: tuple[int, ...], n: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, *shape, generator=g, dtype=torch.float64)
    w0 = torch.randn(*shape, generator=g, dtype=torch.float64)
    delta = 0.7 * torch.randn(*shape, generator=g, dtype=torch.float64)
    return w, w0, delta


def test_unit_normal_has_unit_norm_and_rejects_zero() -> None:
    _, _, delta = _latents((8,))
    n = unit_normal(delta)
    assert torch.allclose(n.norm(), torch.tensor(1.0, dtype=n.dtype))
    assert torch.allclose(n * delta.norm(), delta)
    with pytest.raises(ValueError):
        unit_normal(torch.zeros(8))


@pytest.mark.parametrize("shape", [(16,), (4, 16)])  # W and W+
def test_alpha_matches_definition_elementwise(shape: tuple[int, ...]) -> None:
    w, w0, delta = _latents(shape)
    n = unit_normal(delta)
    target = example_target(w0, delta, 1.0)
    assert torch.allclose(target, w0 + delta)
    a = closed_form_alphas(w, target, n)
    expected = torch.stack([((target - wi) * n).sum() for wi in w])
    assert a.shape == (len(w),)
    assert torch.allclose(a, expected)
    assert torch.allclose(distances(w, target, n), -a)


@pytest.mark.parametrize("shape", [(16,), (4, 16)])
def test_after_scaling_every_latent_lands_on_the_example_hyperplane(shape: tuple[int, ...]) -> None:
    w, w0, delta = _latents(shape)
    w, w0, delta = w.float(), w0.float(), delta.float()
    n = unit_normal(delta)
    target = example_target(w0, delta)
    edited = apply_alphas(w, closed_form_alphas(w, target, n), n)
    assert edited.shape == w.shape
    proj = edited.reshape(len(w), -1) @ n.reshape(-1)
    assert torch.allclose(proj, (target * n).sum().expand_as(proj), atol=1e-5)
    # only the component along n changes
    moved = (edited - w).reshape(len(w), -1)
    residual = moved - (moved @ n.reshape(-1))[:, None] * n.reshape(1, -1)
    assert residual.abs().max() < 1e-5


def test_new_strength_equals_full_recomputation() -> None:
    w, w0, delta = _latents((4, 16))
    n = unit_normal(delta)
    a1 = closed_form_alphas(w, example_target(w0, delta, 1.0), n)
    for s in (-1.0, 0.0, 0.5, 2.5):
        full = closed_form_alphas(w, example_target(w0, delta, s), n)
        assert torch.allclose(alphas_at_strength(a1, delta, 1.0, s), full, atol=1e-10)


def test_alpha_does_not_depend_on_the_origin() -> None:
    w, w0, delta = _latents((16,))
    origin = torch.randn(16, dtype=w.dtype)
    n = unit_normal(delta)
    a_raw = closed_form_alphas(w, example_target(w0, delta), n)
    a_centred = closed_form_alphas(w - origin, example_target(w0 - origin, delta), n)
    assert torch.allclose(a_raw, a_centred)


def test_the_example_itself_needs_exactly_its_strength() -> None:
    _, w0, delta = _latents((16,))
    n = unit_normal(delta)
    a = closed_form_alphas(w0[None], example_target(w0, delta, 2.0), n)
    assert torch.allclose(a, 2.0 * delta.norm().reshape(1))


def test_shape_mismatch_is_rejected() -> None:
    w, w0, delta = _latents((16,))
    with pytest.raises(ValueError, match="do not match"):
        closed_form_alphas(w[:, :8], example_target(w0, delta), unit_normal(delta))


def test_range_guard_flags_outliers_and_unreachable_targets() -> None:
    cat = torch.tensor([-2.0, -1.0, 0.5, 1.0, 2.0])  # catalog distances to the target hyperplane
    # exact alphas of the catalog itself: nothing to flag
    assert not range_guard(-cat, cat, margin=0.1).any()
    # an image far outside the catalog's span along n is flagged, the others are not
    flags = range_guard(torch.tensor([1.0, -6.0, 2.3]), cat, margin=0.1)
    assert flags.tolist() == [False, True, False]
    # a target outside the span (the whole catalog lies on one side) flags every image
    shifted = cat + 5.0
    assert range_guard(-shifted, shifted, margin=0.1).all()
    # ... unless the margin is wide enough to reach it
    assert not range_guard(-shifted, shifted, margin=1.0).any()


def test_guard_span_uses_robust_quantiles_of_the_reference() -> None:
    reference = torch.cat([torch.linspace(-1.0, 1.0, 1001), torch.tensor([50.0])])  # one wild sample
    lo, hi = guard_span(reference, margin=0.0, quantile=0.01)
    assert -1.0 < lo < -0.9 and 0.9 < hi < 1.0
    lo, hi = guard_span(reference, margin=0.5, quantile=0.0)  # min / max, widened by half the width
    assert lo == pytest.approx(-1.0 - 25.5) and hi == pytest.approx(50.0 + 25.5)


def test_clamp_to_span_moves_the_final_state_to_the_nearest_edge() -> None:
    alpha = torch.tensor([1.0, -2.0])
    assert torch.equal(clamp_to_span(alpha, (-3.0, 2.0)), alpha)  # the target (0) is inside: unchanged
    assert torch.allclose(clamp_to_span(alpha, (0.5, 2.0)), alpha + 0.5)  # every photo ends at 0.5
    assert torch.allclose(clamp_to_span(alpha, (-3.0, -1.0)), alpha - 1.0)


def test_error_outliers_are_robust_to_the_outliers_themselves() -> None:
    err = torch.tensor([0.40, 0.45, 0.50, 0.52, 0.48, 0.47, 0.43, 2.0, 3.0, float("nan")])
    assert error_outliers(err, mads=6.0).tolist() == [False] * 7 + [True, True, True]
    assert not error_outliers(torch.full((5,), 0.3), mads=6.0).any()  # identical errors: nothing is an outlier
