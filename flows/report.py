"""Flow: the static HTML report of one edit plus Prefect artifacts (attached to this flow's run)."""

from __future__ import annotations

from pathlib import Path

from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow
from tasks.report import publish_artifacts, write_report


@flow("report", "name")
def report_flow(workspace: Path, name: str, params: ParamsInput) -> Path:
    """results -> report/index.html -> artifacts; returns the report's path."""
    ws = Workspace.open(workspace)
    metrics = write_report(ws, name, as_params(params))
    index = ws.edit(name).report / "index.html"
    publish_artifacts(name, index, metrics)
    return index
