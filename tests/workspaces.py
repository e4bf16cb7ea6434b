"""One factory for the workspaces the test modules start from (the session-scoped `workspaces` fixture).

A `Recipe` names a catalog (a function that writes the photos and the example pair into a folder), the
params and how far the pipeline runs ("trained": ingest + train; "projected": and project). Each recipe
is built once per session, through the pipeline's own flows on the CLI's torch threads, under
BASE/<name>/: photos/, the example pair, trained/ and projected/ (a copy of trained/, then projected).
A module that writes into its workspace takes a `copy`; the built folders are never changed.

Modules whose fixture *is* the thing under test build their own: the flows' end-to-end run
(tests/flows/test_pipeline.py), the runners' reference runs (test_scaleout, test_dask_workers), run A
against run B (test_determinism), the generator import (test_import_generator) and the demo
(test_edit_lands, the benchmarks).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.params import Params, load_params
from common.workspace import Workspace
from tests.catalogs import torch_threads
from tests.helpers import TINY

STAGES = ("trained", "projected")


@dataclass(frozen=True)
class Recipe:
    """A test catalog and how far the pipeline runs on it; `write(folder)` writes the photos into
    folder/photos and returns what the tests need to know of them (example, after, form, ...)."""

    name: str
    write: Callable[[Path], dict]
    sets: tuple[str, ...] = ()

    @property
    def params(self) -> Params:
        return load_params(TINY, list(self.sets))


@dataclass
class Built:
    """A recipe's build: its folder, photos, workspaces by stage and what `write` returned."""

    root: Path
    photos: Path
    workspaces: dict[str, Path]
    catalog: dict

    def copy(self, stage: str, dest: Path) -> Path:
        """A copy of the `stage` workspace at `dest` (for a test that writes into it)."""
        return Path(shutil.copytree(self.workspaces[stage], dest, symlinks=True))


class Workspaces:
    """Builds each recipe's stages once, on first use, under `base`."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._built: dict[str, Built] = {}

    def __call__(self, recipe: Recipe, stage: str = "projected") -> Built:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        built = self._built.get(recipe.name)
        if built is None:
            root = self.base / recipe.name
            catalog = recipe.write(root)
            built = self._built[recipe.name] = Built(root, root / "photos", {}, catalog)
        for step in STAGES[: STAGES.index(stage) + 1]:
            if step not in built.workspaces:
                built.workspaces[step] = _run(step, built, recipe.params)
        return built


def _run(stage: str, built: Built, p: Params) -> Path:
    """The pipeline's flows up to `stage` (the stage before it is built already)."""
    from flows.project import project_flow
    from flows.train import ingest_flow, train_flow

    with torch_threads(p.runtime.threads):
        if stage == "trained":
            ws = Workspace.create(built.root / "trained")
            ingest_flow(built.photos, ws.root, p)
            train_flow(ws.root, p)
            return ws.root
        projected = Path(shutil.copytree(built.workspaces["trained"], built.root / "projected"))
        project_flow(projected, p)
        return projected
