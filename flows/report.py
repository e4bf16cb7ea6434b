"""Flow: the static HTML report of one edit plus Prefect artifacts (attached to this flow's run)."""

from __future__ import annotations

from pathlib import Path

from common.params import Params
from common.workspace import Workspace
from flows.inputs import pipeline_flow
from tasks.report import publish_artifacts, write_report


@pipeline_flow("report", "name", step="report")
def report_flow(workspace: Workspace, name: str, params: Params) -> Path:
    """results -> report/index.html -> artifacts; returns the report's path."""
    metrics = write_report(workspace, name, params)
    index = workspace.edit(name).report_index
    publish_artifacts(name, index, metrics)
    return index
