"""Flows: the demo catalog with its example pair, the demo's starting generator, and the whole demo end to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from common.params import Params
from common.workspace import Workspace
from flows.edit import edit_flow
from flows.inputs import pipeline_flow
from flows.project import project_flow
from flows.report import report_flow
from flows.train import ingest_flow, train_flow
from tasks.catalog import PHOTOS
from tasks.demo import demo_catalog, example_pair, pretrain_params, write_catalog
from tasks.pretrained import export_generator
from tasks.train import train_catalog_gan

DEMO_EDIT = "demo"


@pipeline_flow("demo-catalog")
def catalog_flow(out_dir: Path, params: Params) -> dict:
    """Rendered catalog (photos/ + attributes.parquet), then example/before.png, after.png, truth.json."""
    write_catalog(out_dir, params)
    return example_pair(out_dir, params)


@pipeline_flow("demo-pretrain")
def pretrain_flow(out: Path, workspace: Workspace, params: Params) -> dict:
    """The demo's starting GAN (demo.init): demo.pretrain.size renders of another seed at the model's
    resolution -> ingest into `workspace` (resumable) -> GAN for demo.pretrain.steps -> `out` (fp16)."""
    params = pretrain_params(params)
    photos = write_catalog(demo_catalog(workspace.root), params)
    ingest_flow(photos, workspace.root, params)
    train_catalog_gan(workspace, params)
    return export_generator(workspace.gan, out)


def _timed(timings: dict[str, dict[str, float]], stage: str, step: Callable, *args: object) -> object:
    """Run one step; record its wall and CPU (all threads of this process) seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step(*args)
    timings[stage] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    return result


@pipeline_flow("demo")
def demo_flow(workspace: Workspace, params: Params) -> dict:
    """catalog -> ingest -> train -> project -> edit (pair) -> report, timed per stage."""
    root, catalog = workspace.root, demo_catalog(workspace.root)
    t: dict[str, dict[str, float]] = {}
    pair = _timed(t, "catalog", catalog_flow, catalog, params)
    _timed(t, "ingest", ingest_flow, catalog / PHOTOS, root, params)
    init = Path(params.demo.init) if params.demo.init else None  # the project's own pretrained G, fine-tuned
    _timed(t, "train", train_flow, root, params, None, init)
    _timed(t, "project", project_flow, root, params)
    form = {"kind": "pair", "example": str(pair["before"]), "path": str(pair["after"]), "truth": pair["truth"]}
    edit = _timed(t, "edit", edit_flow, root, DEMO_EDIT, form, params)
    report = _timed(t, "report", report_flow, root, DEMO_EDIT, params)
    return {"timings": t, "report": str(report), "edit": edit}
