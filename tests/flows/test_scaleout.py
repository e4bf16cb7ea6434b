"""Beyond one machine: Dask runs match threaded runs, incremental updates recompute nothing done,
the retraining flow fine-tunes, re-projects, re-fits every saved edit and commits with DVC.

One tiny workspace (threads) is built once; the tests below run in file order and the later ones grow
it, which is what the earlier ones' comparisons tolerate (every output stays consistent).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from distributed import Client

from benchmarks.memory import write_catalog
from common.params import Params, load_params
from common.storage import read_h5, read_json, read_parquet, sha256_file
from common.workspace import Workspace
from edit_core import demo_catalog
from edit_core.checkpoint import load_checkpoint
from flows.edit import edit_flow
from flows.project import project_flow
from flows.rescale import rescale_flow
from flows.retrain import retrain_flow, update_flow
from flows.runners import on_runner, shared_cluster
from flows.train import ingest_flow, train_flow
from tasks.images import write_png
from tests.catalogs import torch_threads, write_after
from tests.helpers import TINY

FIRST = 20  # photos of the first run: shards of 16 + 4 (tiny params)


def tiny(*overrides: str) -> Params:
    """E's tiny end-to-end params, 2-step training (only the plumbing is under test), 2 torch threads
    (not Dask's default of 1, so the workers' setting is checked)."""
    return load_params(TINY, ["gan.steps=2", "encoder.steps=2", "runtime.threads=2", *overrides])


def add_photos(src: Path, start: int, n: int) -> list[str]:
    """Render catalog photos car-START..car-(START+n-1) (48 px) into `src`; returns their file names."""
    attrs = demo_catalog.sample_attributes(n, seed=1000 + start)
    names = []
    for i, image in enumerate(demo_catalog.render(attrs, 48), start):
        write_png(src / f"car-{i:03d}.png", image)
        names.append(f"car-{i:03d}.png")
    return names


def stamps(folder: Path, pattern: str) -> dict[str, tuple[int, int]]:
    """name -> (inode, mtime_ns): any rewrite (os.replace of a new file) changes the inode."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.glob(pattern))}


@pytest.fixture(scope="module")
def threads_once() -> Iterator[None]:
    """Torch threads of this process = runtime.threads, as the CLI and the Dask workers set them."""
    with torch_threads(tiny().runtime.threads):
        yield


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, threads_once: None) -> dict:
    """A DVC repository holding photos/ and a workspace with one pair edit `hue`, all run on threads."""
    root = tmp_path_factory.mktemp("scaleout")
    subprocess.run([str(Path(sys.executable).with_name("dvc")), "init", "--no-scm", "--quiet"], cwd=root, check=True)
    src = root / "photos"
    src.mkdir()
    add_photos(src, 0, FIRST)
    after = root / "after.png"
    write_after(after, demo_catalog.sample_attributes(1, seed=1000), 0.6, 48)
    p = tiny()
    ws = Workspace.create(root / "ws")
    on_runner(ingest_flow, p.runtime)(src, ws.root, p)
    on_runner(train_flow, p.runtime)(ws.root, p)
    on_runner(project_flow, p.runtime)(ws.root, p)
    form = {"kind": "pair", "example": str(src / "car-000.png"), "path": str(after)}
    on_runner(edit_flow, p.runtime)(ws.root, "hue", form, p)
    return {"root": root, "src": src, "ws": ws, "params": p}


@pytest.fixture(scope="module")
def dask_params() -> Iterator[Params]:
    """Tiny params on one LocalCluster of 2 worker processes that offer the GPU resource."""
    with shared_cluster(tiny("runtime.task_runner=dask", "runtime.workers=2", "runtime.gpu_resource=true")) as p:
        yield p


def test_local_cluster_workers_are_processes_with_set_torch_threads(dask_params: Params) -> None:
    with Client(dask_params.runtime.dask_address) as client:
        info = client.scheduler_info()["workers"]
        threads = client.run(torch.get_num_threads)
    assert len(info) == 2 and all(w["resources"] == {"GPU": 1} and w["nthreads"] == 1 for w in info.values())
    assert set(threads.values()) == {dask_params.runtime.threads}


