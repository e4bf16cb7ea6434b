"""Flow for steps 5-6: α for every photo at the current strength, transfer mapped over shards, results.

Reads only the stored latents and direction.pt: nothing is projected again.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, unmapped

from common.params import Params
from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.runners import gpu_annotation
from tasks.alphas import compute_alphas, write_results
from tasks.final_state import measure_final_state
from tasks.transfer import transfer_shard


@flow(name="rescale")
def rescale_flow(workspace: Path, name: str, params: Params) -> dict:
    """α (§3.2) -> edited originals per shard -> the final state measured on a sample -> results.parquet."""
    ws = Workspace.open(workspace)
    paths = ws.edit(name)
    for folder in (paths.root, paths.images, paths.parts):
        remove_stale_temps(folder)
    table = compute_alphas(ws, name, params)
    shards = sorted(table["shard"].unique())
    with gpu_annotation(params.runtime.gpu_resource):
        parts = transfer_shard.map(unmapped(ws), unmapped(name), shards,
                                   [table[table["shard"] == s] for s in shards], unmapped(params)).result()
        measured, verdict = measure_final_state.submit(ws, name, table, parts, params).result()
    return {**write_results(ws, name, table, parts, measured, params.edit.strength), "final_state": verdict}
