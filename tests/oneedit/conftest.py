"""The tiny projected workspace (tests/oneedit/tiny.py) and its edit e1, built once for the session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oneedit.cli import main
from tests.oneedit.tiny import build, edit_args
from tests.workspaces import Workspaces


@pytest.fixture(scope="session")
def tiny(workspaces: Workspaces) -> dict:
    return build(workspaces)


@pytest.fixture(scope="session")
def edited(tiny: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The projected workspace with edit e1 done (pair form, default params)."""
    ws = Path(shutil.copytree(tiny["ws"], tmp_path_factory.mktemp("edited") / "ws"))
    assert main(edit_args(tiny, ws)) == 0
    return ws
