"""Memory bounded by streaming shards: peak RSS of every stage, each in a fresh process, per catalog size.

`measure_streaming_memory(n, workdir)` prepares a catalog of `n` 64 px demo photos (unmeasured),
then runs each stage of STAGES in its own subprocess (a clean RSS), sampling the process RSS
every 20 ms: ingest, train (G then E for `steps` steps, batches read from the shards), project
(every shard), direction (one pair edit), edit (the guard's limits: G's samples + one err_pixel pass;
α -> refine (2 steps) -> transfer per shard; the verdict from every output's gap; results.parquet),
report, update (one shard of new photos: ingest, project, re-apply the edit). Each stage runs the flows'
own step functions (flows/*.py `*_steps`) with `PlainSteps`: every task's function in the flow's order,
in this process, so the Prefect engine around them is not measured.

What is simulated, and why (the point is how memory scales, not quality or speed on 2 CPU cores):
- models are tiny (model.width=8, a few training steps) and projection uses mode `encoder` with
  HOG features: memory depends on shard and batch sizes, not on the weights or the step budget;
- `distinct` renders only that many different cars and stamps each photo's index into its first
  pixels, so every file is still unique for ingest;
- projection (~25 ms per photo on this loaded machine) and transfer (~0.15 s per photo) run for
  real on the first `real_shards` shards (and the new shard of `update`); every other shard's
  latents (random w) and transfer part are written beforehand with their true fingerprints (its
  edited photos are hard links to one placeholder), so the project and edit stages take the real
  "shard is current" path for them (fingerprint computed, outputs checked) and all the
  catalog-wide work (the err_pixel pass, α of every shard, results.parquet, report) runs on every
  photo; the final state is measured on 8 edited photos, mostly placeholders.
`synthetic=True` (the 1M-photo run) also simulates ingest and projection: the shards hold copies
of a few distinct thumbnails (one shard is written, the others are byte copies with their own ids),
the manifest points at a few distinct originals (their true sha256, so the real transfer accepts
them), and the latents are random; ingest, project and update are not run (their per-shard memory
is the 10k/100k runs').
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from benchmarks.registry import MemoryOptions

if TYPE_CHECKING:
    from benchmarks.driver import Setup

RESOLUTION = 64
EDIT = "bench"
STAGES = ("ingest", "train", "project", "direction", "edit", "report", "update")
SYNTHETIC_STAGES = ("train", "direction", "edit", "report")


class RssSampler:
    """Peak resident set size (MiB) of this process per named phase, sampled in a daemon thread."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self._proc = psutil.Process()
        self._interval = interval_s
        self._phase = "start"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss_mib(self) -> float:
        """The current RSS (MiB)."""
        return self._proc.memory_info().rss / 2**20

    def _sample(self) -> None:
        self.peaks[self._phase] = max(self.peaks.get(self._phase, 0.0), self.rss_mib())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Attribute the samples taken inside the block to `name`."""
        self._sample()
        self._phase = name
        try:
            yield
        finally:
            self._sample()
            self._phase = "between"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def write_catalog(folder: Path, n: int, distinct: int | None, chunk: int = 1000, seed: int = 0,
                  first: int = 0) -> None:
    """`n` unique 64 px demo photos car-FIRST.. as PNGs in folders of `chunk`; at most `chunk` images in memory."""
    import cv2
    import numpy as np

    from edit_core.demo_catalog import render, sample_attributes

    pool = render(sample_attributes(distinct, seed), RESOLUTION) if distinct else None
    for start in range(first, first + n, chunk):
        count = min(chunk, first + n - start)
        if pool is None:
            images = render(sample_attributes(count, seed + 1 + start // chunk), RESOLUTION)
        else:
            images = pool[np.arange(start, start + count) % distinct].copy()
            index = np.arange(start, start + count, dtype=np.uint32)
            images[:, 0, 0] = np.stack([index & 255, (index >> 8) & 255, (index >> 16) & 255], axis=1)
        out = folder / f"{start // chunk:05d}"
        out.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images, start):  # plain writes: benchmark input, not a workspace output
            cv2.imwrite(str(out / f"car-{i:07d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def write_models(ws, params) -> None:
    """Untrained generator (+ D) and encoder checkpoints of the params' model config."""
    from edit_core.checkpoint import save_checkpoint
    from edit_core.models import ModelConfig, build_discriminator, build_encoder, build_generator

    cfg = ModelConfig(**params.model.model_dump())
    G, D = build_generator(cfg), build_discriminator(cfg)
    save_checkpoint(ws.gan, kind="gan", config=cfg, G=G.state_dict(), G_ema=G.state_dict(), D=D.state_dict())
    E = build_encoder(cfg, w_plus=False, seed=0)
    save_checkpoint(ws.encoder, kind="encoder", config=cfg, E=E.state_dict(), w_plus=False)


