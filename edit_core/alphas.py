"""Closed-form editing strength (Edit One for All §3.2): the one place the α formula lives.

The example's edited latent w0' = w0 + s·Δ* defines a hyperplane with unit normal n = Δ*/||Δ*||.
Every latent w_i is moved along n onto that hyperplane: α_i = (w0' − w_i)·n, w_i' = w_i + α_i·n, so
all edited images share the example's final state along n whatever their starting state. Dot products
flatten every non-batch dimension, so W [N, w_dim] and W+ [N, num_ws, w_dim] latents work alike. A
shift of the origin cancels in (w0' − w_i)·n: α never depends on where the latent space is centred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

STATUSES = ("edited", "flagged", "clamped", "skipped", "rejected")  # a photo's fate in results.parquet
EDITED = ("edited", "flagged", "clamped")  # the statuses that have an edited image


def _flat(w: Tensor, n: Tensor) -> Tensor:
    """[N, *n.shape] (or one unbatched latent of n.shape) -> [N, n.numel()]."""
    if w.shape == n.shape:
        w = w.unsqueeze(0)
    if w.shape[1:] != n.shape:
        raise ValueError(f"latents of shape {tuple(w.shape)} do not match the direction's shape {tuple(n.shape)}")
    return w.reshape(w.shape[0], -1)


def unit_normal(delta_star: Tensor) -> Tensor:
    """n = Δ*/||Δ*|| over all elements, same shape as Δ*."""
    norm = delta_star.norm()
    if not torch.isfinite(norm) or norm == 0:
        raise ValueError("the direction Δ* is zero (or not finite): it defines no hyperplane")
    return delta_star / norm


def example_target(w0: Tensor, delta_star: Tensor, strength: float = 1.0) -> Tensor:
    """The example's edited latent w0' = w0 + s·Δ*; s scales the example's own edit (s = 1: as fitted)."""
    return w0 + strength * delta_star


def closed_form_alphas(w: Tensor, target: Tensor, n: Tensor) -> Tensor:
    """α_i = (w0' − w_i)·n for a batch of latents w [N, *n.shape] -> [N].

    A row-wise product and sum, not a matrix-vector product: BLAS blocks a matmul by N, so α would
    depend in the last bits on how many latents are computed at once; this way a shard's α equal the
    whole catalog's bit for bit (α is computed shard by shard, tasks/alphas.py)."""
    return ((target.reshape(-1) - _flat(w, n)) * n.reshape(-1)).sum(dim=1)


def apply_alphas(w: Tensor, alpha: Tensor, n: Tensor) -> Tensor:
    """w_i' = w_i + α_i·n, same shape as w [N, *n.shape]."""
    flat = _flat(w, n)
    return (flat + alpha.reshape(-1, 1) * n.reshape(1, -1)).reshape(w.shape)


def distances(w: Tensor, target: Tensor, n: Tensor) -> Tensor:
    """Signed distance of each latent to the hyperplane through w0' with normal n: (w_i − w0')·n = −α_i."""
    return -closed_form_alphas(w, target, n)


def guard_span(reference: Tensor, margin: float = 0.1, quantile: float = 0.0) -> tuple[float, float]:
    """The span [lo, hi] along n that reference distances cover: their `quantile`, 1 − `quantile`
    quantiles (0: min and max), widened by margin·(hi − lo) on each side.

    The reference must not be the set being checked: with the catalog's own distances every photo
    of the catalog lies inside by construction. The caller passes distances of G's own samples.
    """
    finite = reference[torch.isfinite(reference)].double()
    if finite.numel() == 0:
        raise ValueError("range guard needs at least one finite reference distance")
    lo, hi = torch.quantile(finite, torch.tensor([quantile, 1.0 - quantile], dtype=finite.dtype)).tolist()
    pad = margin * (hi - lo)
    return lo - pad, hi + pad


@dataclass(frozen=True)
class GuardDecision:
    """One photo's fate under the range guard: its status (STATUSES) and why (empty when plainly edited)."""

    status: str
    reason: str


def guard_decision(finite: bool, error_out: str, start_out: str, end_out: str, action: str) -> GuardDecision:
    """What the range guard does with one photo, from what it found (each a reason, "" when in range).

    Only what makes a bad output stops an edit: a projection the generator cannot reconstruct (`error_out`:
    the output would carry G's failure) or a final state outside G's span (`end_out`: no photo can reach it).
    `guard.action` decides those: skip (no image), clamp (the final state pulled into the span, when only
    the end is out) or flag (edited anyway). A start outside G's span is not one: the edit moves such a
    photo INTO the span (a dark garment brightened, the photos the edit is for), so it is edited and
    flagged with its reason for review. Not finite: rejected.
    """
    if not finite:
        return GuardDecision("rejected", "latent or alpha not finite (projection diverged): run `oneedit project` "
                                         "again with other params")
    severe = "; ".join(r for r in (error_out, end_out) if r)
    review = f"; {start_out}" if start_out else ""
    if severe:
        if action == "flag":
            return GuardDecision("flagged", f"out of range, edited anyway (guard.action=flag): {severe}{review}")
        if action == "clamp" and not error_out:  # only the end is out: pulled into the span
            return GuardDecision("clamped", severe + review)
        return GuardDecision("skipped", f"out of range, not edited (guard.action={action}): {severe}{review}")
    if start_out:
        return GuardDecision("flagged", f"edited, review: {start_out} (its final state is inside)")
    return GuardDecision("edited", "")


def clamp_to_span(alpha: Tensor, span: tuple[float, float]) -> Tensor:
    """α that ends at the point of the span nearest the example's final state: α + clip(0, lo, hi)."""
    lo, hi = span
    return alpha + min(max(0.0, lo), hi)


def error_limit(err: Tensor, mads: float) -> float:
    """The log projection error above which a projection is an outlier: median + mads·1.4826·MAD of
    log err, at least log 1.5 above the median (robust: a few bad photos do not move it; a catalog of
    near-identical errors has MAD ≈ 0). −inf when no error is finite. Catalog-wide: computed once from
    every photo's error, then applied shard by shard (`beyond_limit`)."""
    log = torch.log(err.double().clamp_min(1e-12))
    finite = log[torch.isfinite(log)]
    if finite.numel() == 0:
        return -math.inf
    median = finite.median()
    mad = (finite - median).abs().median()
    return float(median + max(mads * 1.4826 * float(mad), math.log(1.5)))


def beyond_limit(err: Tensor, limit: float) -> Tensor:
    """Projections whose log error exceeds `limit` (`error_limit`); non-finite errors too."""
    return ~(torch.log(err.double().clamp_min(1e-12)) <= limit)
