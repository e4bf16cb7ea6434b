"""Flow for step 3: project the catalog, one mapped task per shard, each shard its own HDF5 file."""

from __future__ import annotations

from prefect import unmapped

from common.params import Params
from common.workspace import Workspace
from flows.inputs import pipeline_flow, task_run_name
from flows.runners import gpu_annotation
from tasks.project import project_shard


@pipeline_flow("project", step="project")
def project_flow(workspace: Workspace, params: Params) -> dict:
    """Every ingest shard -> its latents shard (finished shards are skipped)."""
    named = project_shard.with_options(task_run_name=task_run_name("project", workspace.root, "shard.stem"))
    with gpu_annotation(params.runtime.gpu_resource):
        shards = named.map(unmapped(workspace), workspace.ingest_shards(), unmapped(params)).result()
    return {"shards": len(shards), "skipped": sum(s["skipped"] for s in shards),
            "images": sum(s["images"] for s in shards)}
