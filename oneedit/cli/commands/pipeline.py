"""The catalog's steps: ingest, train (or import a generator), project, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from common.errors import InputError
from common.workspace import Workspace
from oneedit.cli.options import DeviceOptions, NameOpt, ParamsOptions, RunOptions, WorkspaceOpt, params_block
from oneedit.cli.printing import out, print_quality, print_rejected
from oneedit.cli.runtime import cluster, running, workspace_params


@params_block
def ingest(
    src_dir: Annotated[Path, typer.Argument(help="Folder of photos (searched recursively).", show_default=False)],
    workspace: WorkspaceOpt,
    options: DeviceOptions,
) -> None:
    """Decode every photo of SRC_DIR into model-resolution shards + a manifest."""
    p = options.load()
    if not src_dir.is_dir():
        raise InputError(f"source folder not found: {src_dir}")
    ws = Workspace.create(workspace)
    p = workspace_params(ws, p, options.set_)
    from flows.preflight import preflight
    from flows.train import ingest_flow

    preflight("ingest", ws, p, source=src_dir)
    with running(ws, p), cluster(p) as p:
        summary = ingest_flow(src_dir, ws.root, p)
    out.print(f"ingested {summary['accepted']} photos ({summary['duplicate']} duplicates, "
              f"{summary['rejected']} rejected) into {ws.ingest}", markup=False)
    print_rejected(ws)


@params_block
def train(workspace: WorkspaceOpt, options: RunOptions,
          init: Annotated[str | None, typer.Option(
              "--init", help="Fine-tune this GAN checkpoint (e.g. WS/models/gan.pt after `oneedit "
                             "import-generator`, or the demo's data/pretrained/demo-gan.pt) on the catalog for "
                             "gan.steps steps, instead of training from scratch ('' = from scratch).")] = None) -> None:
    """Train the GAN on the ingested catalog (or fine-tune one: --init), then the encoder that inverts it."""
    p = options.load()
    ws = Workspace.open(workspace)
    p = workspace_params(ws, p, options.set_)
    from flows.preflight import preflight
    from tasks.pretrained import check_init

    preflight("train", ws, p)
    start = check_init(Path(init), p, "--init") if init else None
    from flows.train import train_flow

    with running(ws, p), cluster(p) as p:
        trained = train_flow(ws.root, p, init=start)
    out.print(f"models in {ws.models}", markup=False)
    print_quality(ws, trained["quality"])


def import_generator(
    file: Annotated[Path, typer.Argument(help="NVlabs stylegan2-ada-pytorch .pkl or rosinality .pt checkpoint.",
                                         show_default=False)],
    workspace: WorkspaceOpt,
    precision: Annotated[str, typer.Option(help="as-file (float16 blocks as the file records: upstream's exact "
                                                "outputs) | float32 (faster on CPU)")] = "as-file",
    replace: Annotated[bool, typer.Option("--replace", help="Replace the workspace's generator.")] = False,
) -> None:
    """Use a pretrained StyleGAN2 as the workspace's generator (nothing in the file is executed)."""
    if precision not in ("as-file", "float32"):
        raise InputError(f"--precision must be as-file or float32, got {precision!r}")
    if file.exists() and not file.is_file():  # a FIFO or a device would block or never end
        raise InputError(f"generator file {file}: not a regular file")
    if not file.is_file():
        raise InputError(f"generator file not found: {file}")
    ws = Workspace.create(workspace)
    from common.lock import workspace_lock
    from tasks.pretrained import import_generator as run_import

    with workspace_lock(ws.root, wait=False):
        summary = run_import(file, ws, precision, replace)
    out.print(f"imported {summary['line']} into {ws.gan}", markup=False)
    out.print(f"ingest the catalog at its resolution: --set model.resolution={summary['resolution']}", markup=False)


@params_block
def project(workspace: WorkspaceOpt, options: RunOptions) -> None:
    """Project every photo into latent space (encoder init + optimization), shard by shard."""
    p = options.load()
    ws = Workspace.open(workspace)
    p = workspace_params(ws, p, options.set_)
    from flows.preflight import preflight
    from flows.project import project_flow

    preflight("project", ws, p)
    with running(ws, p), cluster(p) as p:
        summary = project_flow(ws.root, p)
    out.print(f"projected {summary['images']} photos into {ws.latents} "
              f"({summary['skipped']} of {summary['shards']} shards already done)", markup=False)


@params_block
def report(workspace: WorkspaceOpt, name: NameOpt, options: ParamsOptions) -> None:
    """Write the static HTML report of an edit: before/after grid, α histogram, final state, metrics."""
    p = options.load()
    ws = Workspace.open(workspace)
    ws.edit(name)  # the name checked first
    from flows.preflight import preflight
    from flows.report import report_flow

    preflight("report", ws, p, name=name)
    with running(ws, p), cluster(p) as p:
        index = report_flow(ws.root, name, p)
    out.print(f"report: {index}", markup=False)
