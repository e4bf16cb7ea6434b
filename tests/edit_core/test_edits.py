import pytest
import torch

from edit_core.edits import (
    BrushConstraints,
    BrushEnergy,
    ExampleEdit,
    edit_capture,
    edit_from_brush,
    edit_from_offset,
    edit_from_pair,
)
from edit_core.models import ModelConfig, build_discriminator, build_encoder, build_generator

CFG = ModelConfig(resolution=16, z_dim=16, w_dim=16, width=8, mapping_layers=2)
R = CFG.resolution


@pytest.fixture(scope="module")
def models():
    G = build_generator(CFG, seed=0).eval()
    E = build_encoder(CFG, seed=1).eval()
    D = build_discriminator(CFG, seed=2).eval()
    w = G.sample_w(2, seed=5)
    with torch.no_grad():
        images = G.synthesis(w)
    return G, E, D, w, images


def test_identical_pair_is_refused(models) -> None:
    G, E, _, _, images = models
    for encoder in (E, None):
        with pytest.raises(ValueError, match="identical"):
            edit_from_pair(G, images[0], images[0].clone(), encoder, steps=5)
    with pytest.raises(ValueError, match="identical"):
        edit_capture(G, torch.zeros(CFG.w_dim), torch.zeros(CFG.w_dim), images[0], images[0].clone())


def test_capture_measures_the_share_of_the_pixel_change(models) -> None:
    G, _, _, w, images = models
    delta = w[1] - w[0]
    assert edit_capture(G, w[0], delta, images[0], images[1]) == pytest.approx(1.0, abs=1e-5)  # exactly the edit
    assert edit_capture(G, w[0], torch.zeros_like(delta), images[0], images[1]) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():  # half the pixel change; a change twice the user's is as bad as none
        half = (images[0] + images[1]) / 2
    assert edit_capture(G, w[0], delta, images[0], half) < 0.05


def test_pair_edit_captures_the_pixel_change(models) -> None:
    """The pair's edit renders the user's change: both latents come from before's converged projection."""
    G, E, _, w, images = models
    with torch.no_grad():  # a small edit of the same photo, as a user makes it
        after = G.synthesis((w[0] + 0.3 * (w[1] - w[0]))[None])[0]
    edit = edit_from_pair(G, images[0], after, E, steps=60)
    with torch.no_grad():
        recon = G.synthesis(torch.stack([edit.w0, edit.w0_edited]))
    err = (recon - after).pow(2).flatten(1).mean(1)
    assert err[1] < 0.5 * err[0]  # the edited latent renders the after image, the original does not
    assert edit_capture(G, edit.w0, edit.delta_w, images[0], after) > 0.8
    plus = edit_from_pair(G, images[0], images[1], E, steps=2, w_plus=True)
    assert plus.w0.shape == (G.num_ws, CFG.w_dim)


def test_pair_validation(models) -> None:
    G, E, _, _, images = models
    with pytest.raises(ValueError, match="same size"):
        edit_from_pair(G, images[0], images[0, :, :8, :8], E)
    with pytest.raises(ValueError, match=r"\[B, 3, 16, 16\]"):
        edit_from_pair(G, images[0, :, :8, :8], images[0, :, :8, :8], E)


def _color_strokes() -> BrushConstraints:
    mask = torch.zeros(R, R, dtype=torch.bool)
    mask[4:10, 3:9] = True
    return BrushConstraints(color_mask=mask, color_rgb=torch.tensor([0.9, -0.8, -0.8]))


def _sketch_strokes() -> BrushConstraints:
    sketch = torch.zeros(R, R)
    sketch[:, 7:9] = 1.0  # a vertical line
    mask = torch.zeros(R, R, dtype=torch.bool)
    mask[2:14, 4:12] = True
    return BrushConstraints(sketch=sketch, sketch_mask=mask)


@pytest.mark.parametrize("strokes", [_color_strokes, _sketch_strokes])
def test_brush_edit_lowers_its_constraint_loss_and_stays_close(models, strokes) -> None:
    G, _, _, w, _ = models
    w0, c = w[0], strokes()
    term = "color" if c.color_mask is not None else "sketch"
    edit = edit_from_brush(G, w0, c, starts=16, steps=30, seed=0)
    assert edit.kind == "brush" and torch.equal(edit.w0, w0)
    energy = BrushEnergy(G, w0, c)
    with torch.no_grad():
        before, after = (energy.terms(x[None]) for x in (w0, edit.w0_edited))
    assert after[term] < 0.8 * before[term]
    assert after["total"] < before["total"]
    # the smoothness term keeps the edit closer to w0 than the same optimization without it
    free = edit_from_brush(G, w0, c, lambda_s=0.0, starts=16, steps=30, seed=0)
    assert edit.delta_w.norm() < free.delta_w.norm()


def test_brush_edit_with_realism_term_and_w_plus(models) -> None:
    G, _, D, w, _ = models
    w0 = G.ws(w[:1])[0]
    edit = edit_from_brush(G, w0, _color_strokes(), lambda_d=0.1, D=D, starts=4, steps=3, seed=1)
    assert edit.w0_edited.shape == (G.num_ws, CFG.w_dim)
    terms = BrushEnergy(G, w0, _color_strokes(), lambda_d=0.1, D=D).terms(w0[None])
    assert terms["realism"] < 0  # −λ_D·softplus(logit)
    again = edit_from_brush(G, w0, _color_strokes(), lambda_d=0.1, D=D, starts=4, steps=3, seed=1)
    assert torch.equal(edit.w0_edited, again.w0_edited)


def test_brush_validation(models) -> None:
    G, _, _, w, _ = models
    bad = BrushConstraints(color_mask=torch.ones(8, 8, dtype=torch.bool), color_rgb=torch.zeros(3))
    with pytest.raises(ValueError, match=r"color_mask must be \[16, 16\]"):
        edit_from_brush(G, w[0], bad)
    with pytest.raises(ValueError, match="needs color or sketch"):
        edit_from_brush(G, w[0], BrushConstraints())
    with pytest.raises(ValueError, match="color_rgb"):
        edit_from_brush(G, w[0], BrushConstraints(color_mask=torch.ones(R, R, dtype=torch.bool),
                                                  color_rgb=torch.zeros(4)))
    with pytest.raises(ValueError, match="needs the discriminator"):
        edit_from_brush(G, w[0], _color_strokes(), lambda_d=1.0)
    with pytest.raises(ValueError, match="w0 must be one latent"):
        edit_from_brush(G, w[:1], _color_strokes())


def test_offset_edit() -> None:
    w0 = torch.randn(16)
    off = torch.randn(16)
    assert torch.equal(edit_from_offset(w0, off).delta_w, (w0 + off) - w0)
    plus = edit_from_offset(w0.expand(3, 16), off)
    assert plus.w0_edited.shape == (3, 16)
    with pytest.raises(ValueError, match="does not fit"):
        edit_from_offset(w0, torch.randn(8))
    with pytest.raises(ValueError, match="kind"):
        ExampleEdit(w0, w0, "drag")
