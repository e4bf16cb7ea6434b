"""Flow: some photos of an applied edit re-run into its results (tasks/rerun.py), the rest left as it is."""

from __future__ import annotations

from pathlib import Path

from prefect import unmapped

from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow, task_run_name
from flows.runners import gpu_annotation
from tasks.alphas import Catalog, catalog_limits
from tasks.direction import load_direction
from tasks.refine import look_of_edit
from tasks.rerun import merge_results, rerun_shard, shards_of
from tasks.versions import keep_version


@flow("rerun", "name")
def rerun_flow(workspace: Path, name: str, ids: list[str], params: ParamsInput) -> dict:
    """The edit as it was kept as a version, then α, refinement and transfer of `ids` at params' strength
    (against the whole catalog's guard limits), their rows merged into results.parquet."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    paths = ws.edit(name)
    for folder in (paths.root, paths.images, paths.parts):
        remove_stale_temps(folder)
    state = load_direction(ws, paths)
    keep_version(ws, name, f"before {len(ids)} photo(s) re-run at strength {params.edit.strength:g}")
    limits = catalog_limits(ws, state, params)
    look = look_of_edit(ws, state, params)
    todo = shards_of(ws, ids)
    named = rerun_shard.with_options(task_run_name=task_run_name("rerun", ws.root, "name", "shard"))
    with gpu_annotation(params.runtime.gpu_resource):
        parts = named.map(unmapped(ws), unmapped(name), list(todo), list(todo.values()), unmapped(state),
                          unmapped(limits), unmapped(look), unmapped(params)).result()
    return {"rerun": merge_results(ws, name, Catalog.concat(parts), params.edit.strength), "photos": len(ids)}
