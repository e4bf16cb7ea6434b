"""Flow for steps 5-7: α for every photo at the current strength, each photo refined toward the example's
final look, the edit transferred onto every original, the verdict, results.

Reads only the stored latents and direction.pt: nothing is projected again. Every step is a task mapped
over the shards (tasks/alphas.py, refine.py, transfer.py), each shard's refinement and transfer starting
as soon as its own upstream is done; the flow holds the direction, the guard's few numbers, each shard's
α table and the compact per-photo columns the transfers return (`Catalog`), never every latent.
"""

from __future__ import annotations

from pathlib import Path

from prefect import unmapped

from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow, task_run_name
from flows.runners import gpu_annotation
from tasks.alphas import Catalog, alpha_shard, catalog_limits, write_results
from tasks.direction import load_direction
from tasks.final_state import calibrate_reading, judge_final_state
from tasks.refine import look_of_edit, refine_shard
from tasks.transfer import transfer_shard
from tasks.versions import keep_before_reapply


@flow("rescale", "name")
def rescale_flow(workspace: Path, name: str, params: ParamsInput) -> dict:
    """α (§3.2) -> refine -> transfer, per shard -> the final state judged on every output -> results.parquet."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    paths = ws.edit(name)
    for folder in (paths.root, paths.images, paths.parts):
        remove_stale_temps(folder)
    state = load_direction(ws, paths)
    keep_before_reapply(ws, name, params.edit.strength)
    limits = catalog_limits(ws, state, params)
    look = look_of_edit(ws, state, params)
    line = calibrate_reading(ws, state, params)
    shards = [s.name for s in ws.ingest_shards()]

    def named(task, step: str, *keys: str):
        return task.with_options(task_run_name=task_run_name(step, ws.root, *keys, "shard"))

    with gpu_annotation(params.runtime.gpu_resource):
        tables = named(alpha_shard, "alpha").map(unmapped(ws), shards, unmapped(state), unmapped(limits),
                                                 unmapped(params))
        refined = named(refine_shard, "refine", "name").map(unmapped(ws), unmapped(name), shards, tables, unmapped(look),
                                                    unmapped(params))
        parts = named(transfer_shard, "transfer", "name").map(unmapped(ws), unmapped(name), shards, tables, refined,
                                                      unmapped(look), unmapped(line), unmapped(params))
        for step in (tables, refined):  # a failure is raised as itself, not as its downstream tasks' NotReady
            step.result()
        catalog = Catalog.concat(parts.result())
    verdict = judge_final_state(ws, name, catalog, look, line, params)
    return {**write_results(ws, name, catalog, verdict.get("landed_below", float("nan")), params.edit.strength),
            "final_state": verdict}
