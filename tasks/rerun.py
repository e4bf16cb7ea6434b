"""Re-run some photos of an applied edit INTO its results: the ones rejected in review or that stopped
short of the example's final state, at another strength or with more refinement, the rest left as it is.

`select_rerun` turns `--only rejected|short|IDS` into ids. `rerun_shard` gives one shard's chosen photos
α and the range guard's decision at the params' strength, against the whole catalog's limits (the same
numbers a full run computes), then their refinement and transfer with the gaps measured on each output
(tasks/refine.py and tasks/transfer.py, which rewrite that shard's part records, so a later full
`rescale` redoes the shard rather than trust it). `merge_results` writes results.parquet again with only
those photos' rows replaced: every other row, image and review decision stays. The rows of re-run photos
record their own `strength` (a column added for them; a full `rescale` writes the file anew, every photo
at one strength) and are landed or short against the edit's own verdict threshold; their review
decisions go (the image they were made on is gone).
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from common.errors import InputError
from common.params import Params
from common.storage import atomic_path, read_json, reading
from common.workspace import Workspace
from edit_core.metrics import photo_final_states
from tasks.alphas import NUMERIC, Catalog, GuardLimits, alpha_shard, applied_strength
from tasks.ingest import shard_name
from tasks.manifest import accepted_rows, select_photos
from tasks.refine import refine_shard
from tasks.review import forget, results_columns, reviewed
from tasks.transfer import transfer_shard

log = logging.getLogger(__name__)
SUBSETS = ("rejected", "short")


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
def rerun_shard(ws: Workspace, name: str, shard: str, ids: list[str], state: dict, limits: GuardLimits, look: dict,
                params: Params) -> dict:
    """α and the guard's decision (`alpha_shard`, against the catalog's limits), the refinement and the
    transfer with its measured gaps (tasks/refine.py, tasks/transfer.py) of `ids`, photos of latents shard
    `shard`, at params' strength; their rows as the transfer returns them (compact columns)."""
    table = alpha_shard.fn(ws, shard, state, limits, params)
    table = table[table["id"].isin(ids)].reset_index(drop=True)
    refined = refine_shard.fn(ws, name, shard, table, look, params)
    return transfer_shard.fn(ws, name, shard, table, refined, look, params)


@task(cache_policy=NO_CACHE, persist_result=False)
def merge_results(ws: Workspace, name: str, rerun: Catalog, strength: float) -> dict:
    """results.parquet with the rows of the re-run photos replaced (every other row as it was), written whole;
    each re-run photo landed or short against the edit's own verdict threshold (final_state.json
    landed_below); their review decisions forgotten. Returns the re-run photos' counts per status."""
    path = ws.edit(name).results
    with reading(path):
        table = pq.read_table(path)
    schema = table.schema
    df = table.to_pandas()
    if "strength" not in df.columns:
        df["strength"] = applied_strength(ws.edit(name))
        schema = schema.append(pa.field("strength", pa.float64()))
    ids = np.char.decode(rerun.columns["id"], "utf-8")
    at = df["id"].isin(ids).to_numpy()
    pos = rerun.positions(df.loc[at, "id"].to_numpy())
    for column in set(NUMERIC) & set(df.columns):
        df.loc[at, column] = rerun.columns[column][pos]
    df.loc[at, "status"] = rerun.status()[pos]
    duplicate = df.loc[at, "reason"].astype(str).str.contains("same output images/").to_numpy()
    df.loc[at, "reason"] = np.where(duplicate, df.loc[at, "reason"], rerun.columns["reason"][pos])
    df.loc[at, "strength"] = float(strength)
    if "final_state" in df.columns:
        verdict = ws.edit(name).root / "final_state.json"
        below = read_json(verdict).get("landed_below") if verdict.exists() else None
        df.loc[at, "final_state"] = (photo_final_states(df.loc[at, "final_gap"].to_numpy(), below)
                                     if below is not None else "")
    out = pa.Table.from_pandas(df[schema.names], schema=schema.remove_metadata(), preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(out.replace_schema_metadata(schema.metadata), tmp)
    forget(ws, name, ids)
    counts = Counter(rerun.status())
    log.info("edit %s: %d photos re-run at strength %g: %s", name, len(ids), strength,
             ", ".join(f"{v} {k}" for k, v in counts.items()))
    return dict(counts)
