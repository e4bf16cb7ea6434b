"""Step 5 as tasks: α for every photo at the current strength (closed form, §3.2), and results.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common.params import GuardParams, Params
from common.storage import read_parquet, reading, write_parquet
from common.workspace import EditPaths, Workspace
from edit_core.alphas import (
    apply_alphas,
    clamp_to_span,
    closed_form_alphas,
    distances,
    error_outliers,
    example_target,
    guard_span,
)
from edit_core.checkpoint import load_generator
from edit_core.models.base import Generator
from tasks.direction import load_direction
from tasks.latents import load_latents

"""Statuses that come with an edited image; `skipped` (range guard) and `rejected` have none."""

RESULTS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source_path", pa.string()),
    ("alpha", pa.float64()),
    ("distance_before", pa.float64()),
    ("distance_after", pa.float64()),
    ("err_pixel", pa.float64()),
    ("status", pa.string()),
    ("reason", pa.string()),
    ("t_render", pa.float64()),
    ("t_transfer", pa.float64()),
])


STRENGTH_KEY = "oneedit.strength"


def applied_strength(paths: EditPaths) -> float | None:
    """The strength the edit was last applied to the catalog at; None when it never was (only `direction`)."""
    if not paths.results.exists():
        return None
    value = (pq.read_schema(paths.results).metadata or {}).get(STRENGTH_KEY.encode())
    return None if value is None else float(value)


def alpha_table(w: np.ndarray, state: dict, strength: float, reference: np.ndarray, err_pixel: np.ndarray,
                guard: GuardParams) -> dict[str, np.ndarray]:
    """α_i, the signed distance to the final state before the edit and the range guard's decision for latents
    w [N, ...] (pure). The distance after is measured on the edited photos (tasks/final_state.py), not
    computed here: w_i + α_i·n lies on the hyperplane by construction (up to the guard's clamp).

    `reference` are latents of G's own samples (shaped like w): the span along n that the guard
    checks against. Returns alpha (clamped when guard.action is clamp), distance_before,
    flagged (out of range), status (edited / flagged / clamped / skipped / rejected) and reason.
    """
    W = torch.from_numpy(w)
    n = state["n"]
    target = example_target(state["w0"], state["delta_star"], strength)
    a = closed_form_alphas(W, target, n)
    before = distances(W, target, n)
    lo, hi = guard_span(distances(torch.from_numpy(reference), target, n), guard.margin, guard.quantile)
    start_out = ((before < lo) | (before > hi)).numpy()
    end_out = lo > 0 or hi < 0
    error_out = error_outliers(torch.from_numpy(err_pixel), guard.error_mads).numpy()
    finite = (torch.isfinite(W.reshape(len(W), -1)).all(1) & torch.isfinite(a)).numpy()
    clamp = end_out and guard.action == "clamp"
    if clamp:
        a = clamp_to_span(a, (lo, hi))
    after = distances(apply_alphas(W, a, n), target, n)
    median = float(np.nanmedian(err_pixel)) if np.isfinite(err_pixel).any() else float("nan")
    status, reason = [], []
    for i in range(len(W)):
        why = []
        if error_out[i]:
            why.append(f"projection error {err_pixel[i]:.4g} is an outlier (catalog median {median:.4g})")
        if start_out[i]:
            why.append(f"start {float(before[i]):.3g} along n outside G's span [{lo:.3g}, {hi:.3g}]")
        if end_out:
            why.append(f"the example's final state lies outside G's span [{lo:.3g}, {hi:.3g}] along n" +
                       (f" (pulled back to {float(after[i]):.3g})" if clamp else ""))
        decided = _decide(bool(finite[i]), why, guard.action, clamp and not error_out[i] and not start_out[i])
        status.append(decided[0])
        reason.append(decided[1])
    return {"alpha": a.numpy(), "distance_before": before.numpy(),
            "flagged": ~finite | error_out | start_out | end_out, "status": np.array(status, dtype=object),
            "reason": np.array(reason, dtype=object)}


def _decide(finite: bool, why: list[str], action: str, clampable: bool) -> tuple[str, str]:
    """(status, reason) of one photo from what the guard found out of range (`why`) and guard.action."""
    if not finite:
        return "rejected", "latent or alpha not finite (projection diverged): run `oneedit project` again with other params"
    if not why:
        return "edited", ""
    if action == "flag":
        return "flagged", "out of range, edited anyway (guard.action=flag): " + "; ".join(why)
    if clampable:
        return "clamped", "; ".join(why)
    return "skipped", f"out of range, not edited (guard.action={action}): " + "; ".join(why)


def reference_latents(G: Generator, like: np.ndarray, guard: GuardParams) -> np.ndarray:
    """guard.samples latents w ~ G (seeded, truncated by guard.truncation), in the stored latents' form (W, or
    W+ broadcast)."""
    w = G.sample_w(guard.samples, guard.seed, guard.truncation)
    if like.ndim == 3:
        w = G.ws(w)
    return w.detach().cpu().numpy().astype(like.dtype)


def spread_over_alpha(ids: pd.Series, alpha: pd.Series, k: int) -> list[str]:
    """Up to k ids spread evenly over the order of α, from the least to the most moved (the extremes
    included): the report's grid, the studio's preview, the photos measured for the final state."""
    order = ids.iloc[np.argsort(alpha.to_numpy(), kind="stable")].tolist()
    if len(order) <= k:
        return order
    return [order[i] for i in np.linspace(0, len(order) - 1, k).round().astype(int)]


@task(cache_policy=NO_CACHE, persist_result=False)
def compute_alphas(ws: Workspace, name: str, params: Params) -> pd.DataFrame:
    """α at params.edit.strength for every stored latent of a photo still in the catalog (the manifest's
    accepted ids): id, shard, index, alpha, distances, err_pixel, flagged."""
    state = load_direction(ws, ws.edit(name))
    latents = load_latents(ws)
    manifest = read_parquet(ws.manifest)
    current = np.isin(latents["ids"], manifest.loc[manifest["status"] == "accepted", "id"].to_numpy(str))
    latents = {k: v[current] for k, v in latents.items()}  # photos replaced or removed since stay in old shards
    with reading(ws.gan):
        G = load_generator(ws.gan, "cpu")
    reference = reference_latents(G, latents["w"], params.guard)
    err = latents["err_pixel"].astype(np.float64)
    table = alpha_table(latents["w"], state, params.edit.strength, reference, err, params.guard)
    return pd.DataFrame({"id": latents["ids"], "shard": latents["shard"], "index": latents["index"],
                         "err_pixel": err, **table})


@task(cache_policy=NO_CACHE, persist_result=False)
def write_results(ws: Workspace, name: str, table: pd.DataFrame, parts: list[pd.DataFrame],
                  measured: pd.DataFrame, strength: float) -> dict:
    """results.parquet: one row per manifest row (accepted, duplicate, rejected at ingest); `distance_after`
    is the measured one (`measured`: id, distance_after) where a photo was re-projected, else NaN; the
    strength it was made at rides along as schema metadata (`applied_strength`: what `update` re-applies)."""
    manifest = read_parquet(ws.manifest)
    done = table.drop(columns=["status", "reason"]).merge(pd.concat(parts, ignore_index=True), on="id", how="left")
    done = done.merge(measured[["id", "distance_after"]], on="id", how="left")
    by_id = done.set_index("id")
    rows = []
    for m in manifest.itertuples(index=False):
        if m.status == "rejected":
            rows.append({"id": m.id, "source_path": m.source_path, "status": "rejected", "reason": m.reason})
            continue
        r = by_id.loc[m.id]
        reason = r["reason"] if m.status == "accepted" else f"{m.reason}; same output images/{m.id}.png"
        rows.append({"id": m.id, "source_path": m.source_path, "alpha": r["alpha"],
                     "distance_before": r["distance_before"], "distance_after": r["distance_after"],
                     "err_pixel": r["err_pixel"], "status": r["status"], "reason": reason,
                     "t_render": r["t_render"], "t_transfer": r["t_transfer"]})
    results = pd.DataFrame(rows, columns=RESULTS_SCHEMA.names)
    results["reason"] = results["reason"].fillna("")
    schema = RESULTS_SCHEMA.with_metadata({STRENGTH_KEY: repr(float(strength))})
    write_parquet(ws.edit(name).results, results, schema)
    return {"status": results["status"].value_counts().to_dict(), "images": len(results)}
