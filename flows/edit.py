"""Flows for steps 4-6: the example edit -> Δ* (direction_flow), then α + transfer (rescale_flow)."""

from __future__ import annotations

from pathlib import Path

from common.params import Params
from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow
from flows.rescale import rescale_flow
from flows.runners import on_runner
from flows.steps import FlowSteps, Steps
from tasks.direction import fit_edit_direction, is_current, publish_edit, staged_edit


@flow("direction", "name")
def direction_flow(workspace: Path, name: str, form: dict, params: ParamsInput) -> dict:
    """The user's edit of one example -> a globally consistent direction Δ* (§3.1), fitted aside and
    published whole; skipped when the edit already holds it (same edit, same generator)."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    return direction_steps(ws, name, form, params, FlowSteps(ws.root, params.runtime.gpu_resource))


def direction_steps(ws: Workspace, name: str, form: dict, params: Params, steps: Steps) -> dict:
    """The direction flow's steps: unless the edit is current, the example edit + Δ* fitted aside, then published."""
    staged = staged_edit(ws, name)
    for folder in (ws.edit(name).root, ws.edit(name).example, staged.root, staged.example):
        remove_stale_temps(folder)
    if is_current(ws, name, form, params):
        return {"skipped": True}
    fitted = steps.submit(fit_edit_direction, ws, name, form, params)
    publish_edit(ws, name)
    return {**fitted, "skipped": False}


@flow("edit", "name")
def edit_flow(workspace: Path, name: str, form: dict, params: ParamsInput) -> dict:
    """Direction, then every photo moved to the example's final state."""
    params = as_params(params)
    on_runner(direction_flow, params.runtime)(workspace, name, form, params)
    return on_runner(rescale_flow, params.runtime)(workspace, name, params)
