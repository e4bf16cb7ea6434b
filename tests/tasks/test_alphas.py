import numpy as np
import torch

from common.params import GuardParams
from edit_core.alphas import unit_normal
from tasks.alphas import alpha_table, guard_limits


def test_alpha_table_moves_every_latent_onto_the_hyperplane() -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(50, 8, generator=gen)
    delta = torch.randn(8, generator=gen)
    state = {"w0": w[3], "delta_star": delta, "n": unit_normal(delta)}
    limits = guard_limits(w.numpy(), np.ones(50), state, 2.0, GuardParams())
    t = alpha_table(w.numpy(), state, strength=2.0, err_pixel=np.ones(50), limits=limits, guard=GuardParams())
    expected = ((w[3] + 2.0 * delta) - w) @ unit_normal(delta)
    np.testing.assert_allclose(t["alpha"], expected.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t["distance_before"], -t["alpha"], atol=1e-6)
    assert "distance_after" not in t  # measured on the edited photos (tasks/final_state.py), not computed
    assert t["flagged"].dtype == bool and len(t["flagged"]) == 50 and len(t["status"]) == 50
