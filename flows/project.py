"""Flow for step 3: project the catalog, one mapped task per shard, each shard its own HDF5 file."""

from __future__ import annotations

from prefect import unmapped

from common.params import Params
from common.workspace import Workspace
from flows.inputs import pipeline_flow
from flows.steps import FlowSteps, Steps
from tasks.project import project_shard


@pipeline_flow("project", step="project")
def project_flow(workspace: Workspace, params: Params) -> dict:
    """Every ingest shard -> its latents shard (finished shards are skipped)."""
    return project_steps(workspace, params, FlowSteps(workspace.root, params.runtime.gpu_resource))


def project_steps(ws: Workspace, params: Params, steps: Steps) -> dict:
    """The project flow's step: one mapped task per ingest shard."""
    shards = steps.wait(steps.map(project_shard, ("project", "shard.stem"), unmapped(ws), ws.ingest_shards(),
                                  unmapped(params)))
    return {"shards": len(shards), "skipped": sum(s["skipped"] for s in shards),
            "images": sum(s["images"] for s in shards)}
