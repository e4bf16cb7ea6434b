"""Crash and resume: SIGKILL `oneedit project` / `oneedit edit` at random points, rerun, lose nothing.

Each kill is a real CLI process (own session, the whole group killed) at a point drawn from a
seeded RNG: 0-1.5 s after the process took the workspace lock, or a moment after the k-th new
file of the run appeared (mid-shard, mid-write). After every kill every output file must open in
full and no finished shard may have been rewritten (same inode and mtime); the run that finally
completes must be byte-identical to an uninterrupted run. ONEEDIT_CRASH_SEED picks another schedule.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from common.params import Params, load_params
from common.storage import read_h5
from common.workspace import Workspace
from edit_core import demo_catalog
from edit_core.alphas import EDITED
from flows.edit import edit_flow
from flows.project import project_flow
from tasks.images import write_png
from tests.catalogs import torch_threads, write_after
from tests.helpers import TINY, cli_args, sha256
from tests.workspaces import Recipe, Workspaces

SETS = ["runtime.shard_size=8"]
N_PHOTOS = 38  # + one wide photo, one broken file: 39 accepted -> 5 shards of <= 8
SEED = int(os.environ.get("ONEEDIT_CRASH_SEED", "6"))
PROJECT_KILLS, EDIT_KILLS = 6, 4
TIMING_COLUMNS = ("t_render", "t_transfer")
OEDIT = Path(sys.executable).parent / "oneedit"


def tiny() -> Params:
    return load_params(TINY, SETS)


def command_line(command: str, ws: Path, *extra: str) -> list[str]:
    return [str(OEDIT), *cli_args(command, *extra, workspace=ws, sets=SETS)]


@dataclass
class Tree:
    """A trained workspace (ingested + models) and the example pair; copied per scenario."""

    root: Path
    ws: Path
    photos: Path
    example: Path
    after: Path
    env: dict[str, str] = field(default_factory=dict)

    def copy(self, name: str) -> Path:
        dest = self.root / name
        shutil.copytree(self.ws, dest)
        return dest

    def edit_args(self, ws: Path) -> list[str]:
        return command_line("edit", ws, "--name", "hue", "--example", str(self.example), "--after", str(self.after))


def write_catalog(root: Path) -> dict:
    """38 cars, one wide photo and one broken file; the pair's after (car-000 with another hue)."""
    photos = root / "photos"
    attrs = demo_catalog.sample_attributes(N_PHOTOS, seed=3)
    images = demo_catalog.render(attrs, 64)
    for i, im in enumerate(images):
        write_png(photos / f"car-{i:03d}.png", im)
    write_png(photos / "wide.png", np.concatenate([images[0], images[1][:, :32]], axis=1))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated")
    write_after(root / "after.png", attrs, 0.6, 64)
    return {"example": photos / "car-000.png", "after": root / "after.png"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, workspaces: Workspaces, prefect_server: str) -> Tree:
    """Catalog -> ingest -> train (the factory's, not under test here); CLI runs share the test server."""
    built = workspaces(Recipe("crash", write_catalog, tuple(SETS)), "trained")
    env = {**os.environ, "PREFECT_API_URL": prefect_server}  # no temporary server per CLI process (~25 s each)
    return Tree(tmp_path_factory.mktemp("crash"), built.workspaces["trained"], built.photos,
                built.catalog["example"], built.catalog["after"], env)


# ------------------------------------------------------------------------------------------------
# what "nothing lost" means, file by file


