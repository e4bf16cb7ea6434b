"""Flow for step 3: project the catalog, one mapped task per shard, each shard its own HDF5 file."""

from __future__ import annotations

from pathlib import Path

from prefect import unmapped

from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow, task_run_name
from flows.runners import gpu_annotation
from tasks.project import project_shard


@flow("project")
def project_flow(workspace: Path, params: ParamsInput) -> dict:
    """Every ingest shard -> its latents shard (finished shards are skipped)."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    remove_stale_temps(ws.latents)
    named = project_shard.with_options(task_run_name=task_run_name("project", ws.root, "shard.stem"))
    with gpu_annotation(params.runtime.gpu_resource):
        shards = named.map(unmapped(ws), ws.ingest_shards(), unmapped(params)).result()
    return {"shards": len(shards), "skipped": sum(s["skipped"] for s in shards),
            "images": sum(s["images"] for s in shards)}
