"""Flow: the static HTML report of one edit plus Prefect artifacts."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from common.params import Params
from common.workspace import Workspace
from tasks.report import publish_artifacts, write_report


@flow(name="report")
def report_flow(workspace: Path, name: str, params: Params) -> Path:
    """results -> report/index.html -> artifacts; returns the report's path."""
    ws = Workspace.open(workspace)
    metrics = write_report(ws, name, params)
    index = ws.edit(name).report / "index.html"
    publish_artifacts(name, index, metrics)
    return index
