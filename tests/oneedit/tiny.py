"""The tiny projected workspace that the CLI tests of issues 15 and 27 share (built once per session,
copied per test): 12 demo cars, two photos no GAN of cars can reconstruct, one wide photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.storage import read_parquet
from common.workspace import Workspace
from edit_core import demo_catalog
from tasks.images import write_png
from tests.catalogs import write_after
from tests.helpers import cli_args
from tests.workspaces import Recipe, Workspaces

SETS = ["runtime.shard_size=8"]
RES = 64  # photo size of the tiny catalog


def args(command: str, ws: Path, *extra: str) -> list[str]:
    """A CLI command line on workspace `ws` with the tiny params."""
    return cli_args(command, *extra, workspace=ws, sets=SETS)


def edit_args(tiny: dict, ws: Path, *extra: str, name: str = "e1") -> list[str]:
    """`oneedit edit` of the tiny catalog's pair (car-00 -> its hue changed)."""
    return args("edit", ws, "--name", name, "--example", str(tiny["example"]), "--after", str(tiny["after"]), *extra)


def write_catalog(root: Path) -> dict:
    """15 photos (12 cars, magenta.png and checker.png as outliers, wide.png 96x64) and the pair's after."""
    attrs = demo_catalog.sample_attributes(12, seed=7)
    cars = demo_catalog.render(attrs, RES)
    photos = root / "photos"
    for i, im in enumerate(cars):
        write_png(photos / f"car-{i:02d}.png", im)
    write_png(photos / "magenta.png", np.tile(np.array([255, 0, 255], np.uint8), (RES, RES, 1)))
    yy, xx = np.mgrid[:RES, :RES]
    write_png(photos / "checker.png", np.repeat(((yy // 8 + xx // 8) % 2 * 255).astype(np.uint8)[:, :, None], 3, 2))
    write_png(photos / "wide.png", np.concatenate([cars[3][:, :16], cars[3], cars[3][:, -16:]], axis=1))
    write_after(root / "after.png", attrs, 0.7, RES)
    return {"after": root / "after.png", "example": photos / "car-00.png"}


RECIPE = Recipe("tiny", write_catalog, tuple(SETS))


def build(workspaces: Workspaces) -> dict:
    """The tiny catalog in 2 shards, projected (built once per session by the factory)."""
    built = workspaces(RECIPE, "projected")
    manifest = read_parquet(Workspace.open(built.workspaces["projected"]).manifest)
    return {"root": built.root, "ws": built.workspaces["projected"], "photos": built.photos, **built.catalog,
            "ids": dict(zip(manifest["source_path"], manifest["id"], strict=True))}