def bench_overrides(shard_size: int, batch_size: int, width: int, steps: int) -> list[str]:
    """The params of every stage: tiny models and per-photo work, the catalog's shard and batch sizes."""
    return [f"model.resolution={RESOLUTION}", f"model.width={width}", "runtime.device=cpu", "runtime.threads=1",
            f"runtime.shard_size={shard_size}", "project.mode=encoder", "project.features=hog",
            f"project.batch_size={batch_size}", f"gan.steps={steps}", f"encoder.steps={steps}", "gan.batch_size=16",
            "encoder.batch_size=16", f"gan.sample_every={steps}", f"encoder.sample_every={steps}",
            f"gan.ckpt_every={steps}", f"encoder.ckpt_every={steps}", "edit.direction.steps=5",
            "transfer.frames=1", "transfer.iterations=1", "report.grid=4", "report.estimate=0", "edit.refine.steps=2"]


def _params(workdir: Path):
    from common.params import load_params

    return load_params(None, json.loads((workdir / "overrides.json").read_text()))


# --------------------------------------------------------------------------------------------
# preparation (unmeasured)


def prepare(workdir: Path, n_images: int, distinct: int | None) -> None:
    """photos/ (the catalog), new/ (one shard of photos for `update`), after.png (the example, edited)."""
    import cv2

    params = _params(workdir)
    write_catalog(workdir / "photos", n_images, distinct)
    write_catalog(workdir / "new", params.runtime.shard_size, distinct, first=n_images)
    example = cv2.imread(str(next((workdir / "photos" / "00000").glob("*.png"))))
    cv2.imwrite(str(workdir / "after.png"), 255 - example)


