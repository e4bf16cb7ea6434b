import pytest
import torch

from edit_core.alphas import (
    apply_alphas,
    beyond_limit,
    clamp_to_span,
    closed_form_alphas,
    distances,
    error_limit,
    example_target,
    guard_decision,
    guard_span,
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


def test_guard_decision_skips_only_what_makes_a_bad_output() -> None:
    # a start outside G's span is edited and flagged for review: the edit moves it into the span
    d = guard_decision(True, "", "start -7.3 outside G's span", "", "skip")
    assert d.status == "flagged" and "start -7.3" in d.reason and "edited" in d.reason
    # an unreconstructable photo or an unreachable final state is skipped (the default action) ...
    assert guard_decision(True, "projection error 3 is an outlier", "", "", "skip").status == "skipped"
    assert guard_decision(True, "", "", "final state outside", "skip").status == "skipped"
    # ... edited anyway with guard.action=flag, pulled into the span with clamp (not an error outlier)
    assert guard_decision(True, "", "start out", "final state outside", "flag").status == "flagged"
    assert guard_decision(True, "", "", "final state outside", "clamp").status == "clamped"
    assert guard_decision(True, "projection error 3 is an outlier", "", "final state outside", "clamp").status == \
        "skipped"
    assert guard_decision(True, "", "", "", "skip") == guard_decision(True, "", "", "", "flag")
    assert guard_decision(True, "", "", "", "skip").status == "edited"
    assert guard_decision(False, "", "", "", "flag").status == "rejected"


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
    assert beyond_limit(err, error_limit(err, mads=6.0)).tolist() == [False] * 7 + [True, True, True]
    same = torch.full((5,), 0.3)
    assert not beyond_limit(same, error_limit(same, mads=6.0)).any()  # identical errors: nothing is an outlier
