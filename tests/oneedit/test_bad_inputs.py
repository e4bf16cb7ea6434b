"""Bad parameters, bad edit specs, a busy workspace and write errors, through the CLI's `main`.

A bad input fails before any work with exactly one `error: ...` line (no traceback, no progress
bar) and creates no file; a write error mid-run names the file, keeps every earlier output intact
and a rerun finishes the job.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import common.storage
from common.storage import read_h5, read_parquet
from edit_core import demo_catalog
from oneedit.cli import main
from tasks.images import write_png
from tests.catalogs import write_after
from tests.helpers import cli_args, file_stamps, output_lines, sha256
from tests.workspaces import Recipe, Workspaces

SETS = ["runtime.shard_size=8"]
RES = 64  # photo size of the tiny catalog


def write_catalog(root: Path) -> dict:
    """12 cars (2 shards of 8) and the pair's after (car-00 with another hue)."""
    attrs = demo_catalog.sample_attributes(12, seed=7)
    for i, im in enumerate(demo_catalog.render(attrs, RES)):
        write_png(root / "photos" / f"car-{i:02d}.png", im)
    return {"after": write_after(root / "after.png", attrs, 0.7, RES), "example": root / "photos" / "car-00.png"}


@pytest.fixture(scope="module")
def trained(workspaces: Workspaces) -> dict:
    """12 photos in 2 shards, models trained; `projected` is a copy with latents."""
    built = workspaces(Recipe("bad-inputs", write_catalog, tuple(SETS)), "projected")
    return {"root": built.root, **built.workspaces, **built.catalog}


def _copy(trained: dict, which: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained[which], tmp_path / "ws"))


def _args(command: str, ws: Path, *extra: str) -> list[str]:
    return cli_args(command, *extra, workspace=ws, sets=SETS)


def _prefect_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Prefect's ERROR records (what its console handler prints to a terminal, tracebacks included)."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("prefect") and r.levelno >= logging.ERROR]


def fails_cleanly(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture, argv: list[str], ws: Path) -> str:
    """Run the CLI: non-zero exit, one `error:` line and nothing else, no file created or touched."""
    before = file_stamps(ws)
    capfd.readouterr()
    caplog.clear()
    code = main(argv)
    lines = output_lines(capfd)
    assert code != 0, lines
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert _prefect_errors(caplog) == []
    assert file_stamps(ws) == before
    return lines[0]


# ------------------------------------------------------------------------------------------------
# parameters and workspaces


@pytest.mark.parametrize(("override", "expected"), [
    ("project.steps=-1", "project.steps"),
    ("project.batch_size=0", "project.batch_size"),
    ("edit.strength=nan", "edit.strength"),
    ("edit.strength=inf", "edit.strength"),
    ("project.stepz=3", "unknown key"),
    ("runtime.shard_size=abc", "runtime.shard_size"),
    ("project=3", "expected section.key=value"),
])
def test_bad_parameter_is_one_line(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture, trained: dict,
                                   tmp_path: Path, override: str, expected: str) -> None:
    ws = _copy(trained, "trained", tmp_path)
    line = fails_cleanly(capfd, caplog, _args("project", ws, "--set", override), ws)
    assert expected in line


def test_older_workspace_format_is_refused(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                           trained: dict, tmp_path: Path) -> None:
    ws = _copy(trained, "trained", tmp_path)
    meta = json.loads((ws / "workspace.json").read_text())
    (ws / "workspace.json").write_text(json.dumps({**meta, "format_version": 0}))
    assert "format version 0" in fails_cleanly(capfd, caplog, _args("project", ws), ws)


def test_missing_workspace_is_refused_and_not_created(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                                       tmp_path: Path) -> None:
    ws = tmp_path / "nowhere"
    assert "not a OneEdit workspace" in fails_cleanly(capfd, caplog, _args("project", ws), ws)
    assert not ws.exists()


def test_second_run_on_a_busy_workspace_refuses(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                                 trained: dict, tmp_path: Path) -> None:
    """Another process holds the lock: `project` refuses at once, naming it, and writes nothing."""
    ws = _copy(trained, "trained", tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from common.lock import workspace_lock\n"
         f"with workspace_lock({str(ws)!r}):\n print('held', flush=True); time.sleep(120)"],
        cwd=Path(__file__).parents[2], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        line = fails_cleanly(capfd, caplog, _args("project", ws), ws)
        assert f"in use by pid {holder.pid}" in line
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------------------------------------
# edit specs


def _unknown_id(trained: dict) -> list[str]:
    return ["--example", "0123456789abcdef", "--after", str(trained["root"] / "after.png")]


