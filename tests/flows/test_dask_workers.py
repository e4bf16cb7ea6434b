"""A real Dask deployment on this machine: `dask scheduler` + `dask worker --nworkers 2 --nthreads 1`
started as processes, `oneedit project` and `oneedit edit` run with --dask-address (CLI processes),
byte-identical to the threaded run, and a worker killed in the middle of the projection.

Processes are started in their own sessions and always killed (process group) at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from benchmarks.dask_workers import REPO, dask_cluster, kill_session, oneedit
from common.params import Params
from common.storage import read_parquet, sha256_file
from common.workspace import Workspace
from edit_core import demo_catalog
from flows.edit import edit_flow
from flows.project import project_flow
from flows.runners import on_runner
from flows.train import ingest_flow, train_flow
from tests.catalogs import torch_threads, write_after
from tests.flows.test_scaleout import add_photos, stamps, tiny
from tests.helpers import TINY

pytestmark = pytest.mark.slow  # infrastructure: a real dask scheduler + worker processes and CLI runs (CI's `make test` runs it)

PHOTOS = 16
# 4 shards, each long enough to be caught mid-run; one torch thread: a `dask worker` process starts
# torch with one thread whatever OMP_NUM_THREADS says, and identical bytes need identical thread counts
SETS = ["runtime.shard_size=4", "project.steps=25", "runtime.threads=1"]
TIMING = ["t_render", "t_transfer"]


def _env(prefect_server: str) -> dict[str, str]:
    """Workers and CLI runs import this checkout and report to the session's Prefect server."""
    return {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_API_URL": prefect_server, "OMP_NUM_THREADS": "1"}


def worker_pids(address: str) -> list[int]:
    """Pids of the worker processes (the ones that run tasks) registered with the scheduler."""
    from distributed import Client

    with Client(address, timeout="30s") as client:
        return sorted(client.run(os.getpid).values())


def _sets() -> list[str]:
    overrides = ["gan.steps=2", "encoder.steps=2", *SETS]
    return ["--params", str(TINY), *(a for s in overrides for a in ("--set", s))]


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Photos, trained tiny models and the threaded reference run (project + pair edit `hue`)."""
    root = tmp_path_factory.mktemp("dask-workers")
    src = root / "photos"
    src.mkdir()
    add_photos(src, 0, PHOTOS)
    after = root / "after.png"
    write_after(after, demo_catalog.sample_attributes(1, seed=1000), 0.6, 48)
    p: Params = tiny(*SETS)
    with torch_threads(p.runtime.threads):
        ws = Workspace.create(root / "ws")
        on_runner(ingest_flow, p.runtime)(src, ws.root, p)
        on_runner(train_flow, p.runtime)(ws.root, p)
        models = root / "models-only"
        shutil.copytree(ws.root, models)
        on_runner(project_flow, p.runtime)(ws.root, p)
        form = {"kind": "pair", "example": str(src / "car-000.png"), "path": str(after)}
        on_runner(edit_flow, p.runtime)(ws.root, "hue", form, p)
    return {"root": root, "src": src, "after": after, "ws": ws, "models": models}


def _assert_same_outputs(ws: Workspace, ref: Workspace) -> None:
    for shard in ref.ingest_shards():
        assert sha256_file(ws.latent_shard(shard)) == sha256_file(ref.latent_shard(shard)), shard.name
    assert sha256_file(ws.edit("hue").direction) == sha256_file(ref.edit("hue").direction)
    images = sorted(p.name for p in ref.edit("hue").images.glob("*.png"))
    assert images and images == sorted(p.name for p in ws.edit("hue").images.glob("*.png"))
    assert all(sha256_file(ws.edit("hue").images / i) == sha256_file(ref.edit("hue").images / i) for i in images)
    assert read_parquet(ws.edit("hue").results).drop(columns=TIMING).equals(
        read_parquet(ref.edit("hue").results).drop(columns=TIMING))


def test_two_worker_processes_match_threads_and_survive_a_killed_worker(threaded: dict, prefect_server: str,
                                                                        tmp_path: Path) -> None:
    env = _env(prefect_server)
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(threaded["models"], ws.root)
    ref: Workspace = threaded["ws"]
    shards = len(ref.ingest_shards())
    with dask_cluster(env) as address:
        run = oneedit(env, "project", "--workspace", str(ws.root), "--dask-address", address, *_sets())
        try:
            deadline = time.monotonic() + 120
            while not list(ws.latents.glob("shard-*.h5")) and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            finished = stamps(ws.latents, "shard-*.h5")
            assert 0 < len(finished) < shards, "the projection was not caught mid-run"
            os.kill(worker_pids(address)[0], signal.SIGKILL)
            output, _ = run.communicate(timeout=180)
        finally:
            kill_session(run)
        if run.returncode:  # the run may fail on the lost worker: one line, then the rerun resumes
            lines = [line for line in output.splitlines() if line.startswith("error:")]
            assert len(lines) == 1, output
            rerun = oneedit(env, "project", "--workspace", str(ws.root), "--dask-address", address, *_sets())
            output, _ = rerun.communicate(timeout=180)
            assert rerun.returncode == 0, output
        assert run.returncode == 0 or "already done" in output
        now = stamps(ws.latents, "shard-*.h5")
        assert {k: now[k] for k in finished} == finished, "a finished shard was projected again"
        assert len(now) == shards

        edit = oneedit(env, "edit", "--workspace", str(ws.root), "--name", "hue", "--example",
                        str(threaded["src"] / "car-000.png"), "--after", str(threaded["after"]),
                        "--dask-address", address, *_sets())
        try:
            output, _ = edit.communicate(timeout=240)
        finally:
            kill_session(edit)
        assert edit.returncode == 0, output
    _assert_same_outputs(ws, ref)
