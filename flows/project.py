"""Flow for step 3: project the catalog, one mapped task per shard, each shard its own HDF5 file."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, unmapped

from common.params import Params
from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.runners import gpu_annotation
from tasks.project import project_shard


@flow(name="project")
def project_flow(workspace: Path, params: Params) -> dict:
    """Every ingest shard -> its latents shard (finished shards are skipped)."""
    ws = Workspace.open(workspace)
    remove_stale_temps(ws.latents)
    with gpu_annotation(params.runtime.gpu_resource):
        shards = project_shard.map(unmapped(ws), ws.ingest_shards(), unmapped(params)).result()
    return {"shards": len(shards), "skipped": sum(s["skipped"] for s in shards),
            "images": sum(s["images"] for s in shards)}
