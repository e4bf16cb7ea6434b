"""Re-run some photos of an applied edit INTO its results: the ones rejected in review or that stopped
short of the example's final state, at another strength or with more refinement, the rest left as it is.

`select_rerun` turns `--only rejected|short|IDS` into ids. `rerun_shard` gives one shard's chosen photos
α and the range guard's decision at the params' strength, against the whole catalog's limits (the same
numbers a full run computes), then their transfer (tasks/transfer.py, which also rewrites that shard's
part record, so a later full `rescale` redoes the shard rather than trust it). `merge_results` writes
results.parquet again with only those photos' rows replaced: every other row, image and review
decision stays. The rows of re-run photos record their own `strength` (a column added for them; a full
`rescale` writes the file anew, every photo at one strength) and an unmeasured final state (their
distance_after NaN, final_state null, until the edit is measured again); their review decisions go
(the image they were made on is gone).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from common.errors import InputError
from common.params import Params
from common.storage import atomic_path, read_h5, reading
from common.workspace import Workspace
from tasks.alphas import GuardLimits, alpha_table, applied_strength
from tasks.ingest import shard_name
from tasks.manifest import accepted_mask, accepted_rows, select_photos
from tasks.review import forget, results_columns, reviewed
from tasks.transfer import transfer_shard

log = logging.getLogger(__name__)
SUBSETS = ("rejected", "short")
UPDATED = ("alpha", "distance_before", "err_pixel", "status", "t_render", "t_transfer")


def select_rerun(ws: Workspace, name: str, only: str) -> list[str]:
    """`--only rejected` (rejected in review), `short` (results say final_state short) or photo ids / file
    names (as --only takes them) -> ids; a one-line error when that leaves no photo."""
    if only == "rejected":
        ids = reviewed(ws, name, "rejected")
    elif only == "short":
        rows = results_columns(ws, name, ["id", "final_state"])
        if "final_state" not in rows:
            raise InputError(f"edit {name!r}: its results have no per-photo verdict (final_state) to find the short "
                             f"ones: run `oneedit rescale --name {name}` to measure it")
        ids = sorted({i for i, v in zip(rows["id"], rows["final_state"], strict=True) if v == "short"})
    else:
        ids = select_photos(ws, only)
    if not ids:
        raise InputError(f"--only {only}: no photo of edit {name!r} is {only} (`oneedit review {name}` counts them)")
    return ids


def shards_of(ws: Workspace, ids: list[str]) -> dict[str, list[str]]:
    """Latents shard file name -> the ids of `ids` it holds (accepted photos only)."""
    rows = accepted_rows(ws, ["id", "shard"], ids)
    out: dict[str, list[str]] = {}
    for i, s in zip(rows["id"], rows["shard"], strict=True):
        out.setdefault(shard_name(s), []).append(i)
    return out


@task(cache_policy=NO_CACHE, persist_result=False)
def rerun_shard(ws: Workspace, name: str, shard: str, ids: list[str], state: dict, limits: GuardLimits,
                params: Params) -> pd.DataFrame:
    """α, the guard's decision and the transfer of `ids` (photos of latents shard `shard`) at params' strength;
    returns their rows: id, alpha, distance_before, err_pixel, status, reason, t_render, t_transfer."""
    part = read_h5(ws.latents / shard, ["ids", "w", "err_pixel"])
    keep = np.isin(part["ids"].astype(str), ids) & accepted_mask(ws, part["ids"])
    err = part["err_pixel"][keep].astype(np.float64)
    table = alpha_table(part["w"][keep], state, params.edit.strength, err, limits, params.guard)
    frame = pd.DataFrame({"id": part["ids"][keep].astype(str), "shard": shard, "index": np.flatnonzero(keep),
                          "err_pixel": err, **table})
    done = transfer_shard.fn(ws, name, shard, frame, params).set_index("id").loc[frame["id"]]
    return pd.DataFrame({"id": frame["id"], "alpha": frame["alpha"].astype(np.float64),
                         "distance_before": frame["distance_before"].astype(np.float64), "err_pixel": err,
                         "status": done["status"].to_numpy(), "reason": done["reason"].fillna("").to_numpy(),
                         "t_render": done["t_render"].to_numpy(np.float64),
                         "t_transfer": done["t_transfer"].to_numpy(np.float64)})


@task(cache_policy=NO_CACHE, persist_result=False)
def merge_results(ws: Workspace, name: str, rows: pd.DataFrame, strength: float) -> dict:
    """results.parquet with the rows of `rows`' photos replaced (every other row as it was), written whole;
    their review decisions forgotten. Returns the re-run photos' counts per status."""
    path = ws.edit(name).results
    with reading(path):
        table = pq.read_table(path)
    schema = table.schema
    df = table.to_pandas()
    if "strength" not in df.columns:
        df["strength"] = applied_strength(ws.edit(name))
        schema = schema.append(pa.field("strength", pa.float64()))
    new = rows.set_index("id")
    at = df["id"].isin(new.index).to_numpy()
    picked = new.loc[df.loc[at, "id"]]
    for column in UPDATED:
        df.loc[at, column] = picked[column].to_numpy()
    duplicate = df.loc[at, "reason"].astype(str).str.contains("same output images/").to_numpy()
    df.loc[at, "reason"] = np.where(duplicate, df.loc[at, "reason"], picked["reason"].to_numpy())
    df.loc[at, "strength"] = float(strength)
    df.loc[at, "distance_after"] = np.nan
    if "final_state" in df.columns:
        df.loc[at, "final_state"] = None
    out = pa.Table.from_pandas(df[schema.names], schema=schema.remove_metadata(), preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(out.replace_schema_metadata(schema.metadata), tmp)
    forget(ws, name, new.index)
    counts = rows["status"].value_counts()
    log.info("edit %s: %d photos re-run at strength %g: %s", name, len(rows), strength,
             ", ".join(f"{v} {k}" for k, v in counts.items()))
    return {str(k): int(v) for k, v in counts.items()}
