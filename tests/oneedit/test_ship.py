"""Issue 27 through the CLI on the tiny projected workspace (tests/oneedit/tiny.py): what a catalog
team needs to ship an edit's results (file names for the example, a preview that says what Apply will
do, versions, review and re-runs of the photos that need it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from common.storage import read_json
from oneedit.cli import main
from tests.oneedit.tiny import args


@pytest.fixture
def ws(tiny: dict, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny["ws"], tmp_path / "ws"))


@pytest.fixture
def ws_edited(edited: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(edited, tmp_path / "ws"))


def test_example_by_catalog_file_name_and_a_preview_that_says_what_apply_would_do(
        capfd: pytest.CaptureFixture, tiny: dict, ws: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # "car-00.png" is a catalog file name here, not a path
    argv = args("edit", ws, "--name", "e1", "--example", "car-00.png", "--after", str(tiny["after"]),
                "--only", "magenta.png,car-01.png")
    assert main(argv) == 0, capfd.readouterr()
    out = capfd.readouterr().out
    assert "applying it would leave 13 edited, 2 skipped" in out
    assert "  magenta.png: alpha" in out and " skipped (out of range, not edited (guard.action=skip): projection " \
        "error" in out and "-> not edited" in out
    preview = read_json(ws / "edits/e1/preview/preview.json")
    rows = {r["file"]: r for r in preview["sample"]}
    assert rows["magenta.png"]["status"] == "skipped" and "after" not in rows["magenta.png"]
    assert rows["car-01.png"]["status"] == "edited" and rows["car-01.png"]["after"]
    assert main(argv[:-2]) == 0  # the edit itself, its example given by file name
    assert json.loads((ws / "edits/e1/spec.json").read_text())["example_id"] == tiny["ids"]["car-00.png"]


def test_edits_are_versions_with_diff_restore_and_delete(capfd: pytest.CaptureFixture, ws_edited: Path,
                                                         tmp_path: Path) -> None:
    def run(*argv: str) -> str:
        capfd.readouterr()
        assert main([*argv[:1], *(["--workspace", str(ws_edited)] if argv[0] in ("versions", "restore", "delete",
                                                                                "list") else []), *argv[1:]]) == 0
        return capfd.readouterr().out

    edit = ws_edited / "edits" / "e1"
    first = {p.name: p.read_bytes() for p in (edit / "images").glob("*.png")}
    assert main(args("rescale", ws_edited, "--name", "e1", "--strength", "2")) == 0  # re-applied: v1 kept
    assert "1 earlier version(s)" in run("list")
    assert "strength: 1.0 -> 2.0" in run("versions", "e1", "--diff", "1", "current")
    np_offset = tmp_path / "offset.npy"
    import numpy as np

    np.save(np_offset, np.full(16, 0.05, np.float32))
    assert main(args("edit", ws_edited, "--name", "e1", "--example", "car-01.png", "--offset", str(np_offset),
                     "--replace")) == 0  # another edit under the name: v2 kept
    listed = run("versions", "e1").splitlines()
    assert [line.split()[0] for line in listed] == ["1", "2", "current"], listed
    assert "re-applied at strength 2" in listed[0] and "replaced by another edit" in listed[1]
    assert "offset" in listed[2] and "pair" in listed[0]
    assert "is version 1 again; the edit it replaced is version 3" in run("restore", "e1", "1")
    assert {p.name: p.read_bytes() for p in (edit / "images").glob("*.png")} == first
    assert read_json(edit / "spec.json")["kind"] == "pair"
    assert "kept as version 4" in run("delete", "e1")
    assert not edit.exists() and "no edits in" in run("list") and "deleted; 4 version(s) kept" in run("list")
    run("restore", "e1", "4")
    assert read_json(edit / "spec.json")["kind"] == "pair"
    run("delete", "e1", "--version", "2")
    assert [line.split()[0] for line in run("versions", "e1").splitlines()] == ["1", "3", "4", "current"]


def test_rerun_only_the_rejected_photos_into_the_results(capfd: pytest.CaptureFixture, tiny: dict,
                                                         ws_edited: Path) -> None:
    import numpy as np

    from common.storage import read_parquet

    edit = ws_edited / "edits" / "e1"
    images = {p.name: p.read_bytes() for p in (edit / "images").glob("*.png")}
    before = read_parquet(edit / "results.parquet").set_index("source_path")
    assert main(["review", "e1", "--workspace", str(ws_edited), "--reject", "car-01.png,car-02.png",
                 "--accept", "car-03.png"]) == 0
    capfd.readouterr()
    assert main(args("rescale", ws_edited, "--name", "e1", "--only", "rejected", "--strength", "2")) == 0
    assert "re-ran 2 photo(s) of 'e1' at strength 2: 2 edited" in capfd.readouterr().out
    after = read_parquet(edit / "results.parquet").set_index("source_path")
    rerun = ["car-01.png", "car-02.png"]
    assert (after.loc[rerun, "strength"] == 2).all() and (after.drop(index=rerun)["strength"] == 1).all()
    assert (after.loc[rerun, "alpha"] != before.loc[rerun, "alpha"]).all()
    kept = after.drop(index=rerun)
    np.testing.assert_array_equal(kept["alpha"], before.drop(index=rerun)["alpha"])
    assert list(kept["status"]) == list(before.drop(index=rerun)["status"])
    changed = {p.name for p in (edit / "images").glob("*.png") if p.read_bytes() != images.get(p.name)}
    assert changed == {f"{tiny['ids'][f]}.png" for f in rerun}  # only theirs were made again
    decisions = read_json(edit / "review.json")["decisions"]
    assert decisions == {tiny["ids"]["car-03.png"]: "accepted"}  # the re-run photos are to review again
    assert "before 2 photo(s) re-run at strength 2" in (ws_edited / "edits/.versions/e1/1/version.json").read_text()
    assert main(args("report", ws_edited, "--name", "e1")) == 0
    short = int((read_parquet(edit / "results.parquet")["final_state"] == "short").sum())
    capfd.readouterr()
    assert main(args("rescale", ws_edited, "--name", "e1", "--only", "short")) == 0  # the verdict's short ones
    assert f"re-ran {short} photo(s) of 'e1' at strength 1" in capfd.readouterr().out
    assert main(args("edit", ws_edited, "--name", "e1", "--example", str(tiny["example"]), "--after",
                     str(tiny["after"]), "--only", "rejected")) == 2  # none left: they were re-run
    assert "no photo of edit 'e1' is rejected" in capfd.readouterr().err
    assert main(args("rescale", ws_edited, "--name", "e1")) == 0  # a full run: one strength again, mix kept
    assert "strength" not in read_parquet(edit / "results.parquet").columns
    assert "photos re-run at their own strengths" in (ws_edited / "edits/.versions/e1/3/version.json").read_text()


def _files(ws: Path) -> dict[str, int]:
    return {str(p.relative_to(ws)): p.stat().st_mtime_ns for p in ws.rglob("*") if p.is_file() and p.name != ".lock"}


def test_params_that_do_not_fit_the_workspace_are_refused_before_any_work(capfd: pytest.CaptureFixture, tiny: dict,
                                                                          ws: Path) -> None:
    """edit.direction.layers on W latents was refused after the example edit's work (2 min 52 s on the
    issue's workspace); a resolution other than the catalog's failed minutes into training."""
    before = _files(ws)
    for argv, expected in (
            (args("edit", ws, "--name", "e1", "--example", str(tiny["example"]), "--after", str(tiny["after"]),
                  "--set", "edit.direction.layers=[0, 1]"), "edit.direction.layers needs W+ latents"),
            (args("train", ws, "--set", "model.resolution=32"), "ingested at 16 px, params model.resolution=32")):
        capfd.readouterr()
        assert main(argv) == 2
        err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert _files(ws) == before  # nothing written, nothing started


def test_ingest_takes_the_imported_generators_resolution(capfd: pytest.CaptureFixture, tiny: dict,
                                                         tmp_path: Path) -> None:
    """After import-generator, `ingest` without --set model.resolution used params' (64), and train failed
    two minutes in with a matrix-shape error: the workspace's generator now decides, or a typed one must match."""
    import pyarrow.parquet as pq

    from common.storage import write_json

    ws = tmp_path / "ws"
    write_json(ws / "models" / "gan.json", {"fingerprint": "imported:x", "imported": {"resolution": 32}})
    write_json(ws / "workspace.json", {"format": "oneedit-workspace", "format_version": 1})
    capfd.readouterr()
    assert main(args("ingest", ws, str(tiny["photos"]), "--set", "model.resolution=16")) == 2  # typed: must match
    assert "imported, 32 px) does not match params model.resolution=16" in capfd.readouterr().err
    assert main(args("ingest", ws, str(tiny["photos"]))) == 0  # tiny_params.yaml says 16: the generator's 32 wins
    assert pq.read_schema(ws / "ingest" / "manifest.parquet").metadata[b"oneedit.resolution"] == b"32"