def _pair_of_other_size(trained: dict) -> list[str]:
    path = trained["root"] / "after-wide.png"
    write_png(path, np.concatenate([trained["after"], trained["after"][:, : RES // 2]], axis=1))
    return ["--example", str(trained["example"]), "--after", str(path)]


def _mask_of_other_size(trained: dict) -> list[str]:
    root = trained["root"]
    write_png(root / "mask-small.png", np.full((RES // 2, RES // 2, 3), 255, np.uint8))
    (root / "brush.json").write_text(json.dumps({"color": {"mask": "mask-small.png", "rgb": [255, 0, 0]}}))
    return ["--example", str(trained["example"]), "--constraints", str(root / "brush.json")]


def _other_backbone(trained: dict) -> list[str]:
    return ["--example", str(trained["example"]), "--after", str(trained["root"] / "after.png"),
            "--set", "model.backbone=style"]


def _other_resolution(trained: dict) -> list[str]:
    return ["--example", str(trained["example"]), "--after", str(trained["root"] / "after.png"),
            "--set", "model.resolution=32"]


@pytest.mark.parametrize(("spec", "expected"), [
    (_unknown_id, "0123456789abcdef"),
    (_pair_of_other_size, "size"),
    (_mask_of_other_size, "size"),
    (_other_backbone, "backbone"),
    (_other_resolution, "resolution"),
])
def test_bad_edit_spec_is_one_line_before_any_work(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                                   trained: dict, tmp_path: Path, spec, expected: str) -> None:
    ws = _copy(trained, "projected", tmp_path)
    line = fails_cleanly(capfd, caplog, _args("edit", ws, "--name", "bad", *spec(trained)), ws)
    assert expected in line


@pytest.mark.parametrize("override", ["model.backbone=style", "model.resolution=32"])
def test_project_refuses_a_checkpoint_of_another_model(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                                       trained: dict, tmp_path: Path, override: str) -> None:
    ws = _copy(trained, "trained", tmp_path)
    line = fails_cleanly(capfd, caplog, _args("project", ws, "--set", override), ws)
    assert override.split("=")[0].split(".")[1] in line


# ------------------------------------------------------------------------------------------------
# write errors mid-run


def _disk_full_on(monkeypatch: pytest.MonkeyPatch, victim: str) -> None:
    """os.replace (the commit of every atomic write) fails with ENOSPC for files named `victim`."""
    real = os.replace

    def replace(src: os.PathLike, dst: os.PathLike) -> None:
        if Path(dst).name == victim:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(src, dst)

    monkeypatch.setattr(common.storage.os, "replace", replace)


def _no_temp_files(ws: Path) -> bool:
    return not [p for p in ws.rglob(".*.tmp-*")]


def test_disk_full_during_projection(capfd: pytest.CaptureFixture, trained: dict, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC on the 2nd latents shard: one clear error, shard 1 and every input intact, a rerun completes."""
    ws = _copy(trained, "trained", tmp_path)
    inputs = {p: sha256(p) for p in sorted(ws.rglob("*")) if p.is_file() and p.name != ".lock"}
    _disk_full_on(monkeypatch, "shard-00001.h5")
    capfd.readouterr()
    assert main(_args("project", ws)) == 1  # not a bad argument: exit 1
    lines = output_lines(capfd)
    assert lines[-1] == f"error: cannot write {ws / 'latents' / 'shard-00001.h5'}: No space left on device", lines
    assert {p: sha256(p) for p in inputs} == inputs
    assert read_h5(ws / "latents/shard-00000.h5")["w"].shape[0] == 8
    assert not (ws / "latents/shard-00001.h5").exists() and _no_temp_files(ws)
    monkeypatch.undo()
    stamp = (ws / "latents/shard-00000.h5").stat().st_ino
    assert main(_args("project", ws)) == 0
    assert "(1 of 2 shards already done)" in " ".join(" ".join(output_lines(capfd)).split())
    assert (ws / "latents/shard-00000.h5").stat().st_ino == stamp


def test_disk_full_during_transfer(capfd: pytest.CaptureFixture, trained: dict, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC on one edited photo: one clear error naming it, latents untouched, no partial PNG, a rerun completes."""
    ws = _copy(trained, "projected", tmp_path)
    latents = {p: sha256(p) for p in sorted((ws / "latents").glob("*.h5"))}
    victim = read_parquet(ws / "ingest/manifest.parquet")["id"].iloc[9] + ".png"
    _disk_full_on(monkeypatch, victim)
    argv = _args("edit", ws, "--name", "hue", "--example", str(trained["example"]),
                 "--after", str(trained["root"] / "after.png"))
    capfd.readouterr()
    assert main(argv) == 1
    lines = output_lines(capfd)
    assert lines[-1] == f"error: cannot write {ws / 'edits/hue/images' / victim}: No space left on device", lines
    assert {p: sha256(p) for p in latents} == latents
    assert not (ws / "edits/hue/images" / victim).exists() and _no_temp_files(ws)
    assert not (ws / "edits/hue/results.parquet").exists()
    monkeypatch.undo()
    assert main(argv) == 0
    results = read_parquet(ws / "edits/hue/results.parquet")
    assert len(results) == 12 and (results["status"] != "rejected").all()
    assert (ws / "edits/hue/images" / victim).is_file()


def test_write_error_inside_a_flow_prints_no_traceback(trained: dict, tmp_path: Path, prefect_server: str) -> None:
    """A real CLI process hitting ENOSPC inside the flow: exit 1, output ends with the one error line, no traceback."""
    ws = _copy(trained, "trained", tmp_path)
    code = ("import errno, os, sys\n"
            "real = os.replace\n"
            "def replace(src, dst):\n"
            "    if os.path.basename(dst) == 'shard-00000.h5':\n"
            "        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
            "    real(src, dst)\n"
            "os.replace = replace\n"
            "from oneedit.cli import main\n"
            f"sys.exit(main({_args('project', ws)!r}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], capture_output=True, text=True,
                          env={**os.environ, "PREFECT_API_URL": prefect_server}, timeout=600)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1, lines
    assert lines[-1] == f"error: cannot write {ws / 'latents' / 'shard-00000.h5'}: No space left on device", lines
    assert not [line for line in lines if "Traceback" in line or "ERROR" in line], lines
    assert not (ws / "latents" / "shard-00000.h5").exists() and _no_temp_files(ws)
