"""Flows for steps 4-6: the example edit -> Δ* (direction_flow), then α + transfer (rescale_flow)."""

from __future__ import annotations

from pathlib import Path

from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow
from flows.rescale import rescale_flow
from flows.runners import gpu_annotation, on_runner
from tasks.direction import fit_edit_direction


@flow("direction", "name")
def direction_flow(workspace: Path, name: str, form: dict, params: ParamsInput) -> dict:
    """The user's edit of one example -> a globally consistent direction Δ* (§3.1)."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    for folder in (ws.edit(name).root, ws.edit(name).example):
        remove_stale_temps(folder)
    with gpu_annotation(params.runtime.gpu_resource):
        return fit_edit_direction.submit(ws, name, form, params).result()


@flow("edit", "name")
def edit_flow(workspace: Path, name: str, form: dict, params: ParamsInput) -> dict:
    """Direction, then every photo moved to the example's final state."""
    params = as_params(params)
    on_runner(direction_flow, params.runtime)(workspace, name, form, params)
    return on_runner(rescale_flow, params.runtime)(workspace, name, params)
