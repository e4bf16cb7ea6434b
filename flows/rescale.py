"""Flow for steps 5-7: α for every photo at the current strength, each photo refined toward the example's
final look, the edit transferred onto every original, the verdict, results.

Reads only the stored latents and direction.pt: nothing is projected again. Every step is a task mapped
over the shards (tasks/alphas.py, refine.py, transfer.py), each shard's refinement and transfer starting
as soon as its own upstream is done; the flow holds the direction, the guard's few numbers, each shard's
α table and the compact per-photo columns the transfers return (`Catalog`), never every latent.
"""

from __future__ import annotations

from prefect import unmapped

from common.params import Params
from common.workspace import Workspace
from flows.inputs import pipeline_flow, task_run_name
from flows.runners import gpu_annotation
from tasks.alphas import Catalog, alpha_shard, catalog_limits, write_results
from tasks.direction import load_direction
from tasks.final_state import calibrate_reading, judge_final_state
from tasks.refine import look_of_edit, refine_shard
from tasks.transfer import transfer_shard
from tasks.versions import keep_before_reapply


@pipeline_flow("rescale", "name", step="rescale")
def rescale_flow(workspace: Workspace, name: str, params: Params) -> dict:
    """α (§3.2) -> refine -> transfer, per shard -> the final state judged on every output -> results.parquet."""
    state = load_direction(workspace, workspace.edit(name))
    keep_before_reapply(workspace, name, params.edit.strength)
    limits = catalog_limits(workspace, state, params)
    look = look_of_edit(workspace, state, params)
    line = calibrate_reading(workspace, state, params)
    shards = [s.name for s in workspace.ingest_shards()]

    def named(task, step: str, *keys: str):
        return task.with_options(task_run_name=task_run_name(step, workspace.root, *keys, "shard"))

    with gpu_annotation(params.runtime.gpu_resource):
        tables = named(alpha_shard, "alpha").map(unmapped(workspace), shards, unmapped(state), unmapped(limits),
                                                 unmapped(params))
        refined = named(refine_shard, "refine", "name").map(unmapped(workspace), unmapped(name), shards, tables,
                                                            unmapped(look), unmapped(params))
        parts = named(transfer_shard, "transfer", "name").map(unmapped(workspace), unmapped(name), shards, tables,
                                                              refined, unmapped(look), unmapped(line), unmapped(params))
        for step in (tables, refined):  # a failure is raised as itself, not as its downstream tasks' NotReady
            step.result()
        catalog = Catalog.concat(parts.result())
    verdict = judge_final_state(workspace, name, catalog, look, line, params)
    landed_below = verdict.get("landed_below", float("nan"))
    return {**write_results(workspace, name, catalog, landed_below, params.edit.strength), "final_state": verdict}
