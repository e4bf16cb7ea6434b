"""Helpers the test modules share: the tiny params, the CLI's argument list, and the state of a folder's
files (to assert that a command touched nothing, or changed nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from common.storage import sha256_file

TINY = Path(__file__).parent / "flows" / "tiny_params.yaml"  # tiny models and budgets: minutes, not quality


def cli_args(command: str, *extra: str, workspace: Path | None = None, sets: Iterable[str] = (),
             params: Path = TINY) -> list[str]:
    """`oneedit COMMAND [--workspace WS] --params PARAMS --set S ... EXTRA` as an argument list."""
    where = ["--workspace", str(workspace)] if workspace is not None else []
    return [command, *where, "--params", str(params), *[a for s in sets for a in ("--set", s)], *extra]


def sha256(path: Path) -> str:
    """The file's sha256 (hex), by the project's one file hasher."""
    return sha256_file(path)


def file_stamps(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` with (inode, mtime_ns): a rewrite changes it; the lock file is not an output."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and p.name != ".lock"} if root.exists() else {}


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (the lock file is not an output)."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def output_lines(capfd: pytest.CaptureFixture) -> list[str]:
    """The non-blank lines printed to stdout and stderr since the last read."""
    out, err = capfd.readouterr()
    return [line for line in (out + err).splitlines() if line.strip()]