def test_dask_run_matches_threaded_run(base: dict, dask_params: Params, tmp_path: Path) -> None:
    """Projection and transfer on 2 Dask worker processes give byte-identical latents and photos."""
    ws: Workspace = base["ws"]
    copy = Workspace(tmp_path / "ws")
    (copy.root / "edits" / "hue").mkdir(parents=True)
    for part in ("workspace.json", "ingest", "models", "edits/hue/spec.json", "edits/hue/direction.pt"):
        (shutil.copytree if (ws.root / part).is_dir() else shutil.copy2)(ws.root / part, copy.root / part)
    projected = on_runner(project_flow, dask_params.runtime)(copy.root, dask_params)
    summary = on_runner(rescale_flow, dask_params.runtime)(copy.root, "hue", dask_params)
    assert projected["skipped"] == 0 and projected["shards"] == len(ws.ingest_shards())
    for shard in ws.ingest_shards():
        assert sha256_file(copy.latent_shard(shard)) == sha256_file(ws.latent_shard(shard))
    threaded = sorted(ws.edit("hue").images.glob("*.png"))
    assert [p.name for p in threaded] == sorted(p.name for p in copy.edit("hue").images.glob("*.png"))
    assert all(sha256_file(p) == sha256_file(copy.edit("hue").images / p.name) for p in threaded)
    timing = ["t_render", "t_transfer"]
    assert read_parquet(copy.edit("hue").results).drop(columns=timing).equals(
        read_parquet(ws.edit("hue").results).drop(columns=timing))
    assert summary["images"] == len(read_parquet(ws.manifest))


def test_update_touches_only_new_photos(base: dict) -> None:
    """New photos are ingested, projected and edited alone; no finished shard or photo is rewritten."""
    ws: Workspace = base["ws"]
    images = ws.edit("hue").images
    before = {"ingest": stamps(ws.ingest, "shard-*.h5"), "latents": stamps(ws.latents, "*.h5"),
              "parts": stamps(ws.edit("hue").parts, "*.parquet"), "images": stamps(images, "*.png")}
    new = add_photos(base["src"], FIRST, 6)
    summary = update_flow(ws.root, base["src"], base["params"])
    assert summary["ingest"]["new"] == 6 and summary["ingest"]["reused"] == FIRST
    assert summary["project"]["skipped"] == len(before["latents"]) == summary["project"]["shards"] - 1
    for kind, folder, pattern in (("ingest", ws.ingest, "shard-*.h5"), ("latents", ws.latents, "*.h5"),
                                  ("parts", ws.edit("hue").parts, "*.parquet"), ("images", images, "*.png")):
        now = stamps(folder, pattern)
        assert {k: now[k] for k in before[kind]} == before[kind], f"{kind} rewritten"
        assert len(now) > len(before[kind]), f"no new {kind}"
    manifest = read_parquet(ws.manifest).set_index("source_path")
    assert all((images / f"{manifest.loc[name, 'id']}.png").exists() for name in new)
    assert read_parquet(ws.edit("hue").results)["id"].nunique() == FIRST + 6


def test_retrain_finetunes_reprojects_refits_and_commits(base: dict) -> None:
    ws: Workspace = base["ws"]
    p: Params = base["params"]
    step = {m: load_checkpoint(path)["step"] for m, path in (("gan", ws.gan), ("encoder", ws.encoder))}
    gan_before = sha256_file(ws.gan)
    add_photos(base["src"], FIRST + 6, 4)
    summary = retrain_flow(ws.root, base["src"], p, mode="finetune", steps=3, dvc=True)
    assert summary["ingest"]["new"] == 4
    assert {m: load_checkpoint(path)["step"] for m, path in (("gan", ws.gan), ("encoder", ws.encoder))} == {
        m: s + 3 for m, s in step.items()}
    assert summary["project"]["skipped"] == 0  # a new generator: every photo projected again
    direction = torch.load(ws.edit("hue").direction, weights_only=True)
    assert direction["gan_sha256"] == sha256_file(ws.gan) != gan_before
    results = read_parquet(ws.edit("hue").results)
    assert results["id"].nunique() == FIRST + 10 and summary["edits"]["hue"]["images"] == FIRST + 10
    assert read_json(ws.edit("hue").spec)["input_sha256"] == sha256_file(base["root"] / "after.png")
    assert summary["dvc"] == "dvc add --quiet ws" and (base["root"] / "ws.dvc").is_file()
    for shard in ws.ingest_shards():
        assert read_h5(ws.latent_shard(shard), ["ids"])["ids"].shape[0] > 0
    import tasks.train

    rerun = tasks.train.train_catalog_gan.fn(ws, p)  # the fine-tuned model counts as current for `oneedit train`
    assert rerun == read_json(ws.models / "gan.json") and sha256_file(ws.gan) == direction["gan_sha256"]


def test_memory_benchmark_catalog_is_unique_files(tmp_path: Path) -> None:
    """The benchmark reuses `distinct` renders, yet every photo file differs (ingest sees no duplicates)."""
    write_catalog(tmp_path, 30, distinct=4, chunk=8)
    files = sorted(tmp_path.rglob("*.png"))
    assert len(files) == 30 and len({sha256_file(f) for f in files}) == 30 and len(list(tmp_path.iterdir())) == 4
