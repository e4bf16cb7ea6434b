"""The demo: the whole pipeline on a generated catalog, its catalog alone, and its starting generator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from common.workspace import Workspace
from oneedit.cli.options import DeviceOptions, ParamsOptions, RunOptions, params_block
from oneedit.cli.printing import console, out, print_edit
from oneedit.cli.runtime import cluster, running, torch_threads


@params_block
def demo_pretrain(
    out_file: Annotated[Path, typer.Argument(help="The checkpoint to write (the demo reads demo.init).")],
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Scratch workspace (resumable).")] = Path(
        "data/pretrain"),
    *,
    options: DeviceOptions,
) -> None:
    """Make the demo's starting generator: a GAN trained on a larger catalog of the same renders (demo.pretrain)."""
    p = options.load()
    ws = Workspace.create(workspace)
    from flows.demo import pretrain_flow

    with running(ws, p):
        done = pretrain_flow(out_file, ws.root, p)
    out.print(f"{done['path']}: GAN at step {done['step']}, {done['bytes'] / 2**20:.1f} MiB (float16)", markup=False)


@params_block
def demo_catalog(
    out_dir: Annotated[Path, typer.Argument(help="Where to write photos/, attributes.parquet, example/.")],
    options: ParamsOptions,
) -> None:
    """Render the demo catalog (ground-truth attributes) and its example before/after pair."""
    p = options.load()
    from common import progress
    from flows.demo import catalog_flow
    from tasks.catalog import check_catalog_folder

    check_catalog_folder(out_dir)

    torch_threads(p)
    with progress.live(console):
        pair = catalog_flow(out_dir, p)
    out.print(f"catalog in {out_dir}; example pair {pair['before']} -> {pair['after']}", markup=False)


@params_block
def demo(
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Workspace directory.")] = Path("workspace"),
    *,
    options: RunOptions,
) -> None:
    """The whole pipeline on a generated catalog: catalog, ingest, train, project, edit, report."""
    p = options.load()
    from tasks.demo import check_demo_workspace
    from tasks.pretrained import check_init

    check_demo_workspace(workspace)
    if p.demo.init:
        check_init(Path(p.demo.init), p, "demo.init")
    ws = Workspace.create(workspace)
    from flows.demo import DEMO_EDIT, demo_flow

    with running(ws, p), cluster(p) as p:
        summary = demo_flow(ws.root, p)
    for stage, t in summary["timings"].items():
        out.print(f"  {stage:<10} {t['wall']:7.1f} s  (cpu {t['cpu']:7.1f} s)", markup=False)
    print_edit(ws, DEMO_EDIT, summary["edit"])
    total = sum(t["wall"] for t in summary["timings"].values())
    out.print(f"demo done in {total:.0f} s; report: {summary['report']}", markup=False)
