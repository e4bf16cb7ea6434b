"""Step 5 as tasks: α for every photo at the current strength (closed form, §3.2), and results.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common.params import Params
from common.storage import read_parquet, write_parquet
from common.workspace import EditPaths, Workspace
from edit_core.alphas import closed_form_alphas, distances, example_target, range_guard
from tasks.direction import load_direction
from tasks.latents import load_latents

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


def alpha_table(w: np.ndarray, state: dict, strength: float, margin: float) -> dict[str, np.ndarray]:
    """α_i, the signed distance to the final state before the edit and the range-guard flag for latents w [N, ...]
    (pure). The distance after is measured on the edited photos (tasks/final_state.py), not computed here:
    w_i + α_i·n lies on the hyperplane by construction."""
    W = torch.from_numpy(w)
    n = state["n"]
    target = example_target(state["w0"], state["delta_star"], strength)
    a = closed_form_alphas(W, target, n)
    before = distances(W, target, n)
    flagged = range_guard(a, before, margin)
    return {"alpha": a.numpy(), "distance_before": before.numpy(), "flagged": flagged.numpy()}


@task(cache_policy=NO_CACHE, persist_result=False)
def compute_alphas(ws: Workspace, name: str, params: Params) -> pd.DataFrame:
    """α at params.edit.strength for every stored latent of a photo still in the catalog (the manifest's
    accepted ids): id, shard, index, alpha, distances, err_pixel, flagged."""
    state = load_direction(ws, ws.edit(name))
    latents = load_latents(ws)
    manifest = read_parquet(ws.manifest)
    current = np.isin(latents["ids"], manifest.loc[manifest["status"] == "accepted", "id"].to_numpy(str))
    latents = {k: v[current] for k, v in latents.items()}  # photos replaced or removed since stay in old shards
    table = alpha_table(latents["w"], state, params.edit.strength, params.guard.margin)
    return pd.DataFrame({"id": latents["ids"], "shard": latents["shard"], "index": latents["index"],
                         "err_pixel": latents["err_pixel"].astype(np.float64), **table})


@task(cache_policy=NO_CACHE, persist_result=False)
def write_results(ws: Workspace, name: str, table: pd.DataFrame, parts: list[pd.DataFrame],
                  measured: pd.DataFrame, strength: float) -> dict:
    """results.parquet: one row per manifest row (accepted, duplicate, rejected at ingest); `distance_after`
    is the measured one (`measured`: id, distance_after) where a photo was re-projected, else NaN; the
    strength it was made at rides along as schema metadata (`applied_strength`: what `update` re-applies)."""
    manifest = read_parquet(ws.manifest)
    done = table.merge(pd.concat(parts, ignore_index=True), on="id", how="left")
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
