"""Step 5 as tasks: α for every photo at the current strength (closed form, §3.2), the range guard,
and results.parquet, shard by shard in bounded memory (never every latent at once: a 1M-photo
catalog's W+ latents are 20 GB).

- The guard's catalog-wide numbers (`GuardLimits`, `catalog_limits`): the span along n comes from G's
  own samples (`reference_latents`: no catalog pass); the projection-error threshold (median + MADs
  of log err_pixel over every current photo) from one exact streaming pass that reads only err_pixel
  (8 bytes per photo, not the latents).
- α and the guard's decision of one shard in that shard's task (`alpha_shard`): one dot product per
  latent, with the catalog's limits, so every shard's table equals the one a whole-catalog pass gives,
  bit for bit (edit_core.alphas.closed_form_alphas). Refinement and transfer follow per shard
  (tasks/refine.py, tasks/transfer.py).
- What the transfer returns per photo is kept as compact numpy columns (`Catalog`: 97 bytes per photo
  plus the text of non-empty reasons), and results.parquet is written from them by streaming the
  manifest in row groups of RESULTS_ROWS rows (a pyarrow ParquetWriter inside one atomic_path). A catalog
  of at most RESULTS_ROWS manifest rows gives one row group, the same bytes as `write_parquet`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common.params import GuardParams, Params
from common.storage import atomic_path, read_h5, reading
from common.workspace import EditPaths, Workspace
from edit_core.alphas import (
    EDITED,
    STATUSES,
    apply_alphas,
    beyond_limit,
    clamp_to_span,
    closed_form_alphas,
    distances,
    error_limit,
    example_target,
    guard_decision,
    guard_span,
)
from edit_core.checkpoint import load_generator
from edit_core.metrics import photo_final_states
from edit_core.models.base import Generator
from tasks.latents import iter_latent_shards
from tasks.manifest import accepted_mask

RESULTS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source_path", pa.string()),
    ("alpha", pa.float64()),
    ("distance_before", pa.float64()),
    ("distance_after", pa.float64()),
    ("err_pixel", pa.float64()),
    ("status", pa.string()),
    ("reason", pa.string()),
    ("before_gap", pa.float64()),
    ("final_gap", pa.float64()),
    ("final_state", pa.string()),
    ("t_render", pa.float64()),
    ("t_transfer", pa.float64()),
])
RESULTS_ROWS = 65536  # manifest rows per row group of results.parquet
NUMERIC = ("alpha", "distance_before", "distance_after", "err_pixel", "t_render", "t_transfer", "before_gap", "final_gap")
STRENGTH_KEY = "oneedit.strength"


def applied_strength(paths: EditPaths) -> float | None:
    """The strength the edit was last applied to the catalog at; None when it never was (only `direction`)."""
    if not paths.results.exists():
        return None
    value = (pq.read_schema(paths.results).metadata or {}).get(STRENGTH_KEY.encode())
    return None if value is None else float(value)


# --------------------------------------------------------------------------------------------
# α and the range guard (pure)


@dataclass(frozen=True)
class GuardLimits:
    """The range guard's catalog-wide numbers: G's span [lo, hi] along n (from its own samples, widened to the
    example's own projected latents), the log projection error above which a photo is an outlier, and the
    catalog's median error (for reasons)."""

    span: tuple[float, float]
    error_limit: float
    error_median: float


def guard_limits(reference: np.ndarray, err_pixel: np.ndarray, state: dict, strength: float,
                 guard: GuardParams) -> GuardLimits:
    """GuardLimits from `reference` latents of G's own samples (shaped like the stored latents) and the
    projection errors of every photo being edited (the catalog's, float64)."""
    target = example_target(state["w_example"], state["delta_star"], strength)
    lo, hi = guard_span(distances(torch.from_numpy(reference), target, state["n"]), guard.margin, guard.quantile)
    own = distances(_projected_example(state, reference.shape[1:]), target, state["n"])
    span = (min(lo, float(own.min())), max(hi, float(own.max())))
    median = float(np.nanmedian(err_pixel)) if np.isfinite(err_pixel).any() else float("nan")
    return GuardLimits(span, error_limit(torch.from_numpy(err_pixel), guard.error_mads), median)


def _projected_example(state: dict, shape: tuple[int, ...]) -> torch.Tensor:
    """The example's latents G is known to render, in the stored latents' form: its photo (w_example, and w0 as
    the pair projected it) and, for an edit the user demonstrated (a pair's "after", a brush's result),
    the demonstrated state: w0_edited and the same edit from the catalog's latent, w_example + Δ*. They
    count as in G's range (an offset demonstrates nothing: its end is checked)."""
    own = [state["w_example"], state["w0"]]
    if state.get("kind") in ("pair", "brush") and "w0_edited" in state:
        own += [state["w0_edited"], state["w_example"] + state["delta_star"]]
    return torch.stack([w.float().expand(shape) for w in own])


def alpha_table(w: np.ndarray, state: dict, strength: float, err_pixel: np.ndarray, limits: GuardLimits,
                guard: GuardParams) -> dict[str, np.ndarray]:
    """α_i, the signed distance to the final state before the edit and the range guard's decision for latents
    w [N, ...] against the catalog's `limits` (pure; any subset of the catalog, e.g. one shard, gets the
    rows the whole catalog would). Whether the edited photos reach the final state is measured on them
    (tasks/final_state.py), not computed here.

    Returns alpha (clamped when guard.action is clamp), distance_before, flagged (anything out of range),
    status (edited / flagged / clamped / skipped / rejected) and reason (edit_core.alphas.guard_decision).
    """
    W = torch.from_numpy(w)
    n = state["n"]
    target = example_target(state["w_example"], state["delta_star"], strength)
    a = closed_form_alphas(W, target, n)
    before = distances(W, target, n)
    lo, hi = limits.span
    start_out = ((before < lo) | (before > hi)).numpy()
    end_out = lo > 0 or hi < 0
    error_out = beyond_limit(torch.from_numpy(err_pixel), limits.error_limit).numpy()
    finite = (torch.isfinite(W.reshape(len(W), -1)).all(1) & torch.isfinite(a)).numpy()
    clamp = end_out and guard.action == "clamp"
    if clamp:
        a = clamp_to_span(a, (lo, hi))
    after = distances(apply_alphas(W, a, n), target, n)
    span = f"G's span [{lo:.3g}, {hi:.3g}] along n"
    status, reason = [], []
    for i in range(len(W)):
        error = (f"projection error {err_pixel[i]:.4g} is an outlier (catalog median {limits.error_median:.4g})"
                 if error_out[i] else "")
        start = f"start {float(before[i]):.3g} outside {span}" if start_out[i] else ""
        end = (f"the example's final state lies outside {span}"
               + (f" (pulled back to {float(after[i]):.3g})" if clamp else "")) if end_out else ""
        decided = guard_decision(bool(finite[i]), error, start, end, guard.action)
        status.append(decided.status)
        reason.append(decided.reason)
    return {"alpha": a.numpy(), "distance_before": before.numpy(),
            "flagged": ~finite | error_out | start_out | end_out, "status": np.array(status, dtype=object),
            "reason": np.array(reason, dtype=object)}


def reference_latents(G: Generator, like: np.ndarray, guard: GuardParams) -> np.ndarray:
    """guard.samples latents w ~ G (seeded, truncated by guard.truncation), in the stored latents' form (W, or
    W+ broadcast)."""
    w = G.sample_w(guard.samples, guard.seed, guard.truncation)
    if like.ndim == 3:
        w = G.ws(w)
    return w.detach().cpu().numpy().astype(like.dtype)


def spread_over_alpha(ids: np.ndarray | pd.Series, alpha: np.ndarray | pd.Series, k: int) -> list:
    """Up to k of `ids` spread evenly over the order of α, from the least to the most moved (the extremes
    included): the report's grid, the studio's preview, the photos measured for the final state. Pass
    positions (np.arange) as `ids` to get positions back."""
    order = np.asarray(ids)[np.argsort(np.asarray(alpha), kind="stable")].tolist()
    if len(order) <= k:
        return order
    return [order[i] for i in np.linspace(0, len(order) - 1, k).round().astype(int)]


# --------------------------------------------------------------------------------------------
# the catalog, shard by shard


@dataclass
class Catalog:
    """What the edit made of every current photo, shard order, as compact numpy columns: id (utf-8
    bytes, 16), shard (position in `shards`, 4), index in it (4), NUMERIC (8 × 8), status (position in
    STATUSES, 1) and reason (an object pointer, 8; empty reasons share one string): 97 bytes per photo."""

    shards: list[str]
    columns: dict[str, np.ndarray]

    @classmethod
    def concat(cls, parts: list[dict]) -> Catalog:
        """The catalog from the transfer tasks' returns (tasks.transfer.transfer_shard), in shard order."""
        shards = [p["shard"] for p in parts]
        keys = ("id", "index", *NUMERIC, "status", "reason")
        columns = {k: np.concatenate([p[k] for p in parts]) for k in keys}
        columns["shard"] = np.concatenate([np.full(len(p["id"]), k, np.int32) for k, p in enumerate(parts)])
        return cls(shards, columns)

    def __len__(self) -> int:
        return len(self.columns["id"])

    def status(self) -> np.ndarray:
        """Each photo's status as text (an object array of STATUSES' few strings)."""
        return np.array(STATUSES, dtype=object)[self.columns["status"]]

    def edited(self) -> np.ndarray:
        """Positions of the photos that have an edited image (EDITED statuses), shard order."""
        return np.flatnonzero(np.isin(self.columns["status"], [STATUSES.index(s) for s in EDITED]))

    @cached_property
    def _by_id(self) -> np.ndarray:
        return np.argsort(self.columns["id"], kind="stable")

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Position of each of `ids` (str) in the catalog; -1 where it has none."""
        key = np.char.encode(np.asarray(ids).astype(str), "utf-8")
        order = self._by_id
        if not len(order):
            return np.full(len(key), -1)
        at = order[np.searchsorted(self.columns["id"], key, sorter=order).clip(max=len(order) - 1)]
        return np.where(self.columns["id"][at] == key, at, -1)


def _current(ws: Workspace, part: dict) -> dict:
    """A latents shard's rows of photos still in the catalog (the manifest's accepted ids), with their index."""
    keep = accepted_mask(ws, part["ids"])
    return {"shard": part["shard"], "index": np.flatnonzero(keep).astype(np.int32),
            **{k: v[keep] for k, v in part.items() if k != "shard"}}


@task(cache_policy=NO_CACHE, persist_result=False)
def catalog_limits(ws: Workspace, state: dict, params: Params) -> GuardLimits:
    """The range guard's GuardLimits for the catalog at params.edit.strength: G's span from its own samples,
    the error threshold from one pass over every shard's err_pixel (exact: every current photo's error)."""
    err = [_current(ws, p)["err_pixel"].astype(np.float64) for p in iter_latent_shards(ws, ("ids", "err_pixel"))]
    like = read_h5(ws.latent_shard(ws.ingest_shards()[0]), ["w"])["w"]
    with reading(ws.gan):
        G = load_generator(ws.gan, "cpu")
    reference = reference_latents(G, like, params.guard)
    return guard_limits(reference, np.concatenate(err), state, params.edit.strength, params.guard)


@task(cache_policy=NO_CACHE, persist_result=False)
def alpha_shard(ws: Workspace, shard: str, state: dict, limits: GuardLimits, params: Params) -> pd.DataFrame:
    """Step 5 for one shard: α and the range guard's decision of its current photos (`alpha_table`), one row
    per photo: id, index (in the shard), err_pixel, alpha, distance_before, flagged, status, reason."""
    part = _current(ws, {"shard": shard, **read_h5(ws.latent_shard(shard), ["ids", "w", "err_pixel"])})
    err = part["err_pixel"].astype(np.float64)
    table = alpha_table(part["w"], state, params.edit.strength, err, limits, params.guard)
    return pd.DataFrame({"id": pd.Series(part["ids"].astype(str), dtype=object), "index": part["index"],
                         "err_pixel": err, **table})


@task(cache_policy=NO_CACHE, persist_result=False)
def write_results(ws: Workspace, name: str, catalog: Catalog, landed_below: float, strength: float) -> dict:
    """results.parquet: one row per manifest row (accepted, duplicate, rejected at ingest), manifest order,
    streamed in row groups of RESULTS_ROWS. `final_state` says, per photo with a measured gap, whether it
    landed (final_gap ≤ `landed_below`, the verdict's threshold) or fell short; the strength it was made at
    rides along as schema metadata (`applied_strength`: what `update` re-applies)."""
    schema = RESULTS_SCHEMA.with_metadata({STRENGTH_KEY: repr(float(strength))})
    statuses = np.array(STATUSES, dtype=object)
    counts: Counter = Counter()
    images = 0
    manifest = pq.ParquetFile(ws.manifest)
    with atomic_path(ws.edit(name).results) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for batch in manifest.iter_batches(batch_size=RESULTS_ROWS, columns=["id", "source_path", "status", "reason"]):
            m = batch.to_pandas()
            known = (m["status"] != "rejected").to_numpy()
            pos = catalog.positions(m["id"][known].to_numpy())
            if (pos < 0).any():
                missing = m["id"][known].to_numpy()[pos < 0][0]
                raise ValueError(f"{ws.manifest}: photo {missing} has no latent in {ws.latents}; "
                                 "run `oneedit project` again")
            out = pd.DataFrame({"id": m["id"], "source_path": m["source_path"]})
            for k in NUMERIC:
                column = np.full(len(m), np.nan)
                column[known] = catalog.columns[k][pos]
                out[k] = column
            status = np.full(len(m), "rejected", dtype=object)
            status[known] = statuses[catalog.columns["status"][pos]]
            reason = m["reason"].to_numpy(object).copy()
            reason[known] = catalog.columns["reason"][pos]
            dup = (m["status"] == "duplicate").to_numpy()
            reason[dup] = [f"{r}; same output images/{i}.png" for r, i in zip(m["reason"][dup], m["id"][dup],
                                                                              strict=True)]
            out["status"], out["reason"] = status, pd.Series(reason, dtype=object).fillna("").to_numpy(object)
            out["final_state"] = photo_final_states(out["final_gap"].to_numpy(), landed_below)
            table = pa.Table.from_pandas(out[RESULTS_SCHEMA.names], schema=schema, preserve_index=False)
            writer.write_table(table.replace_schema_metadata(schema.metadata))
            counts.update(status)
            images += len(out)
    return {"status": dict(counts.most_common()), "images": images}
