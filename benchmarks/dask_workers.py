"""Shards per second of `oneedit project --dask-address` on a real Dask deployment with 1, 2, ... workers.

`python -m benchmarks.dask_workers WORKDIR [--workers 1,2] [--photos 64] [--shard-size 4] [--steps 25]`
renders `photos` 48 px demo photos, ingests them and writes untrained tiny models (`TINY_MODEL`) once,
then for each worker count starts `dask scheduler` and `dask worker --nworkers N --nthreads 1` as
processes, projects a fresh copy of the workspace through the CLI and prints one JSON line: wall seconds
and shards per second per worker count (the CLI's start-up, Prefect included, is in the wall time).
`dask_cluster` and `oneedit` are also what tests/flows/test_dask_workers.py starts its processes with.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# tiny untrained models and per-photo work: the measurement is the cluster's, not the models'
TINY_MODEL = ["model.backbone=dcgan", "model.resolution=16", "model.z_dim=16", "model.w_dim=16", "model.width=8",
              "project.batch_size=16", "runtime.device=cpu", "runtime.workers=2"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_session(proc: subprocess.Popen) -> None:
    """Kill `proc`'s whole session (started with start_new_session=True) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


@contextmanager
def dask_cluster(env: dict[str, str], nworkers: int = 2) -> Iterator[str]:
    """A `dask scheduler` and one `dask worker` process running `nworkers` one-thread worker processes;
    yields the scheduler's address. Both are killed (with their children) on exit."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    common = {"env": env, "cwd": REPO, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
              "start_new_session": True}
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                  address.rsplit(":", 1)[1], "--no-dashboard"], **common)
    worker = None
    try:
        worker = subprocess.Popen([str(BIN / "dask"), "worker", address, "--nworkers", str(nworkers), "--nthreads",
                                   "1", "--no-dashboard", "--memory-limit", "0"], **common)
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(nworkers, timeout=120)
        yield address
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                kill_session(proc)


def oneedit(env: dict[str, str], *args: str) -> subprocess.Popen:
    """`oneedit ARGS` of this checkout as a process in its own session (stdout + stderr piped, text)."""
    code = "import sys; from oneedit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _prepare(workdir: Path, photos: int, sets: list[str]) -> Path:
    """Photos, ingest and untrained models: the workspace every worker count projects a copy of."""
    from benchmarks.memory import write_models
    from common.params import load_params
    from common.storage import write_json
    from common.workspace import Workspace
    from edit_core import demo_catalog
    from tasks.images import write_png
    from tasks.ingest import ingest

    params = load_params(None, sets)
    src = workdir / "photos"
    for i, image in enumerate(demo_catalog.render(demo_catalog.sample_attributes(photos, seed=7), 48)):
        write_png(src / f"car-{i:04d}.png", image)
    ws = Workspace.create(workdir / "base")
    ingest(src, ws.ingest, params.model.resolution, params.runtime.shard_size)
    write_json(ws.source, {"source": str(src.resolve())})
    write_models(ws, params)
    return ws.root


def measure(workdir: Path, workers: list[int], photos: int, shard_size: int, steps: int) -> dict:
    """Wall seconds and shards per second of one projection per worker count."""
    from common.workspace import Workspace

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    sets = [*TINY_MODEL, f"runtime.shard_size={shard_size}", f"project.steps={steps}", "runtime.threads=1"]
    base = _prepare(workdir, photos, sets)
    shards = len(Workspace.open(base).ingest_shards())
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    args = [a for s in sets for a in ("--set", s)]
    runs = {}
    for n in workers:
        copy = workdir / f"ws-{n}"
        shutil.copytree(base, copy)
        with dask_cluster(env, n) as address:
            start = time.perf_counter()
            run = oneedit(env, "project", "--workspace", str(copy), "--dask-address", address, *args)
            output, _ = run.communicate()
            wall = time.perf_counter() - start
        if run.returncode:
            raise RuntimeError(f"project with {n} workers failed: {output.strip().splitlines()[-1:]}")
        runs[str(n)] = {"wall_s": round(wall, 1), "shards_per_s": round(shards / wall, 3)}
    return {"photos": photos, "shards": shards, "shard_size": shard_size, "project_steps": steps, "runs": runs,
            "load_avg": os.getloadavg(), "cpu_count": os.cpu_count()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--shard-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=25)
    a = parser.parse_args(argv)
    print(json.dumps(measure(a.workdir, [int(n) for n in a.workers.split(",")], a.photos, a.shard_size, a.steps)))


if __name__ == "__main__":
    main()