def prepare_synthetic(workdir: Path, n_images: int, distinct: int) -> None:
    """A workspace of `n_images` photos without ingest or projection (see the module docstring)."""
    import h5py
    import numpy as np
    import pandas as pd

    from common.storage import sha256_file, write_h5, write_json, write_parquet
    from common.workspace import Workspace
    from edit_core.demo_catalog import render, sample_attributes
    from tasks.images import write_png
    from tasks.ingest import MANIFEST_COLUMNS, manifest_schema, shard_name

    params = _params(workdir)
    size = params.runtime.shard_size
    ws = Workspace.create(workdir / "ws")
    pool = render(sample_attributes(distinct, 0), RESOLUTION)
    for i, image in enumerate(pool):
        write_png(workdir / "photos" / f"car-{i:07d}.png", image)
    write_png(workdir / "after.png", 255 - pool[0])
    hashes = [sha256_file(workdir / "photos" / f"car-{i:07d}.png") for i in range(distinct)]
    write_models(ws, params)
    rng = np.random.default_rng(0)
    shards = -(-n_images // size)
    ids = np.array([f"{i:016x}" for i in range(n_images)])
    first = ws.ingest / shard_name(0)
    write_h5(first, {"images": pool[np.arange(size) % distinct], "ids": ids[:size]}, {"resolution": RESOLUTION})
    w_dim = params.model.w_dim
    for s in range(shards):
        rows = slice(s * size, min((s + 1) * size, n_images))
        n = rows.stop - rows.start
        path = ws.ingest / shard_name(s)
        if s and n == size:
            shutil.copyfile(first, path)
            with h5py.File(path, "r+") as f:  # a benchmark input of our own, never a workspace output
                f["ids"][...] = ids[rows].astype(object)
        elif s:
            write_h5(path, {"images": pool[np.arange(n) % distinct], "ids": ids[rows]}, {"resolution": RESOLUTION})
        write_h5(ws.latent_shard(path), {"ids": ids[rows], "w": rng.standard_normal((n, w_dim), np.float32),
                                         "err_pixel": rng.random(n, np.float32),
                                         "err_feature": rng.random(n, np.float32)}, {"fingerprint": "synthetic"})
    index = np.arange(n_images)
    manifest = pd.DataFrame({"id": ids, "source_path": [f"car-{i % distinct:07d}.png" for i in index],
                             "sha256": [hashes[i % distinct] for i in index], "width": RESOLUTION, "height": RESOLUTION,
                             "status": "accepted", "reason": "", "shard": index // size, "index": index % size})
    write_parquet(ws.manifest, manifest[MANIFEST_COLUMNS], manifest_schema(RESOLUTION))
    write_json(ws.source, {"source": str((workdir / "photos").resolve())})


def simulate_projection(workdir: Path, real_shards: int) -> int:
    """Random latents with their true fingerprints for every shard after the first `real_shards`, so
    that the project stage skips them through its real check; returns their count."""
    import numpy as np

    from common.storage import read_h5, write_h5
    from common.workspace import Workspace
    from tasks.project import shard_fingerprint

    params = _params(workdir)
    ws = Workspace.open(workdir / "ws")
    rng = np.random.default_rng(0)
    shards = ws.ingest_shards()[real_shards:]
    for shard in shards:
        ids = read_h5(shard, ["ids"])["ids"]
        write_h5(ws.latent_shard(shard), {"ids": ids, "w": rng.standard_normal((len(ids), params.model.w_dim),
                                                                                np.float32),
                                          "err_pixel": rng.random(len(ids), np.float32),
                                          "err_feature": rng.random(len(ids), np.float32)},
                 {"fingerprint": shard_fingerprint(ws, shard, params), "mode": params.project.mode})
    return len(shards)


def simulate_transfer(workdir: Path, real_shards: int) -> int:
    """Refined offsets (δ = α·n), parts and hard-linked placeholder photos, all with their true
    fingerprints, for every shard after the first `real_shards`, so that the edit stage skips them through
    its real checks; returns their count."""
    import numpy as np
    import pandas as pd
    import torch

    from common.storage import write_parquet
    from common.workspace import Workspace
    from edit_core.alphas import EDITED
    from edit_core.refine import FinalLook
    from tasks.alphas import alpha_shard, catalog_limits
    from tasks.direction import load_direction
    from tasks.final_state import calibrate_reading
    from tasks.images import write_png
    from tasks.manifest import source_paths
    from tasks.refine import (
        closed_form_offsets,
        look_of_edit,
        refine_fingerprint,
        refine_path,
        refines,
        write_offsets,
    )
    from tasks.transfer import MEASURED, PART_SCHEMA, part_fingerprint

    params = _params(workdir)
    ws = Workspace.open(workdir / "ws")
    paths = ws.edit(EDIT)
    state = load_direction(ws, paths)
    limits = catalog_limits.fn(ws, state, params)
    look = look_of_edit.fn(ws, state, params)
    line = calibrate_reading.fn(ws, state, params)
    shards = [s.name for s in ws.ingest_shards()][real_shards:]
    for shard in shards:
        placeholder = paths.images / f".placeholder-{shard}.png"  # one per shard: a file has at most ~65k links
        write_png(placeholder, np.zeros((RESOLUTION, RESOLUTION, 3), np.uint8))
        frame = alpha_shard.fn(ws, shard, state, limits, params)
        edited = frame[frame["status"].isin(EDITED)]
        refined = None
        if refines(FinalLook.from_dict(look), params) and len(edited):
            refined = refine_path(ws, EDIT, shard)
            delta = closed_form_offsets(torch.from_numpy(edited["alpha"].to_numpy(np.float32)), state["n"])
            write_offsets(refined, edited["id"], delta.numpy(), refine_fingerprint(ws, EDIT, shard, frame, look, params))
        key = part_fingerprint(ws, EDIT, shard, frame, source_paths(ws, frame["id"]), refined, look, line, params)
        for i in edited["id"]:
            os.link(placeholder, paths.images / f"{i}.png")
        done = pd.DataFrame({"id": frame["id"], "status": frame["status"], "reason": frame["reason"],
                             "t_render": 0.0, "t_transfer": 0.0, **{c: np.nan for c in MEASURED}, "fingerprint": key})
        write_parquet(paths.parts / Path(shard).with_suffix(".parquet").name, done, PART_SCHEMA)
    return len(shards)


# --------------------------------------------------------------------------------------------
# the measured stages (one per fresh process)


def _stage_functions(workdir: Path) -> dict[str, Callable]:
    """Each measured stage as the flows run it: their step functions with `PlainSteps` (no Prefect engine)."""
    from common.workspace import Workspace
    from flows.edit import direction_steps
    from flows.project import project_steps
    from flows.rescale import rescale_steps
    from flows.steps import PlainSteps
    from flows.train import train_steps
    from tasks.ingest import ingest_photos
    from tasks.report import write_report

    photos = workdir / "photos"
    steps = PlainSteps()

    def ingest(params) -> None:
        steps.call(ingest_photos, photos, Workspace.create(workdir / "ws"), params)

    def train(params) -> None:
        train_steps(Workspace.open(workdir / "ws"), params, steps)

    def project(params) -> None:
        project_steps(Workspace.open(workdir / "ws"), params, steps)

    def direction(params) -> None:
        example = min(photos.rglob("car-*.png"))
        form = {"kind": "pair", "example": str(example), "path": str(workdir / "after.png")}
        direction_steps(Workspace.open(workdir / "ws"), EDIT, form, params, steps)

    def edit(params) -> None:
        rescale_steps(Workspace.open(workdir / "ws"), EDIT, params, steps)

    def report(params) -> None:
        steps.call(write_report, Workspace.open(workdir / "ws"), EDIT, params)

    def update(params) -> None:  # update_flow's steps for the one applied edit: ingest, project, rescale
        (workdir / "new").rename(photos / "new")
        ws = Workspace.open(workdir / "ws")
        steps.call(ingest_photos, photos, ws, params)
        project_steps(ws, params, steps)
        rescale_steps(ws, EDIT, params, steps)

    return {"ingest": ingest, "train": train, "project": project, "direction": direction, "edit": edit,
            "report": report, "update": update}


def run_stage(stage: str, workdir: Path) -> dict:
    """One stage in this (fresh) process: peak RSS of the imports and of the stage itself, seconds."""
    sampler = RssSampler()
    with sampler.phase("imports"):
        import torch

        torch.set_num_threads(1)
        params = _params(workdir)
        functions = _stage_functions(workdir)
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its one-time import of torch._dynamo (~250 MB)
    start = time.perf_counter()
    with sampler.phase(stage):
        functions[stage](params)
    seconds = time.perf_counter() - start
    sampler.stop()
    return {"stage": stage, "peak_rss_mib": round(sampler.peaks[stage], 1),
            "imports_rss_mib": round(sampler.peaks["imports"], 1), "seconds": round(seconds, 2),
            "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


# --------------------------------------------------------------------------------------------
# the driver


def _subprocess(workdir: Path, *args: str, timeout_s: float | None) -> str:
    command = [sys.executable, "-m", "benchmarks.memory", *args, str(workdir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def measure_streaming_memory(n_images: int, workdir: Path | str, shard_size: int = 256, batch_size: int = 64,
                             distinct: int | None = 1000, width: int = 8, steps: int = 20, real_shards: int = 2,
                             synthetic: bool = False, timeout_s: float | None = None) -> dict:
    """Peak RSS (MiB) and seconds of every stage on a catalog of `n_images` photos, each stage in a fresh process.

    `workdir` receives photos/ and ws/ (emptied first); `width` is the models' base channel width,
    `steps` the training steps of G and of E, `real_shards` the shards transferred for real;
    `synthetic` simulates ingest and projection (the 1M run). See the module docstring.
    """
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "overrides.json").write_text(json.dumps(bench_overrides(shard_size, batch_size, width, steps)))
    start = time.perf_counter()
    _subprocess(workdir, "prepare", str(n_images), str(distinct or 0), *(["--synthetic"] if synthetic else []),
                timeout_s=timeout_s)
    prepared = time.perf_counter() - start
    stages: dict[str, dict] = {}
    simulated = {}
    for stage in SYNTHETIC_STAGES if synthetic else STAGES:
        if stage in ("project", "edit"):
            simulated[stage] = int(_subprocess(workdir, f"simulate-{stage}", str(real_shards), timeout_s=timeout_s))
        stages[stage] = json.loads(_subprocess(workdir, "stage", stage, timeout_s=timeout_s))
    return {"n_images": n_images, "shard_size": shard_size, "synthetic": synthetic, "resolution": RESOLUTION,
            "model_width": width, "train_steps": steps, "real_shards": real_shards, "simulated_shards": simulated,
            "prepare_s": round(prepared, 1), "stages": stages,
            "peak_rss_mib": {s: r["peak_rss_mib"] for s, r in stages.items()}}


def run(o: MemoryOptions, s: Setup) -> dict:
    """Peak RSS of every stage at each catalog size, each stage in a fresh process, plus an optional
    synthetic catalog (ingest and projection simulated) of `o.synthetic` photos."""
    from common.workspace import bench_folder

    p = s.params
    root = bench_folder(o.workspace, "memory")
    common = {"batch_size": p.project.batch_size, "width": p.model.width, "steps": o.steps,
              "real_shards": o.real_shards}
    counts = [int(size) for size in o.sizes.split(",") if size.strip()]
    with ThreadPoolExecutor(max(1, len(counts))) as pool:  # sizes side by side: each stage is its own process
        futures = {str(n): pool.submit(measure_streaming_memory, n, root / str(n), shard_size=p.runtime.shard_size,
                                       **common) for n in counts}
        runs = {n: f.result() for n, f in futures.items()}
    result: dict = {"peak": "peak RSS (MiB) of each stage in its own fresh process; peak_rss_mb: the largest stage's",
                    "peak_rss_mb": {n: max(r["peak_rss_mib"].values()) for n, r in runs.items()}, "runs": runs}
    if len(runs) > 1:
        smallest, largest = min(runs, key=int), max(runs, key=int)
        growth = {stage: runs[largest]["peak_rss_mib"][stage] / runs[smallest]["peak_rss_mib"][stage]
                  for stage in runs[smallest]["peak_rss_mib"]}
        result |= {"growth_ratio": max(growth.values()), "growth_ratio_per_stage": growth,
                   "images_ratio": int(largest) / int(smallest)}
    if o.synthetic:
        big = measure_streaming_memory(o.synthetic, root / f"synthetic-{o.synthetic}", shard_size=1024,
                                       synthetic=True, **common)
        result["synthetic"] = big | {"peak_rss_mb": max(big["peak_rss_mib"].values())}
    return result


def main(argv: list[str] | None = None) -> None:
    """Subprocess entries: prepare a catalog, simulate transfer, or run one stage (prints one JSON line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare")
    prep.add_argument("n_images", type=int)
    prep.add_argument("distinct", type=int, help="distinct renders (0: render every photo)")
    prep.add_argument("--synthetic", action="store_true")
    sims = [sub.add_parser(f"simulate-{what}") for what in ("project", "edit")]
    for sim in sims:
        sim.add_argument("real_shards", type=int)
    stage = sub.add_parser("stage")
    stage.add_argument("stage", choices=STAGES)
    for p in (prep, *sims, stage):
        p.add_argument("workdir", type=Path)
    a = parser.parse_args(argv)
    if a.command == "prepare" and a.synthetic:
        prepare_synthetic(a.workdir, a.n_images, a.distinct or 8)
    elif a.command == "prepare":
        prepare(a.workdir, a.n_images, a.distinct or None)
    elif a.command == "simulate-project":
        print(simulate_projection(a.workdir, a.real_shards))
    elif a.command == "simulate-edit":
        print(simulate_transfer(a.workdir, a.real_shards))
    else:
        print(json.dumps(run_stage(a.stage, a.workdir)))


if __name__ == "__main__":
    main()
