"""Flow for steps 5-6: α for every photo at the current strength, transfer mapped over shards, results.

Reads only the stored latents and direction.pt: nothing is projected again. Every step streams over
the shards (tasks/alphas.py): the flow holds the direction, the guard's few numbers and the compact
per-photo columns the shards return (`Catalog`), never every latent or a pandas row per photo.
"""

from __future__ import annotations

from pathlib import Path

from prefect import unmapped

from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow, task_run_name
from flows.runners import gpu_annotation
from tasks.alphas import Catalog, catalog_limits, edit_shard, write_results
from tasks.direction import load_direction
from tasks.final_state import measure_final_state
from tasks.versions import keep_before_reapply


@flow("rescale", "name")
def rescale_flow(workspace: Path, name: str, params: ParamsInput) -> dict:
    """α (§3.2) and edited originals per shard -> the final state measured on a sample -> results.parquet."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    paths = ws.edit(name)
    for folder in (paths.root, paths.images, paths.parts):
        remove_stale_temps(folder)
    state = load_direction(ws, paths)
    keep_before_reapply(ws, name, params.edit.strength)
    limits = catalog_limits(ws, state, params)
    shards = [s.name for s in ws.ingest_shards()]
    named = edit_shard.with_options(task_run_name=task_run_name("transfer", ws.root, "name", "shard"))
    with gpu_annotation(params.runtime.gpu_resource):
        parts = named.map(unmapped(ws), unmapped(name), shards, unmapped(state), unmapped(limits),
                          unmapped(params)).result()
        catalog = Catalog.concat(parts)
        measured, verdict = measure_final_state.submit(ws, name, catalog, params).result()
    return {**write_results(ws, name, catalog, measured, params.edit.strength), "final_state": verdict}
