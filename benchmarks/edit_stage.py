"""The edit stage of a catalog, measured end to end through the pipeline's own flows (issue 17):
α + frames + transfer + PNG for N cached latents and N photos at full resolution.

The workspace (demo photos at `photo_res`, ingested, latents from the bench's trained encoder, the demo's
example edit — demo.attribute to demo.value, a repaint by default, so every photo is refined — fitted as
a pair) is built once under WS/bench/edit-<N>-<res>/ and reused; then `rescale_flow` runs twice on the
task runner params choose (both cores by default), the first run warming Prefect and the caches, the
second timed after its outputs are removed, so every photo is refined and edited again.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from benchmarks.models import Models
from common.params import Params
from common.workspace import ENCODER, Workspace


def _build(root: Path, m: Models, p: Params, n: int, photo_res: int) -> Workspace:
    from flows.edit import direction_flow
    from flows.project import project_flow
    from tasks.catalog import PHOTOS, write_demo_catalog
    from tasks.demo import demo_catalog, example_pair
    from tasks.ingest import ingest_photos

    ws = Workspace.create(root / "ws")
    if not ws.manifest.exists():
        write_demo_catalog(demo_catalog(root), n, seed=p.catalog.seed, resolution=photo_res)
        ingest_photos.fn(demo_catalog(root) / PHOTOS, ws, p)
    for src, dst in ((m.gan_path, ws.gan), (m.gan_path.with_name(ENCODER), ws.encoder)):
        if not dst.exists():
            ws.models.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    project_flow(ws.root, p)
    if not ws.edit("bench").direction.exists():
        pair = example_pair.fn(demo_catalog(root), p.model_copy(update={"catalog": p.catalog.model_copy(
            update={"resolution": photo_res})}))
        direction_flow(ws.root, "bench", {"kind": "pair", "example": str(pair["before"]), "path": str(pair["after"])},
                       p)
    return ws


def edit_catalog_seconds(bench_root: Path, m: Models, p: Params, n: int = 1000, photo_res: int = 512) -> dict:
    """Wall seconds of `rescale_flow` (α + refine + frames + transfer + PNG + the verdict's readings) over n
    photos at photo_res, measured."""
    from flows.rescale import rescale_flow

    p = p.model_copy(update={"project": p.project.model_copy(update={"mode": "encoder"})})
    ws = _build(bench_root / f"edit-{n}-{photo_res}", m, p, n, photo_res)
    paths = ws.edit("bench")
    rescale_flow(ws.root, "bench", p)  # warm-up: Prefect's server, torch, OpenCV
    for out in (paths.parts, paths.images):
        shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = rescale_flow(ws.root, "bench", p)
    seconds = time.perf_counter() - start
    return {"edit_1000_s" if n == 1000 else f"edit_{n}_s": seconds, "photos": n, "photo_res": photo_res,
            "edited": summary["status"], "workers": p.runtime.workers, "task_runner": p.runtime.task_runner,
            "s_per_photo": seconds / n, "refine_steps": p.edit.refine.steps,
            "landed": summary["final_state"].get("landed"), "final_state_ratio": summary["final_state"].get(
                "final_state_ratio")}
