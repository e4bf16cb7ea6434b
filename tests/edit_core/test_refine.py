import numpy as np
import pytest
import torch

from edit_core.imageops import to_tensor
from edit_core.models import ModelConfig, build_generator
from edit_core.refine import FinalLook, appearance, final_look, look_gap, refine
from edit_core.region import edit_region


def _frames(before: np.ndarray, after: np.ndarray, n: int = 3) -> np.ndarray:
    t = np.linspace(0, 1, n + 1)[:, None, None, None]
    return np.rint(before * (1 - t) + after * t).astype(np.uint8)


def _car(colour: tuple[int, int, int], x: int = 10) -> np.ndarray:
    img = np.full((32, 32, 3), 200, np.uint8)
    img[12:22, x : x + 12] = colour
    return img


def test_a_repaint_sets_chroma_and_moves_nothing() -> None:
    look = final_look(_frames(_car((200, 60, 30)), _car((40, 70, 210))))
    assert look.weights[1] == 1 and look.sets_chroma and not look.moves
    # the target is the after colour in the opponent basis (lightness first)
    region = edit_region(to_tensor(_car((200, 60, 30))), to_tensor(_car((40, 70, 210))))
    expected = appearance(to_tensor(_car((40, 70, 210))), region)[0]
    assert torch.allclose(look.target, expected)


def test_a_move_sets_no_look_and_is_carried_as_motion() -> None:
    look = final_look(_frames(_car((200, 60, 30), x=8), _car((200, 60, 30), x=11)))
    assert not look.sets_anything and look.moves


def test_look_gap_against_its_definition() -> None:
    x = to_tensor(_car((40, 70, 210)))
    region = torch.zeros(1, 1, 32, 32)
    region[..., 12:22, 10:22] = 1
    a = appearance(x, region)[0]
    look = FinalLook(a + torch.tensor([0.3, 0.0, 0.4]), torch.tensor([0.0, 1.0, 1.0]))
    assert float(look_gap(x, region, look)[0]) == pytest.approx(0.4, rel=1e-5)  # lightness not set: chroma alone


def test_refine_reaches_the_look_and_leaves_the_rest() -> None:
    torch.manual_seed(0)
    G = build_generator(ModelConfig(backbone="style", resolution=16, z_dim=8, w_dim=16, width=8)).eval()
    w = G.sample_w(6, seed=3)
    delta = 0.5 * torch.randn(6, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before, start = G.synthesis(w), G.synthesis(w + delta)
    region = edit_region(before, start)
    look = FinalLook(appearance(start, region).mean(0) + torch.tensor([0.0, 0.2, -0.2]), torch.tensor([0.0, 1.0, 1.0]))
    refined = refine(G, w, delta, look, steps=30, lr=0.05)
    with torch.no_grad():
        after = G.synthesis(w + refined)
    assert look_gap(after, region, look).mean() < 0.6 * look_gap(start, region, look).mean()
    # zero steps or a look that sets nothing: the closed form, unchanged
    assert torch.equal(refine(G, w, delta, look, steps=0), delta)
    assert torch.equal(refine(G, w, delta, FinalLook(look.target, torch.zeros(3)), steps=10), delta)
