"""Flows beyond one run: incremental update (new photos only) and scheduled retraining.

`update_flow`: photos added to the source since the last run are ingested (new shards appended),
projected (finished shards skipped by fingerprint) and every saved edit is re-applied, which
transfers only the new shards. Models and directions stay as they are.

`retrain_flow`: ingest the new photos, fine-tune (or retrain) the GAN and the encoder on the grown
catalog, re-project, re-fit every saved edit's direction from WS/edits/NAME/spec.json (a direction
belongs to one generator) and re-apply it, then optionally commit the outputs with DVC.
Both write again the report of every edit that has one.
`serve_retraining` runs it on a cron schedule (docs/SCALE_OUT.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from prefect import Flow

from common.params import Params
from common.workspace import Workspace
from flows.edit import edit_flow
from flows.inputs import ParamsInput, as_params, flow
from flows.project import project_flow
from flows.report import report_flow
from flows.rescale import rescale_flow
from flows.runners import gpu_annotation, on_runner, shared_cluster
from flows.train import ingest_flow, train_flow
from tasks.retrain import dvc_commit, saved_edits
from tasks.train import finetune_catalog_encoder, finetune_catalog_gan

WEEKLY = "0 3 * * 0"
NIGHTLY = "0 1 * * 1-6"


@flow("update")
def update_flow(workspace: Path, source: Path, params: ParamsInput) -> dict:
    """New photos only: ingest -> project (new shards) -> every saved edit re-applied (new shards)."""
    with shared_cluster(as_params(params)) as params:
        run = params.runtime
        ingested = on_runner(ingest_flow, run)(source, workspace, params)
        projected = on_runner(project_flow, run)(workspace, params)
        edits = {name: on_runner(rescale_flow, run)(workspace, name, params)
                 for name in saved_edits(Workspace.open(workspace))}
        reports = refresh_reports(workspace, edits, params)
    return {"ingest": ingested, "project": projected, "edits": edits, "reports": reports}


@flow("retrain")
def retrain_flow(workspace: Path, source: Path, params: ParamsInput, mode: Literal["finetune", "retrain"] = "finetune",
                 steps: int = 200, dvc: bool = False) -> dict:
    """Ingest -> fine-tune (`steps` more) or retrain G and E -> project -> re-fit + re-apply every edit (-> DVC)."""
    ws = Workspace.open(workspace)
    with shared_cluster(as_params(params)) as params:
        run = params.runtime
        ingested = on_runner(ingest_flow, run)(source, workspace, params)
        if mode == "finetune":
            with gpu_annotation(run.gpu_resource):
                gan = finetune_catalog_gan.submit(ws, params, steps).result()
                encoder = finetune_catalog_encoder.submit(ws, params, steps).result()
            models = {"gan": gan, "encoder": encoder}
        else:
            models = on_runner(train_flow, run)(workspace, params)
        projected = on_runner(project_flow, run)(workspace, params)
        edits = {name: on_runner(edit_flow, run)(workspace, name, form, params)
                 for name, form in saved_edits(ws).items()}
        reports = refresh_reports(workspace, edits, params)
    committed = dvc_commit(ws) if dvc else "skipped: dvc=False"
    return {"ingest": ingested, "models": models, "project": projected, "edits": edits, "reports": reports,
            "dvc": committed}


def refresh_reports(workspace: Path, names: Iterable[str], params: Params) -> dict[str, str]:
    """Write again the report of every edit in `names` that has one (stale once its photos changed);
    each report_flow run publishes the edit's Prefect artifacts, so the UI shows them on this run."""
    ws = Workspace.open(workspace)
    return {name: str(on_runner(report_flow, params.runtime)(workspace, name, params))
            for name in names if (ws.edit(name).report / "index.html").is_file()}


def serve_retraining(workspace: Path, source: Path, params: Params, cron: str = WEEKLY,
                     mode: Literal["finetune", "retrain"] = "finetune", steps: int = 200, dvc: bool = True,
                     name: str = "oneedit-retrain") -> None:
    """Serve `retrain_flow` on a cron schedule (default Sundays 03:00) until interrupted."""
    serve(retrain_flow, name, cron, {"workspace": workspace, "source": source, "params": params,
                                     "mode": mode, "steps": steps, "dvc": dvc})


def serve_update(workspace: Path, source: Path, params: Params, cron: str = NIGHTLY,
                 name: str = "oneedit-update") -> None:
    """Serve `update_flow` on a cron schedule (default 01:00, Monday to Saturday) until interrupted."""
    serve(update_flow, name, cron, {"workspace": workspace, "source": source, "params": params})


def serve(target: Flow, name: str, cron: str, parameters: dict[str, Any]) -> None:
    """Register deployment `target.name`/`name` with its cron schedule and run what it schedules until interrupted.

    Needs a Prefect server: `prefect server start` and PREFECT_API_URL pointing at it. Each run is
    a fresh process that gets the parameters as JSON (absolute paths as strings, params as a dict).
    A Dask LocalCluster (`task_runner: dask`, no address) is started once here and serves every run.
    """
    with shared_cluster(parameters["params"]) as params:
        values = {**parameters, "params": params.to_dict(),
                  **{k: str(Path(parameters[k]).resolve()) for k in ("workspace", "source")}}
        on_runner(target, params.runtime).serve(name=name, cron=cron, parameters=values)
