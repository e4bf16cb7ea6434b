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
