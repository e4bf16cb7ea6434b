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
from flows.inputs import pipeline_flow
from flows.steps import FlowSteps, Steps
from tasks.alphas import Catalog, alpha_shard, catalog_limits, write_results
from tasks.direction import load_direction
from tasks.final_state import calibrate_reading, judge_final_state
from tasks.refine import look_of_edit, refine_shard
from tasks.transfer import transfer_shard
from tasks.versions import keep_before_reapply


@pipeline_flow("rescale", "name", step="rescale")
def rescale_flow(workspace: Workspace, name: str, params: Params) -> dict:
    """α (§3.2) -> refine -> transfer, per shard -> the final state judged on every output -> results.parquet."""
    return rescale_steps(workspace, name, params, FlowSteps(workspace.root, params.runtime.gpu_resource))


def rescale_steps(ws: Workspace, name: str, params: Params, steps: Steps) -> dict:
    """The rescale flow's steps in order: the guard's limits, the example's look and the verdict's reading line,
    then per shard α -> refine -> transfer (each a mapped task), the verdict on every output, results.parquet."""
    state = load_direction(ws, ws.edit(name))
    keep_before_reapply(ws, name, params.edit.strength)
    limits = steps.call(catalog_limits, ws, state, params)
    look = steps.call(look_of_edit, ws, state, params)
    line = steps.call(calibrate_reading, ws, state, params)
    shards = [s.name for s in ws.ingest_shards()]
    tables = steps.map(alpha_shard, ("alpha", "shard"), unmapped(ws), shards, unmapped(state), unmapped(limits),
                       unmapped(params))
    refined = steps.map(refine_shard, ("refine", "name", "shard"), unmapped(ws), unmapped(name), shards, tables,
                        unmapped(look), unmapped(params))
    parts = steps.map(transfer_shard, ("transfer", "name", "shard"), unmapped(ws), unmapped(name), shards, tables,
                      refined, unmapped(look), unmapped(line), unmapped(params))
    for step in (tables, refined):  # a failure is raised as itself, not as its downstream tasks' NotReady
        steps.wait(step)
    catalog = Catalog.concat(steps.wait(parts))
    verdict = steps.call(judge_final_state, ws, name, catalog, look, line, params)
    results = steps.call(write_results, ws, name, catalog, verdict.get("landed_below", float("nan")),
                         params.edit.strength)
    return {**results, "final_state": verdict}
