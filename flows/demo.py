"""Flows: the demo catalog with its example pair, the demo's starting generator, and the whole demo end to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from common.workspace import Workspace
from flows.edit import edit_flow
from flows.inputs import ParamsInput, as_params, flow
from flows.project import project_flow
from flows.report import report_flow
from flows.runners import on_runner
from flows.train import ingest_flow, train_flow
from tasks.demo import example_pair, pretrain_params, write_catalog
from tasks.pretrained import export_generator
from tasks.train import train_catalog_gan

DEMO_EDIT = "demo"


@flow("demo-catalog")
def catalog_flow(out_dir: Path, params: ParamsInput) -> dict:
    """Rendered catalog (photos/ + attributes.parquet), then example/before.png, after.png, truth.json."""
    params = as_params(params)
    write_catalog(out_dir, params)
    return example_pair(out_dir, params)


@flow("demo-pretrain")
def pretrain_flow(out: Path, workspace: Path, params: ParamsInput) -> dict:
    """The demo's starting GAN (demo.init): demo.pretrain.size renders of another seed at the model's
    resolution -> ingest into `workspace` (resumable) -> GAN for demo.pretrain.steps -> `out` (fp16)."""
    params = pretrain_params(as_params(params))
    photos = write_catalog(workspace / "catalog", params)
    ingest_flow(photos, workspace, params)
    ws = Workspace.open(workspace)
    train_catalog_gan(ws, params)
    return export_generator(ws.gan, out)


def _timed(timings: dict[str, dict[str, float]], stage: str, step: Callable, *args: object) -> object:
    """Run one step; record its wall and CPU (all threads of this process) seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step(*args)
    timings[stage] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    return result


@flow("demo")
def demo_flow(workspace: Path, params: ParamsInput) -> dict:
    """catalog -> ingest -> train -> project -> edit (pair) -> report, timed per stage."""
    params = as_params(params)
    catalog = workspace / "catalog"
    t: dict[str, dict[str, float]] = {}
    pair = _timed(t, "catalog", on_runner(catalog_flow, params.runtime), catalog, params)
    _timed(t, "ingest", on_runner(ingest_flow, params.runtime), catalog / "photos", workspace, params)
    init = Path(params.demo.init) if params.demo.init else None  # the project's own pretrained G, fine-tuned
    _timed(t, "train", on_runner(train_flow, params.runtime), workspace, params, None, init)
    _timed(t, "project", on_runner(project_flow, params.runtime), workspace, params)
    form = {"kind": "pair", "example": str(pair["before"]), "path": str(pair["after"]), "truth": pair["truth"]}
    edit = _timed(t, "edit", on_runner(edit_flow, params.runtime), workspace, DEMO_EDIT, form, params)
    report = _timed(t, "report", on_runner(report_flow, params.runtime), workspace, DEMO_EDIT, params)
    return {"timings": t, "report": str(report), "edit": edit}
