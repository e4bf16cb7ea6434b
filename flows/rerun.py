"""Flow: some photos of an applied edit re-run into its results (tasks/rerun.py), the rest left as it is."""

from __future__ import annotations

from prefect import unmapped

from common.params import Params
from common.workspace import Workspace
from flows.inputs import pipeline_flow, task_run_name
from flows.runners import gpu_annotation
from tasks.alphas import Catalog, catalog_limits
from tasks.direction import load_direction
from tasks.final_state import calibrate_reading
from tasks.refine import look_of_edit
from tasks.rerun import merge_results, rerun_shard, shards_of
from tasks.versions import keep_version


@pipeline_flow("rerun", "name", step="rerun")
def rerun_flow(workspace: Workspace, name: str, ids: list[str], params: Params) -> dict:
    """The edit as it was kept as a version, then α, refinement and transfer of `ids` at params' strength
    (against the whole catalog's guard limits), their rows merged into results.parquet."""
    state = load_direction(workspace, workspace.edit(name))
    keep_version(workspace, name, f"before {len(ids)} photo(s) re-run at strength {params.edit.strength:g}")
    limits = catalog_limits(workspace, state, params)
    look = look_of_edit(workspace, state, params)
    line = calibrate_reading(workspace, state, params)
    todo = shards_of(workspace, ids)
    named = rerun_shard.with_options(task_run_name=task_run_name("rerun", workspace.root, "name", "shard"))
    with gpu_annotation(params.runtime.gpu_resource):
        parts = named.map(unmapped(workspace), unmapped(name), list(todo), list(todo.values()), unmapped(state),
                          unmapped(limits), unmapped(look), unmapped(line), unmapped(params)).result()
    return {"rerun": merge_results(workspace, name, Catalog.concat(parts), params.edit.strength), "photos": len(ids)}
