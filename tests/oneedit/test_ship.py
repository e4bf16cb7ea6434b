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
