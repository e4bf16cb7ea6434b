"""Beyond one run: `update` (new photos only) and `retrain` (new photos, then new models), once or on a
schedule (a served Prefect deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from common.errors import InputError
from common.workspace import Workspace
from oneedit.cli.options import CronOpt, RunOptions, SourceArg, WorkspaceOpt, params_block
from oneedit.cli.printing import out, skipped
from oneedit.cli.runtime import cluster, running


@params_block
def update(src_dir: SourceArg, workspace: WorkspaceOpt, options: RunOptions, cron: CronOpt = None) -> None:
    """Photos added to SRC_DIR since the last run: ingest, project and apply every saved edit to them alone."""
    p = options.load()
    ws = Workspace.open(workspace)
    from flows.preflight import preflight
    from flows.retrain import serve_update, update_flow

    preflight("update", ws, p, source=src_dir)
    if cron is not None:
        _check_schedule(cron, src_dir)
        serve_update(ws.root, src_dir, p, cron=cron)
        return
    with running(ws, p), cluster(p) as p:
        summary = update_flow(ws.root, src_dir, p)
    done = summary["project"]["shards"] - summary["project"]["skipped"]
    out.print(f"{summary['ingest']['new']} new photos; {done} shards projected; edits re-applied: "
              f"{', '.join(summary['edits']) or 'none'}{skipped(summary)}", markup=False)


@params_block
def retrain(
    src_dir: SourceArg,
    workspace: WorkspaceOpt,
    mode: Annotated[str, typer.Option("--mode", help="finetune (resume, --steps more) | retrain (from scratch)")] = (
        "finetune"),
    steps: Annotated[int, typer.Option("--steps", min=1, help="Fine-tuning steps for G/D and for E.")] = 200,
    dvc: Annotated[bool, typer.Option("--dvc/--no-dvc", help="Commit the outputs with DVC afterwards.")] = False,
    cron: CronOpt = None,
    *,
    options: RunOptions,
) -> None:
    """New photos -> fine-tune or retrain G and E -> re-project -> re-fit and re-apply every saved edit."""
    if mode not in ("finetune", "retrain"):
        raise InputError(f"--mode must be finetune or retrain, got {mode!r}")
    p = options.load()
    ws = Workspace.open(workspace)
    from flows.preflight import preflight
    from flows.retrain import retrain_flow, serve_retraining

    preflight("retrain", ws, p, source=src_dir)
    if cron is not None:
        _check_schedule(cron, src_dir)
        serve_retraining(ws.root, src_dir, p, cron=cron, mode=mode, steps=steps, dvc=dvc)
        return
    with running(ws, p), cluster(p) as p:
        summary = retrain_flow(ws.root, src_dir, p, mode=mode, steps=steps, dvc=dvc)
    out.print(f"{summary['ingest']['new']} new photos; models {mode}d; edits re-fitted: "
              f"{', '.join(summary['edits']) or 'none'}{skipped(summary)}; {summary['dvc']}", markup=False)


def _check_schedule(cron: str, src_dir: Path) -> None:
    """Before serving: a valid cron line, a source folder and a Prefect server to register with."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.settings import PREFECT_API_URL
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron)
    except ValidationError:
        raise InputError(f"--cron {cron!r}: not a cron schedule (minute hour day month weekday, e.g. '0 3 * * 0')") from None
    if not src_dir.is_dir():
        raise InputError(f"source folder not found: {src_dir}")
    if not PREFECT_API_URL.value():
        raise InputError("--cron needs a Prefect server: run `prefect server start` and set PREFECT_API_URL")