def unreadable(ws: Path) -> list[str]:
    """Every output file that does not open and read in full (hidden temp files are not outputs)."""
    bad = []
    for path in sorted(ws.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            if path.suffix == ".h5":
                with h5py.File(path, "r") as f:
                    for key in f:
                        f[key][()]
            elif path.suffix == ".png":
                with Image.open(path) as im:
                    im.load()
            elif path.suffix == ".parquet":
                pq.read_table(path)
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".pt":
                torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            bad.append(f"{path.relative_to(ws)}: {type(exc).__name__}: {exc}")
    return bad


def temp_files(ws: Path) -> list[Path]:
    """Hidden temp files (`.NAME.tmp-PID-...`) left by killed writers."""
    return [p for p in ws.rglob(".*.tmp-*") if p.is_file()]


def stamps(paths: list[Path]) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) per file: an atomic rewrite always changes the inode."""
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths if p.exists()}


def hashes(ws: Path, pattern: str) -> dict[str, str]:
    return {str(p.relative_to(ws)): sha256(p) for p in sorted(ws.glob(pattern))}


def finished_transfer(ws: Path) -> list[Path]:
    """Finished transfer shards: their part files and every PNG those parts list as edited."""
    edit = ws / "edits" / "hue"
    files = sorted((edit / "parts").glob("*.parquet"))
    for part in list(files):
        done = pq.read_table(part).to_pandas()
        files += [edit / "images" / f"{i}.png" for i in done.loc[done["status"].isin(EDITED), "id"]]
    return files


def without_timings(path: Path) -> pd.DataFrame:
    df = pq.read_table(path).to_pandas()
    return df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns])


# ------------------------------------------------------------------------------------------------
# running and killing the CLI


@dataclass
class Outcome:
    killed: bool
    returncode: int
    output: str
    work_s: float  # from taking the workspace lock to exit or kill
    point: str


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 300.0) -> bool:
    """Poll `condition` every 2 ms; False when the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return condition()
        time.sleep(0.002)
    raise TimeoutError("condition not reached")


