import json
from pathlib import Path

import pytest

from common.errors import InputError
from common.workspace import FORMAT_VERSION, Workspace


def test_create_then_open(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    meta = json.loads(ws.meta.read_text())
    assert meta["format_version"] == FORMAT_VERSION
    before = ws.meta.read_bytes()
    Workspace.create(ws.root)  # never rewritten (DVC stages share it)
    assert ws.meta.read_bytes() == before
    assert Workspace.open(ws.root).edit("demo").results == ws.root / "edits" / "demo" / "results.parquet"


@pytest.mark.parametrize("meta, message", [
    ({"format": "oneedit-workspace", "format_version": 0}, "format version 0"),
    ({"format": "oneedit-workspace", "format_version": 99}, "format version 99"),
    ({"format": "something-else"}, "not a OneEdit workspace"),
])
def test_other_formats_fail_with_one_line(tmp_path: Path, meta: dict, message: str) -> None:
    (tmp_path / "workspace.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=message) as err:
        Workspace.open(tmp_path)
    assert "\n" not in str(err.value)


def test_missing_workspace_and_bad_edit_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a OneEdit workspace"):
        Workspace.open(tmp_path)
    ws = Workspace.create(tmp_path)
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(InputError, match="edit name"):
            ws.edit(bad)
