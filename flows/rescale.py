"""Flow for steps 5-6: α for every photo at the current strength, transfer mapped over shards, results.

Reads only the stored latents and direction.pt: nothing is projected again.
"""

from __future__ import annotations

from pathlib import Path

from prefect import unmapped

from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow, task_run_name
from flows.runners import gpu_annotation
from tasks.alphas import compute_alphas, write_results
from tasks.final_state import measure_final_state
from tasks.transfer import transfer_shard


@flow("rescale", "name")
def rescale_flow(workspace: Path, name: str, params: ParamsInput) -> dict:
    """α (§3.2) -> edited originals per shard -> the final state measured on a sample -> results.parquet."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    paths = ws.edit(name)
    for folder in (paths.root, paths.images, paths.parts):
        remove_stale_temps(folder)
    table = compute_alphas(ws, name, params)
    shards = sorted(table["shard"].unique())
    named = transfer_shard.with_options(task_run_name=task_run_name("transfer", ws.root, "name", "shard"))
    with gpu_annotation(params.runtime.gpu_resource):
        parts = named.map(unmapped(ws), unmapped(name), shards,
                          [table[table["shard"] == s] for s in shards], unmapped(params)).result()
        measured, verdict = measure_final_state.submit(ws, name, table, parts, params).result()
    return {**write_results(ws, name, table, parts, measured, params.edit.strength), "final_state": verdict}