def _holds_lock(ws: Path, pid: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return (ws / ".lock").read_text().strip() == str(pid)
        except OSError:
            return False
    return check


def _entries(directory: Path) -> int:
    return len(list(directory.iterdir())) if directory.is_dir() else 0


def run_cli(args: list[str], ws: Path, env: dict[str, str], kill: Callable[[subprocess.Popen], str] | None = None,
            log: Path | None = None) -> Outcome:
    """Run one CLI command in its own session; `kill` waits for its kill point, then the group is SIGKILLed."""
    log = log or ws.parent / f"{ws.name}.log"
    with open(log, "w+") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            _wait_for(_holds_lock(ws, proc.pid), proc)
            start = time.monotonic()
            point = kill(proc) if kill is not None else "none"
            if kill is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            returncode = proc.wait(timeout=300)
            work = time.monotonic() - start
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.seek(0)
        return Outcome(returncode == -signal.SIGKILL, returncode, out.read(), work, point)


def kill_point(rng: random.Random, watch: Path, remaining: int, settle: float) -> Callable[[subprocess.Popen], str]:
    """A random kill point: 0-1.5 s after the lock (start-up, model loading, direction fit), or 0-`settle` s
    after the k-th new file of this run appears in `watch` (k uniform in 1..remaining: mid-shard, mid-write)."""
    if remaining == 0 or rng.random() < 0.25:
        delay = rng.uniform(0.0, 1.5)

        def after_lock(proc: subprocess.Popen) -> str:
            time.sleep(delay)
            return f"{delay:.2f} s after lock"
        return after_lock
    k, delay = rng.randint(1, remaining), rng.uniform(0.0, settle)

    def after_writes(proc: subprocess.Popen) -> str:
        target = _entries(watch) + k
        _wait_for(lambda: _entries(watch) >= target, proc)
        time.sleep(delay)
        return f"{delay:.3f} s after new file #{k} in {watch.name}/"
    return after_writes


# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(tree: Tree) -> Path:
    """Uninterrupted project + edit, in this process with the CLI's torch threads: the outputs to reproduce."""
    ws = tree.copy("reference")
    p = tiny()
    with torch_threads(p.runtime.threads):
        project_flow(ws, p)
        edit_flow(ws, "hue", {"kind": "pair", "example": str(tree.example), "path": str(tree.after)}, p)
    return ws


@pytest.mark.slow  # 12 CLI processes (~5 s each on an idle 2-core machine, ~18 s under heavy load)
def test_sigkill_during_project_and_transfer_then_rerun(tree: Tree, reference: Path) -> None:
    """>= 10 SIGKILLs at random points; after each, no unreadable output; reruns skip finished shards
    and end byte-identical to the uninterrupted run (results.parquet: every column but the timings)."""
    rng = random.Random(SEED)
    ref = reference
    kills = {"project": 0, "edit": 0}
    runs = 0

    def same_as_reference(ws: Path, patterns: tuple[str, ...]) -> None:
        for pattern in patterns:
            got, want = hashes(ws, pattern), hashes(ref, pattern)
            assert got == want and want, pattern

    def chain(stage: str, ws: Path, args: Callable[[Path], list[str]], wanted: int, watch: Callable[[Path], Path],
              remaining: Callable[[Path], int], settle: float, finished: Callable[[Path], list[Path]],
              outputs: tuple[str, ...]) -> Path:
        """Kill `stage` at random points and rerun until a run completes; start over until `wanted` kills."""
        nonlocal runs
        while True:
            runs += 1
            before = stamps(finished(ws))
            kill = kill_point(rng, watch(ws), remaining(ws), settle) if kills[stage] < wanted else None
            outcome = run_cli(args(ws), ws, tree.env, kill)
            print(f"seed {SEED} {stage} run {runs}: kill {outcome.point} -> "
                  f"{'KILLED' if outcome.killed else f'exit {outcome.returncode}'} "
                  f"({len(before)} finished files before, untouched after)", flush=True)
            assert outcome.killed or outcome.returncode == 0, outcome.output
            assert not unreadable(ws), unreadable(ws)
            assert stamps([Path(p) for p in before]) == before, f"{stage}: the rerun rewrote a finished shard"
            if outcome.killed:
                kills[stage] += 1
                continue
            same_as_reference(ws, outputs)
            if stage == "project":
                skipped = f"({len(before)} of {shards} shards already done)"
                assert skipped in " ".join(outcome.output.split()), outcome.output
            if kills[stage] >= wanted:
                return ws
            ws = shutil.copytree(ws, ws.parent / f"{stage}-{runs}")  # start over: a fresh copy without outputs
            shutil.rmtree(ws / ("latents" if stage == "project" else "edits"))

    shards = len(list((ref / "latents").glob("*.h5")))
    photos = len(list((ref / "edits/hue/images").glob("*.png")))
    ws = chain("project", tree.copy("crashed"), lambda w: command_line("project", w), PROJECT_KILLS,
               lambda w: w / "latents", lambda w: shards - len(list((w / "latents").glob("*.h5"))), 0.25,
               lambda w: sorted((w / "latents").glob("*.h5")), ("latents/*.h5",))
    ws = chain("edit", ws, tree.edit_args, EDIT_KILLS, lambda w: w / "edits/hue/images",
               lambda w: photos - len(list((w / "edits/hue/images").glob("*.png"))), 0.05, finished_transfer,
               ("edits/hue/images/*.png", "edits/hue/example/*.png", "edits/hue/direction.pt", "edits/hue/spec.json"))

    print(f"left-over temp files: {sorted(str(p.relative_to(ws)) for p in temp_files(ws))}")
    assert kills["project"] >= PROJECT_KILLS and kills["edit"] >= EDIT_KILLS
    same_as_reference(ws, ("latents/*.h5",))
    pd.testing.assert_frame_equal(without_timings(ws / "edits/hue/results.parquet"),
                                  without_timings(ref / "edits/hue/results.parquet"), check_exact=True)
    for part in sorted((ref / "edits/hue/parts").glob("*.parquet")):
        pd.testing.assert_frame_equal(without_timings(ws / "edits/hue/parts" / part.name), without_timings(part),
                                      check_exact=True)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_rerun_removes_temp_files_of_killed_writers(tree: Tree) -> None:
    """A rerun after a SIGKILL deletes the dead writer's hidden temp file (DVC would cache it otherwise)."""
    ws = Workspace.open(tree.copy("stale"))
    stale = ws.latents / f".shard-00000.h5.tmp-{_dead_pid()}-0123abcd"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\x89HDF half written")
    summary = project_flow(ws.root, tiny())
    assert summary["skipped"] == 0 and read_h5(ws.latents / "shard-00000.h5", ["w"])["w"].shape[0] == 8
    assert not stale.exists()
