import numpy as np
import torch

from common.params import GuardParams
from edit_core.alphas import unit_normal
from tasks.alphas import alpha_table, guard_limits


def test_alpha_table_moves_every_latent_onto_the_hyperplane() -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(50, 8, generator=gen)
    delta = torch.randn(8, generator=gen)
    state = {"w0": w[3], "w_example": w[3], "delta_star": delta, "n": unit_normal(delta)}
    limits = guard_limits(w.numpy(), np.ones(50), state, 2.0, GuardParams())
    t = alpha_table(w.numpy(), state, strength=2.0, err_pixel=np.ones(50), limits=limits, guard=GuardParams())
    expected = ((w[3] + 2.0 * delta) - w) @ unit_normal(delta)
    np.testing.assert_allclose(t["alpha"], expected.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t["distance_before"], -t["alpha"], atol=1e-6)
    assert "distance_after" not in t  # measured on the edited photos (tasks/final_state.py), not computed
    assert t["flagged"].dtype == bool and len(t["flagged"]) == 50 and len(t["status"]) == 50


def test_a_shard_gets_the_rows_the_whole_catalog_gives() -> None:
    """α, the guard's statuses and reasons of each shard against the catalog's limits equal one pass over
    every latent at once, bit for bit (the error threshold is the catalog's, not the shard's)."""
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(300, 4, 16, generator=gen).numpy()
    err = np.exp(torch.randn(300, generator=gen).numpy() * 0.3) * 0.05
    err[240:] *= 4.0  # worse projections, all in the last shard
    delta = 0.1 * torch.randn(4, 16, generator=gen)
    state = {"w0": torch.from_numpy(w[7]), "w_example": torch.from_numpy(w[7]), "delta_star": delta,
             "n": unit_normal(delta)}
    guard = GuardParams(action="flag", error_mads=2.0)
    limits = guard_limits(3.0 * w[::3], err, state, 1.5, guard)  # G spans wider than the catalog
    whole = alpha_table(w, state, 1.5, err, limits, guard)
    cuts = [0, 7, 150, 300]  # shards of uneven sizes (a matrix-vector α differs in the last bits between them)
    shards = [alpha_table(w[a:b], state, 1.5, err[a:b], limits, guard) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    for key in ("alpha", "distance_before", "flagged", "status", "reason"):
        assert np.array_equal(np.concatenate([t[key] for t in shards]), whole[key]), key
    assert 0 < (whole["status"] == "flagged").sum() < 300


def test_a_pairs_projected_after_counts_as_in_gs_range() -> None:
    """The example's final state lies past every sample of G along n. An offset edit is out of range (skipped);
    a pair whose "after" photo G itself rendered there (w0_edited, a projection) is not: the span reaches it."""
    gen = torch.Generator().manual_seed(2)
    samples = torch.randn(200, 8, generator=gen)
    n = torch.zeros(8)
    n[0] = 1.0
    w0 = samples[0].clone()
    delta = 12.0 * n  # far beyond the samples' spread (~3) along n
    catalog = samples[1:40].numpy()
    offset = {"w0": w0, "w_example": w0, "delta_star": delta, "n": n, "kind": "offset", "w0_edited": w0 + delta}
    pair = {**offset, "kind": "pair"}
    guard = GuardParams()
    for state, status in ((offset, "skipped"), (pair, "edited")):
        limits = guard_limits(samples.numpy(), np.ones(len(catalog)), state, 1.0, guard)
        t = alpha_table(catalog, state, 1.0, np.ones(len(catalog)), limits, guard)
        assert (t["status"] == status).all(), (state["kind"], limits.span, t["reason"][:2])
    far = guard_limits(samples.numpy(), np.ones(len(catalog)), pair, 2.0, guard)  # strength 2: past the pair's after
    assert far.span[1] < 0 or far.span[0] > 0
