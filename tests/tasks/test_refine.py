import numpy as np
import torch

from common.params import Params
from edit_core.imageops import to_uint8
from edit_core.models import ModelConfig, build_generator
from tasks.refine import closed_form_offsets, refined_offsets, render_path

G = build_generator(ModelConfig(backbone="dcgan", resolution=16, z_dim=16, w_dim=16, width=8)).eval()


def test_render_path_walks_from_w_to_w_plus_delta() -> None:
    w = G.sample_w(3, seed=0)
    n = torch.nn.functional.normalize(torch.randn(16), dim=0)
    delta = closed_form_offsets(torch.tensor([0.0, 1.0, -2.0]), n)
    frames = render_path(G, w, delta, frames=4)
    assert frames.shape == (3, 5, 16, 16, 3) and frames.dtype == np.uint8
    with torch.no_grad():
        np.testing.assert_array_equal(frames[:, 0], to_uint8(G.synthesis(w)))
        np.testing.assert_array_equal(frames[2, -1], to_uint8(G.synthesis(w[2:] - 2.0 * n))[0])
    assert (frames[0] == frames[0, :1]).all()  # α = 0: no change


def test_refine_steps_zero_is_the_closed_form_bit_for_bit() -> None:
    from edit_core.refine import FinalLook

    w = G.sample_w(4, seed=1)
    n = torch.nn.functional.normalize(torch.randn(16), dim=0)
    alpha = torch.tensor([0.5, -1.0, 2.0, 0.0])
    look = FinalLook(torch.zeros(3), torch.ones(3), 0.0)  # a look that sets colour: the refinement would move
    params = Params().model_copy(update={"edit": Params().edit.model_copy(update={
        "refine": Params().edit.refine.model_copy(update={"steps": 0})})})
    assert torch.equal(refined_offsets(G, w, alpha, n, look, params), closed_form_offsets(alpha, n))
    assert not torch.equal(refined_offsets(G, w, alpha, n, look, Params()), closed_form_offsets(alpha, n))
