"""Flow for step 3: project the catalog, one mapped task per shard, each shard its own HDF5 file."""

from __future__ import annotations

from pathlib import Path

from prefect import unmapped

from common.params import Params
from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow
from flows.steps import FlowSteps, Steps
from tasks.project import project_shard


@flow("project")
def project_flow(workspace: Path, params: ParamsInput) -> dict:
    """Every ingest shard -> its latents shard (finished shards are skipped)."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    return project_steps(ws, params, FlowSteps(ws.root, params.runtime.gpu_resource))


def project_steps(ws: Workspace, params: Params, steps: Steps) -> dict:
    """The project flow's step: one mapped task per ingest shard."""
    remove_stale_temps(ws.latents)
    shards = steps.wait(steps.map(project_shard, ("project", "shard.stem"), unmapped(ws), ws.ingest_shards(),
                                  unmapped(params)))
    return {"shards": len(shards), "skipped": sum(s["skipped"] for s in shards),
            "images": sum(s["images"] for s in shards)}
