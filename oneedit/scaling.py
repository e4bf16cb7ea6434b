"""Memory bounded by streaming shards: peak RSS of ingest + projection for catalogs of growing size.

`measure_streaming_memory(n, workdir)` runs, in a fresh subprocess (a clean RSS), the demo catalog
rendered at 64 px in chunks and written as PNGs, `ingest` (one shard of thumbnails in memory at a
time) and the projection of every shard (one shard at a time), sampling the process RSS every
20 ms per phase. If the pipeline streams, the peak does not grow with the catalog (only the
per-photo metadata does: manifest rows, file list, ~1 KB per photo).

Projection uses mode `encoder` (E(x), no optimisation steps) and HOG features for the reported
feature error, with untrained 64 px models: memory depends on shard and batch sizes, not on the
weights or on the optimisation budget, and 100k optimised projections would take hours on 2 CPU cores. `distinct` renders only that many different
cars and stamps each photo's index into its first pixels, so every file is still unique for ingest
(rendering 100k cars takes ~5 min on a busy 2-core machine; PNG writing stays per photo).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

RESOLUTION = 64


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


def write_catalog(folder: Path, n: int, distinct: int | None, chunk: int = 1000, seed: int = 0) -> None:
    """`n` unique 64 px demo photos as PNGs in folders of `chunk`; at most `chunk` images in memory."""
    import cv2
    import numpy as np

    from edit_core.demo_catalog import render, sample_attributes

    pool = render(sample_attributes(distinct, seed), RESOLUTION) if distinct else None
    for start in range(0, n, chunk):
        count = min(chunk, n - start)
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


def run(n_images: int, workdir: Path, shard_size: int, batch_size: int, distinct: int | None, width: int) -> dict:
    """The measured pipeline (call in a fresh process): render -> ingest -> project, shard by shard."""
    sampler = RssSampler()
    import torch

    from common.params import load_params
    from common.workspace import Workspace
    from tasks.ingest import ingest_photos
    from tasks.project import project_shard

    torch.set_num_threads(1)
    params = load_params(None, [f"model.resolution={RESOLUTION}", "project.mode=encoder", "project.features=hog",
                                "runtime.device=cpu", f"runtime.shard_size={shard_size}",
                                f"project.batch_size={batch_size}", f"model.width={width}"])
    photos, ws = workdir / "photos", Workspace.create(workdir / "ws")
    seconds: dict[str, float] = {}
    with sampler.phase("imports"):
        write_models(ws, params)
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its one-time import of torch._dynamo (~250 MB)
    after_shard: list[float] = []  # RSS after each projected shard: flat if nothing accumulates

    def project_all() -> None:
        for shard in ws.ingest_shards():
            project_shard.fn(ws, shard, params)
            after_shard.append(round(sampler.rss_mib(), 1))

    for name, step in (("render", lambda: write_catalog(photos, n_images, distinct)),
                       ("ingest", lambda: ingest_photos.fn(photos, ws, params)),
                       ("project", project_all)):
        start = time.perf_counter()
        with sampler.phase(name):
            step()
        seconds[name] = round(time.perf_counter() - start, 2)
    sampler.stop()
    peaks = {k: round(v, 1) for k, v in sampler.peaks.items() if k in seconds or k == "imports"}
    return {"n_images": n_images, "shards": len(ws.ingest_shards()), "shard_size": shard_size,
            "project_mode": "encoder", "project_features": "hog", "resolution": RESOLUTION,
            "model_width": width, "peak_rss_mib": peaks,
            "rss_after_shard_mib": after_shard[:: max(1, len(after_shard) // 20)] + after_shard[-1:],
            "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "seconds": seconds}


def measure_streaming_memory(n_images: int, workdir: Path | str, shard_size: int = 256, batch_size: int = 64,
                             distinct: int | None = 1000, width: int = 32, timeout_s: float | None = None) -> dict:
    """Peak RSS per phase (MiB) of rendering, ingesting and projecting `n_images` photos in a fresh process.

    `workdir` receives photos/ and ws/ (and keeps them); `width` is the models' base channel width
    (params model.width); the numbers come back as a dict.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "oneedit.scaling", str(n_images), str(workdir), "--shard-size", str(shard_size),
               "--batch-size", str(batch_size), "--distinct", str(distinct or 0), "--width", str(width)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=timeout_s, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Subprocess entry: print the measurement of one catalog size as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_images", type=int)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--distinct", type=int, default=1000, help="distinct renders (0: render every photo)")
    parser.add_argument("--width", type=int, default=32, help="model base channel width")
    a = parser.parse_args(argv)
    print(json.dumps(run(a.n_images, a.workdir, a.shard_size, a.batch_size, a.distinct or None, a.width)))


if __name__ == "__main__":
    main()
