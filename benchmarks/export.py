"""`oneedit bench export`: the time to write an applied edit as catalog-ready files (issue 27's target:
1,000 photos in at most 30 s on 2 cores).

A synthetic applied edit is built in the bench workspace (demo renders saved as JPEG originals in
100-photo folders, the edited PNGs and results.parquet as the pipeline leaves them, with no training:
only the export is measured), then exported twice: into an empty folder (every photo encoded and
written) and again (the rerun finds every file done).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
from PIL import Image

from benchmarks.driver import Setup
from benchmarks.registry import ExportBenchOptions
from common.storage import sha256_file, write_parquet
from common.workspace import Workspace
from edit_core.demo_catalog import render, sample_attributes
from tasks.alphas import RESULTS_SCHEMA
from tasks.export import ExportOptions, export_edit
from tasks.images import write_png
from tasks.ingest import manifest_schema

NAME = "bench-export"
DISTINCT = 50  # distinct renders, repeated (rendering is not what is measured)


def applied_edit(root: Path, photos: int, photo_res: int, quality: int = 90) -> Workspace:
    """A workspace at `root` whose edit NAME edited `photos` JPEG originals (colours inverted); reused
    when it is already there with as many photos."""
    ws = Workspace.create(root / "ws")
    results = ws.edit(NAME).results
    if results.exists() and len(pd.read_parquet(results)) == photos:
        return ws
    shutil.rmtree(root / "photos", ignore_errors=True)
    shutil.rmtree(ws.edit(NAME).root, ignore_errors=True)
    renders = render(sample_attributes(DISTINCT, seed=1), photo_res)
    manifest, rows = [], []
    for k in range(photos):
        rel = f"{k // 100:03d}/{k:06d}.jpg"
        source = root / "photos" / rel
        source.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(renders[k % DISTINCT]).save(source, quality=quality)
        sha = sha256_file(source)
        write_png(ws.edit(NAME).images / f"{sha[:16]}.png", 255 - renders[k % DISTINCT])
        manifest.append([sha[:16], rel, sha, photo_res, photo_res, "accepted", "", 0, k])
        rows.append({"id": sha[:16], "source_path": rel, "alpha": 0.0, "distance_before": 0.0, "distance_after": 0.0,
                     "err_pixel": 0.0, "status": "edited", "reason": "", "before_gap": 1.0, "final_gap": 0.0,
                     "final_state": "landed", "t_render": 0.0, "t_transfer": 0.0})
    write_parquet(ws.manifest, pd.DataFrame(manifest, columns=manifest_schema(photo_res).names),
                  manifest_schema(photo_res))
    ws.source.write_text(json.dumps({"source": str((root / "photos").resolve())}), encoding="utf-8")
    write_parquet(results, pd.DataFrame(rows), RESULTS_SCHEMA)
    return ws


def bench_export(root: Path, photos: int, photo_res: int, workers: int, options: ExportOptions) -> dict:
    """Seconds to export `photos` photos into an empty folder, and to run the same export again."""
    ws = applied_edit(root, photos, photo_res)
    dest = root / "export"
    shutil.rmtree(dest, ignore_errors=True)
    start = time.perf_counter()
    first = export_edit(ws, NAME, dest, options=options, workers=workers)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    again = export_edit(ws, NAME, dest, options=options, workers=workers)
    rerun = time.perf_counter() - start
    size = sum(p.stat().st_size for p in dest.rglob("*.jpg"))
    return {"photos": photos, "photo_res": photo_res, "workers": workers, "exported": first["exported"],
            "export_s": seconds, "photos_per_s": first["exported"] / seconds, "rerun_s": rerun,
            "rerun_unchanged": again["unchanged"], "bytes_written": size, "target_s": 30.0 * photos / 1000}


def run(o: ExportBenchOptions, s: Setup) -> dict:
    """`oneedit export` of a synthetic applied edit of `o.photos` JPEGs, with runtime.threads encoding threads
    and the params' export section."""
    p = s.params
    options = ExportOptions("same", p.export.jpeg_quality, p.export.webp_quality)
    return bench_export(o.workspace, o.photos, o.photo_res, p.runtime.threads, options)
