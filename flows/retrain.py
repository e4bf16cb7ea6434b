"""Flows beyond one run: incremental update (new photos only) and scheduled retraining.

`update_flow`: photos added to the source since the last run are ingested (new shards appended),
projected (finished shards skipped by fingerprint) and every edit applied to the catalog is re-applied
at the strength it was applied at, which transfers only the new shards. Models and directions stay as
they are; an edit only previewed with `direction` is not applied.

`retrain_flow`: ingest the new photos, fine-tune (or retrain) the GAN and the encoder on the grown
catalog, re-project, re-fit every saved edit's direction from WS/edits/NAME/spec.json and the input
copied into the edit's folder (a direction belongs to one generator) and re-apply it at its strength,
then optionally commit the outputs with DVC. An --offset edit is not replayed on a new generator.
Both write again the report of every edit that has one.
`serve_retraining` runs it on a cron schedule (docs/SCALE_OUT.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from prefect import Flow

from common.params import Params
from common.storage import sha256_file
from common.workspace import Workspace
from flows.edit import direction_flow, edit_flow
from flows.inputs import pipeline_flow
from flows.project import project_flow
from flows.report import report_flow
from flows.rescale import rescale_flow
from flows.runners import gpu_annotation, on_runner, shared_cluster
from flows.train import ingest_flow, train_flow
from tasks.retrain import check_input, dvc_commit, saved_edits
from tasks.train import finetune_catalog_encoder, finetune_catalog_gan

WEEKLY = "0 3 * * 0"
NIGHTLY = "0 1 * * 1-6"


def at_strength(params: Params, strength: float | None) -> Params:
    """`params` with the strength an edit was applied at (None: as given)."""
    if strength is None:
        return params
    return params.model_copy(update={"edit": params.edit.model_copy(update={"strength": strength})})


def not_reapplied(edit: dict, gan_sha256: str) -> str | None:
    """Why `update` leaves a saved edit alone, or None when it re-applies it."""
    if not edit["applied"]:
        return "only its direction was fitted (`oneedit direction`); `oneedit rescale` applies it to the catalog"
    if edit["gan_sha256"] != gan_sha256:
        return "its direction was fitted on another generator; `oneedit retrain` or `oneedit edit` fits it again"
    return None


OFFSET_STALE = ("an --offset edit is a move in the latent space of the generator it was made for, and the "
                "generator changed: not replayed; make it again for the new one (`oneedit edit --replace`)")


@pipeline_flow("update", step="update")
def update_flow(workspace: Workspace, source: Path, params: Params) -> dict:
    """New photos only: ingest -> project (new shards) -> every applied edit re-applied at its own strength
    (new shards); edits that were only previewed or belong to another generator are left, with the reason."""
    root = workspace.root
    with shared_cluster(params) as params:
        ingested = ingest_flow(source, root, params)
        projected = project_flow(root, params)
        gan = sha256_file(workspace.gan)
        edits, skipped = {}, {}
        for name, edit in saved_edits(workspace).items():
            if (reason := not_reapplied(edit, gan)) is not None:
                skipped[name] = reason
                continue
            edits[name] = rescale_flow(root, name, at_strength(params, edit["strength"]))
        reports = refresh_reports(workspace, edits, params)
    return {"ingest": ingested, "project": projected, "edits": edits, "skipped": skipped, "reports": reports}


@pipeline_flow("retrain", step="retrain")
def retrain_flow(workspace: Workspace, source: Path, params: Params, mode: Literal["finetune", "retrain"] = "finetune",
                 steps: int = 200, dvc: bool = False) -> dict:
    """Ingest -> fine-tune (`steps` more) or retrain G and E -> project -> re-fit + re-apply every edit at its
    own strength (-> DVC). An --offset edit made for another generator is skipped, with the reason."""
    root = workspace.root
    with shared_cluster(params) as params:
        ingested = ingest_flow(source, root, params)
        if mode == "finetune":
            with gpu_annotation(params.runtime.gpu_resource):
                gan = finetune_catalog_gan.submit(workspace, params, steps).result()
                encoder = finetune_catalog_encoder.submit(workspace, params, steps).result()
            models = {"gan": gan, "encoder": encoder}
        else:
            models = train_flow(root, params)
        projected = project_flow(root, params)
        gan_sha256 = sha256_file(workspace.gan)
        edits, skipped = {}, {}
        for name, edit in saved_edits(workspace).items():
            if edit["kind"] == "offset" and edit["gan_sha256"] != gan_sha256:
                skipped[name] = OFFSET_STALE
                continue
            check_input(workspace, name, edit)
            if edit["applied"]:
                edits[name] = edit_flow(root, name, edit["form"], at_strength(params, edit["strength"]))
            else:
                edits[name] = direction_flow(root, name, edit["form"], params)
        reports = refresh_reports(workspace, edits, params)
    committed = dvc_commit(workspace) if dvc else "skipped: dvc=False"
    return {"ingest": ingested, "models": models, "project": projected, "edits": edits, "skipped": skipped,
            "reports": reports, "dvc": committed}


def refresh_reports(ws: Workspace, names: Iterable[str], params: Params) -> dict[str, str]:
    """Write again the report of every edit in `names` that has one (stale once its photos changed);
    each report_flow run publishes the edit's Prefect artifacts, so the UI shows them on this run."""
    return {name: str(report_flow(ws.root, name, params)) for name in names if ws.edit(name).report_index.is_file()}


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
