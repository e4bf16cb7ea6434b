"""Flows for steps 4-7: the example edit -> Δ* (direction_flow), then α, refinement and transfer (rescale_flow)."""

from __future__ import annotations

from common.params import Params
from common.workspace import Workspace
from flows.inputs import pipeline_flow
from flows.rescale import rescale_flow
from flows.steps import FlowSteps, Steps
from tasks.direction import fit_edit_direction, is_current, publish_edit


@pipeline_flow("direction", "name", step="direction")
def direction_flow(workspace: Workspace, name: str, form: dict, params: Params) -> dict:
    """The user's edit of one example -> a globally consistent direction Δ* (§3.1), fitted aside and
    published whole; skipped when the edit already holds it (same edit, same generator)."""
    return direction_steps(workspace, name, form, params, FlowSteps(workspace.root, params.runtime.gpu_resource))


def direction_steps(ws: Workspace, name: str, form: dict, params: Params, steps: Steps) -> dict:
    """The direction flow's steps: unless the edit is current, the example edit + Δ* fitted aside, then published."""
    if is_current(ws, name, form, params):
        return {"skipped": True}
    fitted = steps.submit(fit_edit_direction, ws, name, form, params)
    publish_edit(ws, name)
    return {**fitted, "skipped": False}


@pipeline_flow("edit", "name", step="edit")
def edit_flow(workspace: Workspace, name: str, form: dict, params: Params) -> dict:
    """Direction, then every photo moved to the example's final state."""
    direction_flow(workspace.root, name, form, params)
    return rescale_flow(workspace.root, name, params)
